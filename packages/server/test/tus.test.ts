// tus 1.0 at /tus/files (api.md "Large files", issue 18) against a real listening server:
// tus-js-client, unchanged, uploads in several PATCHes and with creation-with-upload; the media_id
// comes in Oapi-Media-Id on the final PATCH and on HEAD; the bytes download byte-exact from
// /file/download. Then the protocol by hand: OPTIONS, Tus-Resumable, tokens, offsets, checksums,
// termination, another organization's upload, and a resume from the offset HEAD reports. Last, a
// real server process killed with kill -9 in the middle of a PATCH: restarted on the same data
// folder (and engines), HEAD answers the offset of the acknowledged PATCHes and the upload ends there.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP, kill -9, the operator CLI and the data folder).

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tus from 'tus-js-client';
import { assertNothingStored, blobFiles, stagingFiles, storedState } from './helpers/data-folder.ts';
import { testEngines } from './helpers/engines.ts';
import { getToken, sha256 } from './helpers/e2e-http.ts';
import { largeFileUrl } from './helpers/large-files.ts';
import { operatorEnv } from './helpers/operator-env.ts';
import { spawnServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';
import { sampleOfSize } from './fixtures/samples.ts';

const MiB = 1024 * 1024;

let server: TestServer;
let token: string;
let endpoint: string;

before(async () => {
  server = await startTestServer();
  token = await getToken(server.baseUrl, server.appKey, server.appSecret);
  endpoint = `${server.baseUrl}/tus/files`;
});
after(async () => {
  await server.close();
});

/** Uploads with tus-js-client; resolves with the final response's media_id header and the upload URL. */
export function tusUpload(url: string, accessToken: string, data: Buffer, options: Partial<tus.UploadOptions> = {}): Promise<{ mediaId: string | undefined; uploadUrl: string }> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(data, {
      endpoint: url,
      headers: { Authorization: `Bearer ${accessToken}` },
      metadata: { filename: 'movie.bin', type: 'file' },
      retryDelays: [],
      ...options,
      onError: reject,
      onSuccess: ({ lastResponse }) => resolve({ mediaId: lastResponse.getHeader('oapi-media-id'), uploadUrl: upload.url! }),
    });
    upload.start();
  });
}

async function download(mediaId: string): Promise<Buffer> {
  const response = await fetch(largeFileUrl(server.baseUrl, token, mediaId));
  assert.equal(response.status, 200);
  return Buffer.from(await response.arrayBuffer());
}

const tusFetch = (url: string, init: RequestInit & { headers?: Record<string, string> } = {}, bearer = token) =>
  fetch(url, { ...init, headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${bearer}`, ...init.headers } });

async function create(length: number, metadata = 'filename bS5iaW4='): Promise<string> {
  const response = await tusFetch(endpoint, { method: 'POST', headers: { 'upload-length': String(length), 'upload-metadata': metadata } });
  assert.equal(response.status, 201, await response.text());
  return new URL(response.headers.get('location')!, endpoint).toString();
}

const patch = (url: string, offset: number, body: Buffer, headers: Record<string, string> = {}) => tusFetch(url, {
  method: 'PATCH', body: new Uint8Array(body), headers: { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), ...headers },
});

async function waitUntil(condition: () => Promise<boolean>, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (!(await condition())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

/** A PATCH of `body` at `offset` whose first `sent` bytes are written, the rest never: it stays open. */
function halfSentPatch(url: string, bearer: string, offset: number, body: Buffer, sent: number, headers: Record<string, string> = {}): { outcome: Promise<unknown>; abort(): void } {
  const request = httpRequest(url, {
    method: 'PATCH',
    headers: {
      'tus-resumable': '1.0.0', authorization: `Bearer ${bearer}`, 'content-type': 'application/offset+octet-stream',
      'upload-offset': String(offset), 'content-length': body.length, ...headers,
    },
  });
  // Settles with the error the kill gives it (or an answer, which would fail the test below).
  const outcome = new Promise((resolve) => {
    request.on('response', (response) => { response.resume(); resolve(response.statusCode); });
    request.on('error', resolve);
  });
  request.write(body.subarray(0, sent));
  return { outcome, abort: () => request.destroy() };
}

describe('tus with tus-js-client', () => {
  test('12 MiB in 4 MiB PATCHes: the final PATCH and HEAD answer the media_id; the bytes round-trip', async () => {
    const data = randomBytes(12 * MiB);
    const { mediaId, uploadUrl } = await tusUpload(endpoint, token, data, { chunkSize: 4 * MiB });
    assert.match(mediaId ?? '', /^#[A-Za-z0-9_-]{16,64}$/);
    const head = await tusFetch(uploadUrl, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('oapi-media-id'), mediaId);
    assert.equal(head.headers.get('upload-offset'), String(data.length));
    // GET answers the same as JSON, for clients that cannot read headers.
    const status = await tusFetch(uploadUrl, { method: 'GET' });
    assert.equal(status.status, 200);
    assert.deepEqual(await status.json(), { errcode: 0, errmsg: 'ok', offset: data.length, length: data.length, complete: true, media_id: mediaId, expires_at: null });
    assert.equal(sha256(await download(mediaId!)), sha256(data));
  });

  test('creation-with-upload, a whole file in the POST; the PDF is sniffed', async () => {
    const pdf = sampleOfSize('pdf', 64 * 1024);
    const { mediaId } = await tusUpload(endpoint, token, pdf, { uploadDataDuringCreation: true, metadata: { filename: 'r.pdf', type: 'file' } });
    assert.ok(mediaId);
    const response = await fetch(largeFileUrl(server.baseUrl, token, mediaId));
    assert.equal(response.headers.get('content-type'), 'application/pdf');
    assert.equal(sha256(Buffer.from(await response.arrayBuffer())), sha256(pdf));
  });

  test('a resumed upload: tus-js-client continues from the offset HEAD reports', async () => {
    const data = randomBytes(3 * MiB);
    const url = await create(data.length);
    assert.equal((await patch(url, 0, data.subarray(0, MiB))).status, 204);
    const { mediaId } = await tusUpload(endpoint, token, data, { uploadUrl: url, chunkSize: MiB });
    assert.ok(mediaId);
    assert.equal(sha256(await download(mediaId)), sha256(data));
  });
});

describe('tus by hand: each refusal has its status and changes nothing', () => {
  test('OPTIONS advertises the version, extensions and checksums', async () => {
    const response = await fetch(endpoint, { method: 'OPTIONS' });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('tus-version'), '1.0.0');
    assert.equal(response.headers.get('tus-extension'), 'creation,creation-with-upload,termination,expiration,checksum');
    assert.match(response.headers.get('tus-checksum-algorithm') ?? '', /sha1/);
  });

  test('creation', async () => {
    const before = await storedState(server);
    const post = (headers: Record<string, string>, bearer = token) => tusFetch(endpoint, { method: 'POST', headers }, bearer);
    assert.equal((await fetch(endpoint, { method: 'POST', headers: { 'upload-length': '10', authorization: `Bearer ${token}` } })).status, 412);
    assert.equal((await post({ 'upload-length': '10' }, 'bad')).status, 401);
    const missing = await post({});
    assert.equal(missing.status, 400);
    assert.equal(((await missing.json()) as { errcode: number }).errcode, 40035);
    assert.equal((await post({ 'upload-length': 'x' })).status, 413);
    const tooLarge = await post({ 'upload-length': String(5 * 1024 ** 3) });
    assert.equal(tooLarge.status, 413);
    assert.equal(((await tooLarge.json()) as { errcode: number }).errcode, 40006);
    assert.equal((await post({ 'upload-length': '10', 'upload-metadata': 'type cGljdHVyZQ==' })).status, 400, 'type "picture"');
    assert.equal((await post({ 'upload-length': '10', 'upload-metadata': 'bad metadata here' })).status, 400);
    await assertNothingStored(server, before);
  });

  test('PATCH: offsets, checksums, length, content type; HEAD and DELETE', async () => {
    const data = randomBytes(200 * 1024);
    const url = await create(data.length);
    const before = await storedState(server);
    const conflict = await patch(url, 5, data);
    assert.equal(conflict.status, 409);
    assert.equal(((await conflict.json()) as { errcode: number }).errcode, 45025);
    const wrongSum = await patch(url, 0, data.subarray(0, 1000), { 'upload-checksum': `sha1 ${createHash('sha1').update('other').digest('base64')}` });
    assert.equal(wrongSum.status, 460);
    assert.equal(((await wrongSum.json()) as { errcode: number }).errcode, 45024);
    assert.equal((await patch(url, 0, data.subarray(0, 10), { 'upload-checksum': 'crc32 AAAA' })).status, 400);
    assert.equal((await patch(url, 0, Buffer.concat([data, Buffer.from('x')]))).status, 413, 'past Upload-Length');
    assert.equal((await tusFetch(url, { method: 'PATCH', body: 'x', headers: { 'content-type': 'text/plain', 'upload-offset': '0' } })).status, 415);
    const other = await server.createApp('tus-other-org');
    const otherToken = await getToken(server.baseUrl, other.appKey, other.appSecret);
    assert.equal((await patch(url, 0, data.subarray(0, 10), {}).then(() => tusFetch(url, { method: 'HEAD' }, otherToken))).status, 404, 'another organization\'s upload');
    // The patch just above (10 bytes, right offset) was accepted: the offset moved.
    const head = await tusFetch(url, { method: 'HEAD' });
    assert.equal(head.headers.get('upload-offset'), '10');
    assert.equal(head.headers.get('upload-length'), String(data.length));
    assert.equal(head.headers.get('upload-metadata'), 'filename bS5iaW4=');
    assert.ok(head.headers.get('upload-expires'));
    const inProgress = await (await tusFetch(url, { method: 'GET' })).json() as Record<string, unknown>;
    assert.deepEqual({ ...inProgress, expires_at: typeof inProgress.expires_at }, { errcode: 0, errmsg: 'ok', offset: 10, length: data.length, complete: false, media_id: null, expires_at: 'number' });
    assert.equal((await tusFetch(url, { method: 'GET' }, otherToken)).status, 404, 'another organization\'s upload, by GET too');
    const rightSum = await patch(url, 10, data.subarray(10, 1000), { 'upload-checksum': `sha1 ${createHash('sha1').update(data.subarray(10, 1000)).digest('base64')}` });
    assert.equal(rightSum.status, 204);
    assert.equal(rightSum.headers.get('upload-offset'), '1000');
    assert.equal((await tusFetch(url, { method: 'DELETE' }, otherToken)).status, 404);
    assert.equal((await tusFetch(url, { method: 'DELETE' })).status, 204);
    assert.equal((await tusFetch(url, { method: 'HEAD' })).status, 404);
    assert.equal((await patch(url, 1000, data.subarray(1000))).status, 404);
    await assertNothingStored(server, before);
  });

  test('a completed upload whose bytes are not its type\'s format is refused (415) and stores no media', async () => {
    const data = randomBytes(1000);
    const url = await create(data.length, `type ${Buffer.from('image').toString('base64')}`);
    const before = await storedState(server);
    const refused = await patch(url, 0, data);
    assert.equal(refused.status, 415);
    assert.equal(((await refused.json()) as { errcode: number }).errcode, 40005);
    assert.deepEqual((await storedState(server)).rows, before.rows);
    assert.equal((await tusFetch(url, { method: 'DELETE' })).status, 204);
  });

  /** Where the server writes a PATCH: in place into the session's file on disk; a staged .part file per PATCH on S3. */
  const inPlace = process.env.TEST_STORAGE_URL === undefined;
  const sessionFile = (url: string) => join(server.dataDir, 'tmp', `${url.split('/').pop()}.session`);
  const fileSize = async (path: string) => (await stat(path).catch(() => null))?.size ?? -1;
  const partFiles = async () => (await stagingFiles(server.dataDir)).filter((name) => name.endsWith('.part'));
  const offsetOf = async (url: string) => Number((await tusFetch(url, { method: 'HEAD' })).headers.get('upload-offset'));

  // tus: "the Server SHOULD always attempt to store as much of the received data as possible".
  test('a PATCH cut off by its client keeps what arrived (on disk); the upload resumes from there byte-exact', async () => {
    const data = randomBytes(3 * MiB);
    const url = await create(data.length);
    const cut = halfSentPatch(url, token, 0, data, MiB);
    const arrived = inPlace ? async () => (await fileSize(sessionFile(url))) === MiB : async () => (await partFiles()).length > 0;
    assert.ok(await waitUntil(arrived, 5_000), 'the server received the first MiB');
    cut.abort();
    await cut.outcome;
    // On S3 a PATCH is one chunk blob, kept whole or not at all: nothing of the cut one counts.
    const kept = inPlace ? MiB : 0;
    assert.ok(await waitUntil(async () => (await offsetOf(url)) === kept && (await partFiles()).length === 0, 5_000), `HEAD says ${await offsetOf(url)}, not ${kept}`);
    const rest = await patch(url, kept, data.subarray(kept));
    assert.equal(rest.status, 204, await rest.text());
    assert.equal(sha256(await download(rest.headers.get('oapi-media-id')!)), sha256(data));
    assert.deepEqual(await stagingFiles(server.dataDir), [], 'the session file went with the commit');
  });

  test('a PATCH with Upload-Checksum cut off by its client keeps nothing (the checksum covers the whole PATCH)', async () => {
    const data = randomBytes(3 * MiB);
    const url = await create(data.length);
    const cut = halfSentPatch(url, token, 0, data, MiB, { 'upload-checksum': `sha1 ${createHash('sha1').update(data).digest('base64')}` });
    const arrived = inPlace ? async () => (await fileSize(sessionFile(url))) === MiB : async () => (await partFiles()).length > 0;
    assert.ok(await waitUntil(arrived, 5_000), 'the server received the first MiB');
    cut.abort();
    await cut.outcome;
    assert.ok(await waitUntil(async () => (await partFiles()).length === 0, 5_000));
    assert.equal(await offsetOf(url), 0);
    const whole = await patch(url, 0, data);
    assert.equal(whole.status, 204, await whole.text());
    assert.equal(sha256(await download(whole.headers.get('oapi-media-id')!)), sha256(data));
  });

  test('two PATCHes at the same offset at once: one is taken, the other answers 409; the upload holds the taken bytes', async () => {
    const [first, second, rest] = [randomBytes(MiB), randomBytes(MiB), randomBytes(MiB)];
    const url = await create(2 * MiB);
    const answers = await Promise.all([patch(url, 0, first), patch(url, 0, second)]);
    assert.deepEqual(answers.map((answer) => answer.status).sort(), [204, 409]);
    const loser = answers.find((answer) => answer.status === 409)!;
    assert.equal(((await loser.json()) as { errcode: number }).errcode, 45025);
    const taken = answers[0]!.status === 204 ? first : second;
    const done = await patch(url, MiB, rest);
    assert.equal(done.status, 204, await done.text());
    assert.equal(sha256(await download(done.headers.get('oapi-media-id')!)), sha256(Buffer.concat([taken, rest])));
  });
});

describe('tus across kill -9 of a real server process', () => {
  const data = randomBytes(6 * MiB);
  const acknowledged = 2 * MiB;

  test(`6 MiB: 2 MiB acknowledged, a PATCH killed half-way; after the restart HEAD says ${acknowledged}, the rest completes it byte-exact`, { timeout: 90_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-tus-crash-'));
    // The engines the run selects (embedded, or PostgreSQL + S3 under scripts/test-engines.mjs), kept across the restart.
    const engines = testEngines();
    const env = operatorEnv({ dataDir, ...engines.config });
    let running: ServerProcess | undefined;
    try {
      running = await spawnServerProcess({ env });
      const first = running;
      assert.ok(first.appKey && first.appSecret, 'first start: the default app');
      const firstToken = await getToken(first.baseUrl, first.appKey, first.appSecret);
      const created = await tusFetch(`${first.baseUrl}/tus/files`, {
        method: 'POST', headers: { 'upload-length': String(data.length), 'upload-metadata': `filename ${Buffer.from('crash.bin').toString('base64')}` },
      }, firstToken);
      assert.equal(created.status, 201, await created.text());
      const path = created.headers.get('location')!;
      const firstPatch = await tusFetch(`${first.baseUrl}${path}`, {
        method: 'PATCH', body: new Uint8Array(data.subarray(0, acknowledged)),
        headers: { 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
      }, firstToken);
      assert.equal(firstPatch.status, 204);
      assert.equal(firstPatch.headers.get('upload-offset'), String(acknowledged));

      const cut = halfSentPatch(`${first.baseUrl}${path}`, firstToken, acknowledged, data.subarray(acknowledged, acknowledged + 2 * MiB), MiB);
      // On disk the PATCHes go in place into the session's file; on S3 each is staged in a .part file first.
      const sessionFile = join(dataDir, 'tmp', `${path.split('/').pop()}.session`);
      const receiving = async () => (await stagingFiles(dataDir)).some((name) => name.endsWith('.part'))
        || ((await stat(sessionFile).catch(() => null))?.size ?? 0) > acknowledged;
      assert.ok(await waitUntil(receiving, 5_000), 'the server was receiving the second PATCH');
      await first.killHard();
      const outcome = await cut.outcome;
      assert.ok(outcome instanceof Error, `the half-sent PATCH got no answer, only the cut connection (got ${String(outcome)})`);

      running = await spawnServerProcess({ env });
      const second = running;
      assert.deepEqual((await stagingFiles(dataDir)).filter((name) => name.endsWith('.part')), [], 'the restart removed the killed PATCH\'s temp file');
      const url = `${second.baseUrl}${path}`;
      // The token issued before the kill still works after it.
      const head = await tusFetch(url, { method: 'HEAD' }, firstToken);
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('upload-offset'), String(acknowledged), 'exactly what was acknowledged: the cut PATCH left nothing');
      assert.equal(head.headers.get('upload-length'), String(data.length));
      const offset = Number(head.headers.get('upload-offset'));

      const stale = await tusFetch(url, {
        method: 'PATCH', body: new Uint8Array(data.subarray(acknowledged + MiB)),
        headers: { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(acknowledged + MiB) },
      }, firstToken);
      assert.equal(stale.status, 409, 'resuming past the reported offset (where the cut PATCH stood) is refused');
      assert.equal(((await stale.json()) as { errcode: number }).errcode, 45025);

      const rest = await tusFetch(url, {
        method: 'PATCH', body: new Uint8Array(data.subarray(offset)),
        headers: { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset) },
      }, firstToken);
      assert.equal(rest.status, 204, await rest.text());
      assert.equal(rest.headers.get('upload-offset'), String(data.length));
      const mediaId = rest.headers.get('oapi-media-id');
      assert.match(mediaId ?? '', /^#[A-Za-z0-9_-]{16,64}$/);

      const download = await fetch(largeFileUrl(second.baseUrl, firstToken, mediaId!));
      assert.equal(download.status, 200);
      assert.equal(sha256(Buffer.from(await download.arrayBuffer())), sha256(data));
      if (engines.config.databaseUrl !== undefined) {
        await assert.rejects(stat(join(dataDir, 'meta.sqlite')), { code: 'ENOENT' }, 'the run\'s PostgreSQL held the session, not an embedded database');
      }
      if (engines.config.storageUrl === undefined) {
        // The chunk blobs went with the commit: one blob file, the media's.
        assert.ok(await waitUntil(async () => (await blobFiles(dataDir)).length === 1, 5_000), `blob files: ${(await blobFiles(dataDir)).join(', ')}`);
      }
      assert.deepEqual(await stagingFiles(dataDir), [], 'the session file went with the commit');
      await second.stop();
      running = undefined;
    } finally {
      await running?.killHard();
      await engines.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
