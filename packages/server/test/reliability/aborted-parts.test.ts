// A client that goes away inside any part of a form must not take the server down: busboy errors
// the stream of the part in flight, and an unheard stream error ends the process (found by
// client-faults.test.ts: one aborted request with an extra file part killed the server).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sampleOfSize } from '../fixtures/samples.ts';
import { stagingFiles } from '../helpers/data-folder.ts';
import { getToken } from '../helpers/e2e-http.ts';
import { openSocket } from '../helpers/raw-http.ts';
import { startServerProcess, type StartedServer } from './helpers/server-under-test.ts';

let dataDir: string;
let server: StartedServer;
let token: string;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-aborted-parts-'));
  server = await startServerProcess(dataDir, { LOG_LEVEL: 'warn' });
  token = await getToken(server.url, server.credentials!.appKey, server.credentials!.appSecret);
});
after(async () => {
  await server?.process.stop('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

const BOUNDARY = 'xAbortedPartsBoundary';
const partHead = (name: string, filename: string) =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
const png = sampleOfSize('png', 64 * 1024);

const CASES: Record<string, Buffer> = {
  'inside an extra file part before the media part': Buffer.concat([Buffer.from(partHead('attachment', 'x.bin')), Buffer.alloc(20_000, 7)]),
  'inside a second media part after the first': Buffer.concat([
    Buffer.from(partHead('media', 'a.png')), png, Buffer.from('\r\n'), Buffer.from(partHead('media', 'b.png')), png.subarray(0, 20_000),
  ]),
  'inside the media part': Buffer.concat([Buffer.from(partHead('media', 'a.png')), png.subarray(0, 20_000)]),
  'right after the media part header': Buffer.from(partHead('media', 'a.png')),
};

for (const [where, sent] of Object.entries(CASES)) {
  for (const reset of [false, true]) {
    test(`a client gone ${where} (${reset ? 'RST' : 'FIN'}) -> the server lives on, DATA/tmp empty`, async () => {
      const socket = await openSocket(server.url);
      socket.on('error', () => {});
      socket.write(`POST /media/upload?access_token=${token}&type=image HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Content-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: 1000000\r\n\r\n`);
      socket.write(sent);
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const health = await fetch(`${server.url}/healthz`).then((r) => r.status, (e: Error) => e.message);
      assert.equal(health, 200, `server alive (exit ${server.process.child.exitCode}): ${server.stderrTail().slice(0, 500)}`);
      assert.deepEqual(await stagingFiles(dataDir), []);
    });
  }
}
