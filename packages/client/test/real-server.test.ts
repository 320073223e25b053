// The SDK against the real oapi-media server on 127.0.0.1:0 (SQLite + disk in a temp folder, or
// the engines of TEST_DATABASE_URL / TEST_STORAGE_URL); token expiry on the server's clock is in
// real-server-clock.test.ts, which needs the server in-process.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP, the operator CLI and the data folder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DINGTALK_MEDIA_LIMITS, MEDIA_TYPES, type MediaFormat } from '@oapi-media/core';
import { createClient, DingTalkError } from '../src/index.ts';
import { startTestServer, type TestServer } from '../../server/test/helpers/test-server.ts';
import { sample } from '../../server/test/fixtures/samples.ts';
import { countingFetch } from './helpers/counting-fetch.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function withServer(options: Parameters<typeof startTestServer>[0], run: (server: TestServer) => Promise<void>) {
  const server = await startTestServer(options);
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

test('real server: every format of every type round-trips byte for byte (sha256), whole and by range', async () => {
  await withServer({}, async (server) => {
    const client = createClient({ baseUrl: server.baseUrl, appKey: server.appKey, appSecret: server.appSecret });
    for (const type of MEDIA_TYPES) {
      for (const format of DINGTALK_MEDIA_LIMITS[type].formats as readonly MediaFormat[]) {
        const bytes = sample(format);
        const uploaded = await client.media.upload(bytes, { type, filename: `sample 样本.${format}` });
        assert.equal(uploaded.type, type);
        assert.match(uploaded.mediaId, /^@[A-Za-z0-9_-]+$/);
        const media = await client.media.download(uploaded.mediaId);
        assert.equal(media.status, 200, format);
        assert.equal(media.filename, `sample 样本.${format}`);
        assert.equal(sha256(new Uint8Array(await media.arrayBuffer())), sha256(bytes), format);
        const part = await client.media.download(uploaded.mediaId, { range: { start: 1, end: 8 } });
        assert.equal(part.status, 206, format);
        assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(1, 9), format);
      }
    }
  });
});

test('real server: path, stream (chunked) and Blob inputs, and saveTo, round-trip', async () => {
  const { mkdtemp, writeFile, readFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'oapi-client-real-'));
  try {
    await withServer({}, async (server) => {
      const client = createClient({ baseUrl: server.baseUrl, appKey: server.appKey, appSecret: server.appSecret });
      const mp4 = sample('mp4');
      const path = join(dir, 'clip.mp4');
      await writeFile(path, mp4);
      const ids = [
        (await client.media.upload(path, { type: 'video' })).mediaId,
        (await client.media.upload(Readable.from([mp4.subarray(0, 100), mp4.subarray(100)]), { type: 'video', filename: 'clip.mp4' })).mediaId,
        (await client.media.upload(new Blob([new Uint8Array(mp4)]), { type: 'video', filename: 'clip.mp4' })).mediaId,
      ];
      for (const id of ids) {
        const saved = await (await client.media.download(id)).saveTo(join(dir, 'out.mp4'));
        assert.equal(saved.bytes, mp4.length);
        assert.equal(sha256(await readFile(join(dir, 'out.mp4'))), sha256(mp4));
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('real server: 50 concurrent uploads with no token yet -> exactly one /gettoken', async () => {
  await withServer({}, async (server) => {
    const counter = countingFetch();
    const client = createClient({ baseUrl: server.baseUrl, appKey: server.appKey, appSecret: server.appSecret, fetch: counter.fetch });
    const png = sample('png');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.media.upload(png, { type: 'image', filename: `p${i}.png` })));
    assert.equal(counter.count('/gettoken'), 1);
    assert.equal(counter.count('/media/upload'), 50);
    assert.equal(new Set(results.map((r) => r.mediaId)).size, 50);
    assert.equal((await server.mediaIds()).length, 50);
  });
});

test('real server: an upload aborted mid-way leaves nothing stored (no row, no blob, no staging file)', async () => {
  await withServer({}, async (server) => {
    const client = createClient({ baseUrl: server.baseUrl, appKey: server.appKey, appSecret: server.appSecret });
    await client.getAccessToken();
    const blobsBefore = await filesUnder(join(server.dataDir, 'blobs'));
    const png = sample('png');
    const controller = new AbortController();
    let produced = 0;
    const slow = new Readable({
      read() {
        produced++;
        setTimeout(() => this.push(produced === 1 ? png.subarray(0, 33) : Buffer.alloc(32 * 1024, 0x20)), 2);
      },
    });
    const upload = client.media.upload(slow, {
      type: 'image', filename: 'slow.png', signal: controller.signal,
      onProgress: ({ loaded }) => { if (loaded > 512 * 1024) controller.abort(new Error('user cancelled')); },
    });
    await assert.rejects(upload, /user cancelled/);
    assert.ok(slow.destroyed);
    // Give the server the moment it needs to notice the closed connection and clean up.
    for (let i = 0; i < 50 && (await filesUnder(join(server.dataDir, 'tmp'))).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await server.mediaIds(), []);
    assert.deepEqual(await filesUnder(join(server.dataDir, 'tmp')), []);
    if (!process.env.TEST_STORAGE_URL) assert.deepEqual(await filesUnder(join(server.dataDir, 'blobs')), blobsBefore);
    // Node 20's fetch leaves a spare, silent connection after the aborted request: the server's
    // close ends it after its shutdown grace (server.ts), in-process as in the bundle.
  });
});

test('real server: local checks give the errcodes the server gives', async () => {
  await withServer({}, async (server) => {
    const checked = createClient({ baseUrl: server.baseUrl, appKey: server.appKey, appSecret: server.appSecret });
    const unchecked = createClient({ baseUrl: server.baseUrl, appKey: server.appKey, appSecret: server.appSecret, localChecks: false });
    const cases: [Buffer, string, string][] = [
      [sample('png'), 'sticker', 'a.png'], // 40004
      [Buffer.alloc(DINGTALK_MEDIA_LIMITS.voice.maxBytes + 1, 0x20), 'voice', 'a.mp3'], // 40006
      [sample('png'), 'image', 'a.html'], // 40005
      [sample('png'), 'voice', 'a.png'], // 40005
    ];
    for (const [bytes, type, filename] of cases) {
      const errcodeOf = async (client: typeof checked) => {
        try {
          await client.media.upload(bytes, { type: type as 'image', filename });
        } catch (error) {
          assert.ok(error instanceof DingTalkError, String(error));
          return { errcode: error.errcode, local: error.local };
        }
        assert.fail(`${filename} as ${type} was accepted`);
      };
      const local = await errcodeOf(checked);
      const remote = await errcodeOf(unchecked);
      assert.equal(local.local, true);
      assert.equal(remote.local, false);
      assert.equal(local.errcode, remote.errcode, `${filename} as ${type}`);
    }
    assert.deepEqual(await server.mediaIds(), []);
  });
});

test('real server: a file name with double quotes comes back as sent ("报告 \\"q\\".png", not %22), bytes intact', async () => {
  await withServer({}, async (server) => {
    const client = createClient({ baseUrl: server.baseUrl, appKey: server.appKey, appSecret: server.appSecret });
    const name = '报告 "q".png';
    const bytes = sample('png');
    const { mediaId } = await client.media.upload(bytes, { type: 'image', filename: name });
    const media = await client.media.download(mediaId);
    assert.equal(media.filename, name);
    assert.equal(sha256(new Uint8Array(await media.arrayBuffer())), sha256(bytes));
  });
});
