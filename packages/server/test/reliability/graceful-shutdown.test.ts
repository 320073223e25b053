// Issue 15 item 4: SIGTERM to an `oapi-media serve` process during 64 in-flight uploads, a 15 MiB
// upload at 2 MB/s that fits in the grace and one that does not (0.5 MB/s). From the signal on
// /readyz answers 503 (also on a keep-alive connection opened before it) and answers carry
// Connection: close; the listener closes after the drain delay (new connections refused); every
// upload in flight that fits is answered 0; the one past the grace is cut and leaves nothing
// (no temp file, no row, no blob); the process exits 0 within the grace; after a restart every
// acknowledged upload is there with its sha256. Then the same through the `oapi-media` launcher
// (bin/oapi-media.js), which on Node 20 runs serve as its child: the signal reaches the server
// and its exit status comes back. The launcher runs the bundle, built first unless npm test
// already built it (OAPI_MEDIA_PREBUILT=1).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultAppCredentials } from '../helpers/cli.ts';
import { sampleOfSize } from '../fixtures/samples.ts';
import { downloadBytes, getToken, sha256 } from '../helpers/e2e-http.ts';
import { openSocket, readResponse, writeAndWait } from '../helpers/raw-http.ts';
import { auditDataFolder } from './helpers/data-audit.ts';
import { count, recordFigures } from './helpers/figures.ts';
import { answerOf, pacedUpload, type PacedUpload } from './helpers/paced-upload.ts';
import { MiB } from './helpers/process-probe.ts';
import { startServerProcess, type StartedServer } from './helpers/server-under-test.ts';

// The 15 MiB at 2 MB/s needs ~7 s after the signal and must be answered before the cut (3 s
// before the grace ends); the drain delay is long enough for a loaded machine to answer the
// kept-alive /readyz before it ends (idle connections are closed from then on).
const GRACE_MS = 15_000;
const DRAIN_DELAY_MS = 2_000;
const IN_FLIGHT = 64;
const SMALL_BYTES = 256 * 1024;
const SMALL_RATE = 128 * 1024; // 2 s of body each
const BIG_BYTES = 15 * MiB;
const FITS_RATE = 2_000_000; // 15 MiB at 2 MB/s: 7.9 s, inside the grace
const TOO_SLOW_RATE = 500_000; // 15 MiB at 0.5 MB/s: 31 s, past it

let dataDir: string;
const servers: StartedServer[] = [];
after(async () => {
  for (const server of servers) await server.process.stop('SIGKILL');
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves 'refused' when a TCP connect to `url` is refused, 'accepted' when it connects. */
function tryConnect(url: string): Promise<'refused' | 'accepted'> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => { socket.destroy(); resolve('accepted'); });
    socket.once('error', () => resolve('refused'));
  });
}

async function getOn(socket: import('node:net').Socket, path: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const answer = readResponse(socket, 5_000);
  answer.catch(() => {}); // a write that fails first rejects below; the read's own rejection is then moot
  await writeAndWait(socket, Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
  const response = await answer;
  return { status: response.status, headers: response.headers, body: response.body.toString('utf8') };
}

test('SIGTERM during 64 in-flight uploads: drained, finished within the grace, the one past it cut and leaving nothing, exit 0', { timeout: 90_000 }, async (t) => {
  dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-shutdown-'));
  const env = { OAPI_MEDIA_SHUTDOWN_GRACE_MS: String(GRACE_MS), OAPI_MEDIA_SHUTDOWN_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS), LOG_LEVEL: 'info' };
  const server = await startServerProcess(dataDir, env);
  servers.push(server);
  await server.startupCleanup;
  const { appKey, appSecret } = server.credentials!;
  const token = await getToken(server.url, appKey, appSecret);

  const keptAlive = await openSocket(server.url);
  keptAlive.on('error', () => {});
  assert.equal((await getOn(keptAlive, '/readyz')).status, 200, 'ready before the signal');

  const fits = await pacedUpload(server.url, { token, data: sampleOfSize('png', BIG_BYTES), filename: 'fits.png', bytesPerSecond: FITS_RATE });
  const tooSlow = await pacedUpload(server.url, { token, data: sampleOfSize('png', BIG_BYTES), filename: 'too-slow.png', bytesPerSecond: TOO_SLOW_RATE });
  const small: PacedUpload[] = await Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) =>
    pacedUpload(server.url, { token, data: sampleOfSize('png', SMALL_BYTES + i), filename: `small-${i}.png`, bytesPerSecond: SMALL_RATE })));
  await pause(500);
  const inFlight = [fits, tooSlow, ...small];
  const answeredBeforeSignal = (await Promise.all(inFlight.map((u) => Promise.race([u.outcome.then(() => true), pause(0).then(() => false)])))).filter(Boolean).length;
  assert.equal(answeredBeforeSignal, 0, 'every upload is in flight at the signal');

  const exited = once(server.process.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const signalledAt = performance.now();
  server.process.child.kill('SIGTERM');

  // From the signal on: 503 on the connection kept alive from before it, and on a new one (drain delay).
  let readyzOnKeptAlive: Awaited<ReturnType<typeof getOn>> | undefined;
  for (let i = 0; i < 50 && readyzOnKeptAlive?.status !== 503; i++) {
    await pause(10);
    try {
      readyzOnKeptAlive = await getOn(keptAlive, '/readyz');
    } catch (error) {
      // The server closes idle connections only after the drain delay: a close before a 503 is a failure.
      assert.fail(`the kept-alive connection failed ${Math.round(performance.now() - signalledAt)} ms after the signal, before a 503: ${(error as Error).message}`);
    }
  }
  const readyz503AfterMs = performance.now() - signalledAt;
  assert.equal(readyzOnKeptAlive?.status, 503, 'the kept-alive connection sees /readyz 503');
  assert.deepEqual(JSON.parse(readyzOnKeptAlive!.body), { status: 'draining', failing: [] });
  assert.equal(readyzOnKeptAlive!.headers.connection, 'close', 'a draining answer closes its connection');
  const fresh = await openSocket(server.url);
  const readyzOnNew = await getOn(fresh, '/readyz');
  fresh.destroy();
  assert.equal(readyzOnNew.status, 503, 'a new connection during the drain delay sees 503');

  // Then the listener closes: new connections are refused.
  let refusedAfterMs = Number.NaN;
  while (performance.now() - signalledAt < DRAIN_DELAY_MS + 3_000) {
    if ((await tryConnect(server.url)) === 'refused') {
      refusedAfterMs = performance.now() - signalledAt;
      break;
    }
    await pause(20);
  }
  assert.ok(refusedAfterMs >= DRAIN_DELAY_MS - 50 && refusedAfterMs < DRAIN_DELAY_MS + 2_000,
    `new connections refused ${Math.round(refusedAfterMs)} ms after the signal (drain delay ${DRAIN_DELAY_MS} ms)`);

  const [code, signal] = await exited;
  const exitAfterMs = performance.now() - signalledAt;
  const outcomes = await Promise.all(inFlight.map((u) => u.outcome));
  for (const u of inFlight) u.socket.destroy();
  keptAlive.destroy();
  assert.equal(code, 0, `exit code (signal ${signal}): ${server.stderrTail()}`);
  assert.ok(exitAfterMs <= GRACE_MS, `exited ${Math.round(exitAfterMs)} ms after SIGTERM (grace ${GRACE_MS} ms)`);

  const acknowledged: Array<{ mediaId: string; data: Buffer }> = [];
  let fitsAnsweredAfterMs = Number.NaN;
  let lastAnsweredAfterMs = 0;
  for (const [i, outcome] of outcomes.entries()) {
    const upload = inFlight[i]!;
    if (upload === tooSlow) {
      assert.ok('error' in outcome, `the upload slower than the grace was answered: ${'response' in outcome ? outcome.response.body : ''}`);
      continue;
    }
    assert.ok('response' in outcome, `upload ${i} was not answered: ${'error' in outcome ? outcome.error.message : ''}`);
    const answer = answerOf(outcome.response);
    assert.equal(answer.errcode, 0, `upload ${i}: ${JSON.stringify(answer)}`);
    assert.equal(outcome.response.headers.connection, 'close', `upload ${i}'s answer during the drain closes its connection`);
    acknowledged.push({ mediaId: answer.media_id!, data: upload.data });
    const answeredAfterMs = upload.startedAt + outcome.at - signalledAt;
    lastAnsweredAfterMs = Math.max(lastAnsweredAfterMs, answeredAfterMs);
    if (upload === fits) fitsAnsweredAfterMs = answeredAfterMs;
  }
  const tooSlowOutcome = outcomes[1]!;
  const cutAfterMs = tooSlow.startedAt + tooSlowOutcome.at - signalledAt;

  // Left behind by the cut one: nothing. Audited before the restart (which would sweep temp files).
  const audit = await auditDataFolder(dataDir);
  assert.deepEqual(audit.staged, [], 'DATA/tmp empty after the exit');
  assert.equal(audit.rows, acknowledged.length, 'one row per acknowledged upload, none for the cut one');
  assert.deepEqual([audit.orphans, audit.missing, audit.corrupt, audit.integrity], [[], [], [], 'ok']);

  const restarted = await startServerProcess(dataDir, env);
  servers.push(restarted);
  const cleanup = await restarted.startupCleanup;
  assert.deepEqual(cleanup, { leftovers: 0, orphansRemoved: 0 }, 'the restart found nothing to clean up');
  const token2 = await getToken(restarted.url, appKey, appSecret);
  for (const { mediaId, data } of acknowledged) {
    const { bytes } = await downloadBytes(restarted.url, token2, mediaId);
    assert.equal(sha256(bytes), sha256(data), `${mediaId} after the restart`);
  }
  await restarted.process.stop('SIGTERM');

  t.diagnostic(`readyz 503 after ${Math.round(readyz503AfterMs)} ms, refused after ${Math.round(refusedAfterMs)} ms, 15 MiB@2MB/s answered ${Math.round(fitsAnsweredAfterMs)} ms, last answered ${Math.round(lastAnsweredAfterMs)} ms, cut ${Math.round(cutAfterMs)} ms, exit ${Math.round(exitAfterMs)} ms`);
  await recordFigures({
    id: 'faults/graceful-shutdown',
    section: 'Faults',
    title: `SIGTERM during ${IN_FLIGHT} in-flight uploads (256 KiB at 128 KiB/s), a 15 MiB upload at 2 MB/s and one at 0.5 MB/s (past the grace); grace ${GRACE_MS / 1000} s, drain delay ${DRAIN_DELAY_MS / 1000} s`,
    variant: 'default',
    summary: `/readyz 503 after ${Math.round(readyz503AfterMs)} ms (kept-alive connection), new connections refused after ${Math.round(refusedAfterMs)} ms; ` +
      `${count(acknowledged.length)} in-flight uploads answered 0 (the 15 MiB at 2 MB/s ${(fitsAnsweredAfterMs / 1000).toFixed(1)} s after the signal), the one past the grace cut at ${(cutAfterMs / 1000).toFixed(1)} s leaving 0 temp files, 0 rows, 0 blobs; ` +
      `exit 0 after ${(exitAfterMs / 1000).toFixed(1)} s; after a restart ${count(acknowledged.length)}/${count(acknowledged.length)} sha256 match`,
    figures: {
      inFlight: inFlight.length, acknowledged: acknowledged.length, graceMs: GRACE_MS, drainDelayMs: DRAIN_DELAY_MS,
      readyz503AfterMs: Math.round(readyz503AfterMs), refusedAfterMs: Math.round(refusedAfterMs),
      fitsAnsweredAfterMs: Math.round(fitsAnsweredAfterMs), cutAfterMs: Math.round(cutAfterMs), exitAfterMs: Math.round(exitAfterMs), exitCode: code ?? -1,
      tmpFilesAfter: audit.staged.length, orphansAfter: audit.orphans.length, rowsAfter: audit.rows,
      restartLeftovers: cleanup.leftovers, restartOrphansRemoved: cleanup.orphansRemoved, sha256Matches: acknowledged.length,
    },
  });
});

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

test('through the oapi-media launcher: SIGTERM reaches the server, an upload in flight is answered 0, the launcher exits 0', { timeout: 60_000 }, async () => {
  if (process.env.OAPI_MEDIA_PREBUILT !== '1') execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs'), 'server'], { stdio: 'inherit' });
  const folder = await mkdtemp(join(tmpdir(), 'oapi-media-shutdown-bin-'));
  // Started without the serve node flags: the launcher runs the server as its child (no execve on Node 20).
  const launcher = spawn(process.execPath, [join(REPO_ROOT, 'packages/server/bin/oapi-media.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--data', folder], {
    env: { ...process.env, LOG_LEVEL: 'info', OAPI_MEDIA_SHUTDOWN_GRACE_MS: '10000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within 30 s: ${output}`)), 30_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString('utf8');
        const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
        if (found && /"msg":"orphan sweep done"/.test(output)) {
          clearTimeout(timer);
          resolve(found);
        }
      };
      launcher.stdout!.on('data', onData);
      launcher.stderr!.on('data', onData);
      launcher.once('exit', (code) => reject(new Error(`launcher exited ${code}: ${output}`)));
    });
    const serverPid = Number(/"pid":(\d+)/.exec(output)?.[1]);
    assert.ok(serverPid > 0 && serverPid !== launcher.pid, `the server is the launcher's child (pid ${serverPid}, launcher ${launcher.pid})`);
    const { appKey, appSecret } = await defaultAppCredentials(folder);
    const token = await getToken(url, appKey, appSecret);
    const data = sampleOfSize('png', 4 * MiB);
    const inFlight = await pacedUpload(url, { token, data, filename: 'through-launcher.png', bytesPerSecond: FITS_RATE });
    await pause(300);
    const exited = once(launcher, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    launcher.kill('SIGTERM');
    const outcome = await inFlight.outcome;
    inFlight.socket.destroy();
    assert.ok('response' in outcome, `the upload in flight was cut: ${'error' in outcome ? outcome.error.message : ''}`);
    assert.equal(answerOf(outcome.response).errcode, 0);
    const [code, signal] = await exited;
    assert.equal(code, 0, `launcher exit (signal ${signal}): ${output.slice(-2000)}`);
    assert.throws(() => process.kill(serverPid, 0), 'the server process is gone with its launcher');
    assert.match(output, /"signal":"SIGTERM"[^\n]*"msg":"shutting down"/, 'the server itself logged the signal');
  } finally {
    if (launcher.exitCode === null && launcher.signalCode === null) launcher.kill('SIGKILL');
    await rm(folder, { recursive: true, force: true });
  }
});
