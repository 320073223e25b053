// A form part in a charset busboy cannot decode (found by multipart-fuzz.test.ts: a `media` field
// part with `Content-Type: text/plain; charset=utf-16` ended the server process with a TypeError).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stagingFiles } from '../helpers/data-folder.ts';
import { getToken } from '../helpers/e2e-http.ts';
import { startServerProcess, type StartedServer } from './helpers/server-under-test.ts';

let dataDir: string;
let server: StartedServer;
let token: string;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-undecodable-'));
  server = await startServerProcess(dataDir, { LOG_LEVEL: 'warn' });
  token = await getToken(server.url, server.credentials!.appKey, server.credentials!.appSecret);
});
after(async () => {
  await server?.process.stop('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

const B = 'undecodableBoundary';
const textPart = (name: string, charset: string, value: string) =>
  `--${B}\r\nContent-Disposition: form-data; name="${name}"\r\nContent-Type: text/plain; charset=${charset}\r\n\r\n${value}\r\n`;

const CASES: [string, string, number][] = [
  ['the media part as text in charset=utf-16', textPart('media', 'utf-16', 'GIF89a'), 40005],
  ['the media part as text in charset=x-unknown', textPart('media', 'x-unknown', 'GIF89a'), 40005],
  ['the type field in charset=x-unknown, no media', textPart('type', 'x-unknown', 'image'), 41005],
  // Found by the fuzzer: a second media text part in the same chunk, after the form had already
  // failed, was staged and never removed (a temp file left in DATA/tmp).
  ['the media part in charset=x-unknown, then a second media text part', textPart('media', 'x-unknown', 'GIF89a') + textPart('media', 'latin1', 'GIF89a'), 40005],
];

for (const [what, part, errcode] of CASES) {
  test(`${what} -> ${errcode}, the server lives on, DATA/tmp empty`, async () => {
    const response = await fetch(`${server.url}/media/upload?access_token=${token}&type=image`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${B}` },
      body: `${part}--${B}--\r\n`,
    }).then((r) => r.json() as Promise<{ errcode: number }>, (e: Error) => ({ errcode: e.message }));
    assert.equal((await fetch(`${server.url}/healthz`).then((r) => r.status, () => 'dead')), 200, server.stderrTail().slice(0, 800));
    assert.equal(response.errcode, errcode);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a stager still running would show by now
    assert.deepEqual(await stagingFiles(dataDir), []);
  });
}
