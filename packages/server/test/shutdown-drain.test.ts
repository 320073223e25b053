// Issue 15 item 4 in-process: what a draining node answers (http/draining.ts), and close() on a
// server with no drain delay (the default): the listener is gone at once, an upload stalled
// mid-body is cut before the grace ends and leaves nothing. The drill against a real process
// (64 uploads, drain delay, restart, the launcher) is reliability/graceful-shutdown.test.ts.
// TEST_SERVER=emulator: not, the server's graceful shutdown: an emulator's close() cuts at once.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { buildApp } from '../src/app.ts';
import { openServices } from '../src/composition-root.ts';
import { loadConfig } from '../src/config.ts';
import { DrainState } from '../src/http/draining.ts';
import { sampleOfSize } from './fixtures/samples.ts';
import { stagingFiles } from './helpers/data-folder.ts';
import { tokenOf } from './helpers/e2e-http.ts';
import { startTestServer } from './helpers/test-server.ts';
import { pacedUpload } from './reliability/helpers/paced-upload.ts';

test('draining: /readyz 503 and Connection: close at once; once the listener closed, API calls get -1 in DingTalk\'s shape; /healthz still 200', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-drain-'));
  const services = await openServices(loadConfig({ dataDir, logLevel: 'silent', databaseUrl: undefined, storageUrl: undefined }, {}));
  const drain = new DrainState();
  const app = await buildApp(services, { logger: pino({ level: 'silent' }), drain });
  try {
    const ready = await app.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.notEqual(ready.headers.connection, 'close');

    drain.begin();
    const draining = await app.inject({ url: '/readyz' });
    assert.deepEqual([draining.statusCode, draining.json(), draining.headers.connection], [503, { status: 'draining', failing: [] }, 'close']);
    const served = await app.inject({ url: '/gettoken?appkey=nope&appsecret=nope' });
    assert.equal(served.json().errcode, 40096, 'during the drain delay API calls are still served');
    assert.equal(served.headers.connection, 'close');

    drain.closeListener();
    const refused = await app.inject({ url: '/gettoken?appkey=nope&appsecret=nope' });
    assert.equal(refused.statusCode, 200);
    assert.deepEqual([refused.json().errcode, refused.json().errmsg, refused.headers.connection], [-1, '系统繁忙', 'close']);
    assert.equal(typeof refused.json().request_id, 'string');
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 503);
  } finally {
    await app.close();
    await services.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('close() with no drain delay: new connections refused at once, a stalled upload cut before the grace ends, nothing left', async () => {
  const graceMs = 1_500;
  const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-drain-'));
  const server = await startTestServer({ dataDir, config: { databaseUrl: undefined, storageUrl: undefined, shutdownGraceMs: graceMs } });
  const token = await tokenOf(server);
  const stalled = await pacedUpload(server.baseUrl, { token, data: sampleOfSize('png', 1024 * 1024), filename: 'stalled.png', bytesPerSecond: 400_000 });
  await new Promise((resolve) => setTimeout(resolve, 400)); // past 64 KiB: staged in a temp file (not inline)
  stalled.stop(); // the client goes silent mid-body
  assert.ok((await stagingFiles(server.dataDir)).length === 1, 'the upload is being staged');
  const { port } = new URL(server.baseUrl);
  const startedAt = performance.now();
  const closing = server.server.close();
  const refused = await new Promise<boolean>((resolve) => {
    const probe = (): void => {
      const socket = connect({ host: '127.0.0.1', port: Number(port) });
      socket.once('connect', () => { socket.destroy(); setTimeout(probe, 5); });
      socket.once('error', () => resolve(true));
    };
    probe();
  });
  const refusedAfterMs = performance.now() - startedAt;
  await closing;
  const closedAfterMs = performance.now() - startedAt;
  const outcome = await stalled.outcome;
  stalled.socket.destroy();
  try {
    assert.ok(refused && refusedAfterMs < 200, `new connections refused after ${Math.round(refusedAfterMs)} ms`);
    assert.ok('error' in outcome, 'the stalled upload was cut, not answered');
    // Cut 3 s before the grace ends, a quarter of it when shorter (server.ts): here at 1,125 ms.
    assert.ok(closedAfterMs >= graceMs * 0.75 - 50 && closedAfterMs <= graceMs, `closed after ${Math.round(closedAfterMs)} ms (grace ${graceMs} ms)`);
    assert.deepEqual(await stagingFiles(server.dataDir), [], 'the cut upload removed its temp file before close() returned');
    assert.equal(server.server.services.inFlight.count, 0, 'no upload still under way once the stores closed');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
