// A crash at any moment leaves no half-written media visible, and a restart cleans what it left
// (issue 3; api.md "visible only once completely and durably stored"): leftover temp files go at
// start, orphan blobs go in the start-up sweep, and stored media survive byte for byte.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP, kill -9, the operator CLI and the data folder).
// TEST_SERVER=emulator: not, restarts and kill -9 on a data folder: an emulator keeps none to restart on.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { sample, sampleOfSize } from './fixtures/samples.ts';
import { assertNothingStored, blobFiles, mediaIds, stagingFiles, storedState } from './helpers/data-folder.ts';
import { downloadBytes, getToken, jsonAnswerOf, multipartBody, sha256, tokenOf, upload, type UploadAnswer } from './helpers/e2e-http.ts';
import { httpChunk, openSocket, writeAndWait } from './helpers/raw-http.ts';
import { spawnServerProcess } from './helpers/server-process.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './helpers/test-server.ts';

const MiB = 1024 * 1024;

const dataDirs: string[] = [];
async function newDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-media-crash-'));
  dataDirs.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** The embedded default (SQLite + disk) on `dataDir`, whatever a second CI configuration selects. */
function startEmbedded(dataDir: string): Promise<TestServer> {
  const options: TestServerOptions = { dataDir, config: { databaseUrl: undefined, storageUrl: undefined } };
  return startTestServer(options);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function waitUntil(condition: () => Promise<boolean>, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function integrityCheck(dataDir: string): string {
  const db = new Database(join(dataDir, 'meta.sqlite'));
  try {
    return db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
}

describe('restart on a data folder with leftovers of a crash', () => {
  // Larger than the default inlineMaxBytes, so that its bytes are a blob file the sweep must keep.
  const png = sampleOfSize('png', 200 * 1024);
  const smallPng = sample('png'); // kept inside meta.sqlite with its row
  let smallMediaId: string;
  let dataDir: string;
  let mediaId: string;
  let oldToken: string;
  let server: TestServer;
  const leftover = () => join(dataDir, 'tmp', 'x.part');
  const orphanKey = `abcd${randomBytes(14).toString('hex')}`;
  const orphan = () => join(dataDir, 'blobs', 'ab', orphanKey);

  test('set-up: a server stores a png, stops; a temp file and an orphan blob (no row) are planted; it restarts', async () => {
    dataDir = await newDataDir();
    const first = await startEmbedded(dataDir);
    oldToken = await tokenOf(first);
    const answer = await upload(first.baseUrl, oldToken, 'image', png, 'kept.png');
    assert.equal(answer.errcode, 0);
    mediaId = answer.media_id!;
    const small = await upload(first.baseUrl, oldToken, 'image', smallPng, 'small.png');
    assert.equal(small.errcode, 0);
    smallMediaId = small.media_id!;
    await first.close();

    await writeFile(leftover(), randomBytes(1000));
    await mkdir(join(dataDir, 'blobs', 'ab'), { recursive: true });
    await writeFile(orphan(), randomBytes(1000));
    server = await startEmbedded(dataDir);
  });

  test('the leftover DATA/tmp/x.part is gone as soon as the server has started', async () => {
    assert.equal(await exists(leftover()), false);
    assert.deepEqual(await stagingFiles(dataDir), []);
  });

  test('the orphan blob DATA/blobs/ab/abcd… is removed by the start-up sweep (within 2 s)', async () => {
    assert.ok(await waitUntil(async () => !(await exists(orphan())), 2000), 'orphan blob still there after 2 s');
  });

  test('the media stored before the restart still downloads with the same sha256 (new token)', async () => {
    const { bytes } = await downloadBytes(server.baseUrl, await tokenOf(server), mediaId);
    assert.equal(sha256(bytes), sha256(png));
  });

  test('the small media kept inside the database also downloads with the same sha256', async () => {
    const { bytes } = await downloadBytes(server.baseUrl, await tokenOf(server), smallMediaId);
    assert.equal(sha256(bytes), sha256(smallPng));
  });

  test('a token issued before the restart still works after it', async () => {
    const { bytes } = await downloadBytes(server.baseUrl, oldToken, mediaId);
    assert.equal(sha256(bytes), sha256(png));
  });

  test('the sweep kept the blob of the stored media: exactly one blob file left', async () => {
    try {
      assert.equal((await blobFiles(dataDir)).length, 1);
    } finally {
      await server.close();
    }
  });
});

describe('kill -9 of a real server process during 8 concurrent 5 MiB uploads', () => {
  /** Eight distinct valid mp4 files of about 5 MiB (distinct sizes, so distinct sha256). */
  const files = Array.from({ length: 8 }, (_, i) => sampleOfSize('mp4', 5 * MiB + i));
  const uploadedShas = new Set(files.map(sha256));
  let dataDir: string;
  let outcomes: Array<UploadAnswer | Error>;
  let tmpBeforeRestart: string[];
  let server: TestServer;

  /** One upload over node:http, written in 64 KiB pieces with a pause after each (odd ones chunked). */
  function paced(baseUrl: string, token: string, index: number, pauseMs: number): Promise<UploadAnswer> {
    const { contentType, body } = multipartBody([{ name: 'media', data: files[index]!, filename: `clip-${index}.mp4` }]);
    const chunked = index % 2 === 1;
    return new Promise((resolve, reject) => {
      const request = httpRequest(`${baseUrl}/media/upload?access_token=${encodeURIComponent(token)}&type=video`, {
        method: 'POST',
        headers: { 'content-type': contentType, ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': body.length }) },
      }, (response) => jsonAnswerOf(response).then(resolve, reject));
      request.on('error', reject);
      void (async () => {
        for (let at = 0; at < body.length && !request.destroyed; at += 64 * 1024) {
          const more = request.write(body.subarray(at, at + 64 * 1024));
          if (!more) await new Promise((done) => request.once('drain', done));
          if (pauseMs > 0) await new Promise((done) => setTimeout(done, pauseMs));
        }
        if (!request.destroyed) request.end();
      })();
    });
  }

  test('set-up: 4 fast and 4 slow uploads start; the process is killed once the fast ones are answered', async (t) => {
    dataDir = await newDataDir();
    const running = await spawnServerProcess({ env: { OAPI_MEDIA_DATA: dataDir } });
    try {
      assert.ok(running.appKey && running.appSecret, 'first start printed the credentials');
      const token = await getToken(running.baseUrl, running.appKey, running.appSecret);
      // Fast uploads end in well under a second; slow ones take 80 pieces x 25 ms = 2 s or more.
      // Each outcome is the answer or the error: a rejection is expected (the kill) and handled here.
      const uploads = files.map((_, i) => paced(running.baseUrl, token, i, i < 4 ? 0 : 25).catch((error: unknown) => error as Error));
      await Promise.race([Promise.all(uploads.slice(0, 4)), new Promise((resolve) => setTimeout(resolve, 1500))]);
      await running.killHard();
      outcomes = await Promise.all(uploads);
    } finally {
      await running.killHard();
    }
    const answered = outcomes.filter((o) => !(o instanceof Error) && o.errcode === 0).length;
    t.diagnostic(`${answered} of 8 uploads got a media_id before kill -9`);
    tmpBeforeRestart = await stagingFiles(dataDir);
    t.diagnostic(`${tmpBeforeRestart.length} temp files left in DATA/tmp by the crash`);
  });

  test('at least one upload got a media_id and at least one was cut off (the kill happened mid-flight)', () => {
    assert.ok(outcomes.some((o) => !(o instanceof Error) && o.errcode === 0), 'some upload was stored');
    assert.ok(outcomes.some((o) => o instanceof Error), 'some upload was in flight at the kill');
  });

  test('PRAGMA integrity_check of DATA/meta.sqlite right after the crash = ok', () => {
    assert.equal(integrityCheck(dataDir), 'ok');
  });

  test('after a restart DATA/tmp is empty at once', async () => {
    server = await startEmbedded(dataDir);
    assert.deepEqual(await stagingFiles(dataDir), []);
  });

  test('every upload that got a media_id downloads with the sha256 of what was sent', async () => {
    const token = await tokenOf(server);
    for (const [index, outcome] of outcomes.entries()) {
      if (outcome instanceof Error || outcome.errcode !== 0) continue;
      const { bytes } = await downloadBytes(server.baseUrl, token, outcome.media_id!);
      assert.equal(sha256(bytes), sha256(files[index]!), `upload ${index}`);
    }
  });

  test('every visible media row is a whole upload (no half-written media), answered or not', async () => {
    const token = await tokenOf(server);
    const ids = await mediaIds(server);
    const answeredIds = outcomes.flatMap((o) => (o instanceof Error || !o.media_id ? [] : [o.media_id]));
    for (const id of answeredIds) assert.ok(ids.includes(id), `answered ${id} has a row`);
    for (const id of ids) {
      const { bytes } = await downloadBytes(server.baseUrl, token, id);
      assert.ok(uploadedShas.has(sha256(bytes)), `media ${id} is one of the uploaded files, whole`);
    }
  });

  test('after the start-up sweep every blob file has a row (no orphans), and integrity_check = ok', async () => {
    const rows = (await mediaIds(server)).length;
    assert.ok(await waitUntil(async () => (await blobFiles(dataDir)).length === rows, 2000),
      `blob files ${(await blobFiles(dataDir)).length} vs rows ${rows}`);
    await server.close();
    assert.equal(integrityCheck(dataDir), 'ok');
  });
});

describe('a client that vanishes mid-upload', () => {
  for (const framing of ['Content-Length', 'chunked'] as const) {
    test(`a ${framing} upload whose socket is destroyed after 1 MiB of a 4 MiB mp4 -> nothing stored, DATA/tmp empty`, async () => {
      const server = await startEmbedded(await newDataDir());
      try {
        const token = await tokenOf(server);
        const before = await storedState(server);
        const { contentType, body } = multipartBody([{ name: 'media', data: sampleOfSize('mp4', 4 * MiB), filename: 'gone.mp4' }]);
        const socket = await openSocket(server.baseUrl);
        const head = [
          `POST /media/upload?access_token=${encodeURIComponent(token)}&type=video HTTP/1.1`,
          `Host: ${new URL(server.baseUrl).host}`,
          `Content-Type: ${contentType}`,
          framing === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`,
          '', '',
        ].join('\r\n');
        await writeAndWait(socket, Buffer.from(head));
        const firstMiB = body.subarray(0, MiB);
        await writeAndWait(socket, framing === 'chunked' ? httpChunk(firstMiB) : firstMiB);
        // The server has started staging the file before the client goes away.
        assert.ok(await waitUntil(async () => (await stagingFiles(server.dataDir)).length > 0, 2000), 'a temp file was being written');
        socket.destroy();
        assert.ok(await waitUntil(async () => (await stagingFiles(server.dataDir)).length === 0, 2000), 'DATA/tmp empty within 2 s');
        await assertNothingStored(server, before);
      } finally {
        await server.close();
      }
    });
  }
});
