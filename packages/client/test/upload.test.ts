import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createClient, type UploadProgress } from '../src/index.ts';
import { startFakeDingTalk, type FakeDingTalk } from './helpers/fake-dingtalk.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
// Random bytes after a PNG signature: the fake checks no format, only the SDK's own checks run.
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(300_000)]);

async function withFake(run: (fake: FakeDingTalk, client: ReturnType<typeof createClient>) => Promise<void>) {
  const fake = await startFakeDingTalk();
  try {
    await run(fake, createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret }));
  } finally {
    await fake.close();
  }
}

test('upload sends access_token and type in the query, the file as part `media` with its name; returns mediaId, type, createdAt', async () => {
  await withFake(async (fake, client) => {
    const before = Date.now();
    const result = await client.media.upload(PNG, { type: 'image', filename: '截图 "1".png' });
    const request = fake.requests.find((r) => r.path === '/media/upload')!;
    assert.equal(request.query.get('type'), 'image');
    assert.equal(request.query.get('access_token'), await client.getAccessToken());
    assert.match(String(request.headers['content-type']), /^multipart\/form-data; boundary=/);
    const stored = fake.media.get(result.mediaId)!;
    assert.equal(sha256(stored.bytes), sha256(PNG));
    assert.equal(stored.filename, '截图 %221%22.png'); // WHATWG FormData escaping of the quote
    assert.equal(result.type, 'image');
    assert.ok(result.createdAt instanceof Date && result.createdAt.getTime() >= before - 1000);
    assert.equal(result.raw.media_id, result.mediaId);
  });
});

test('inputs of known size go with Content-Length; streams go chunked; all arrive byte for byte', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-client-'));
  try {
    const path = join(dir, 'photo.png');
    await writeFile(path, PNG);
    await withFake(async (fake, client) => {
      const inputs: [string, Parameters<typeof client.media.upload>[0], string | undefined, boolean][] = [
        ['path', path, undefined, true],
        ['Buffer', PNG, 'b.png', true],
        ['Uint8Array', new Uint8Array(PNG), 'u.png', true],
        ['Blob', new Blob([PNG]), 'blob.png', true],
        ['File', new File([PNG], 'file.png'), undefined, true],
        ['fs.ReadStream (name from its path)', createReadStream(path), undefined, false],
        ['Readable', Readable.from([PNG.subarray(0, 1000), PNG.subarray(1000)]), 'r.png', false],
        ['web ReadableStream', Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>, 'w.png', false],
      ];
      for (const [what, input, filename, lengthKnown] of inputs) {
        const { mediaId } = await client.media.upload(input, { type: 'image', ...(filename ? { filename } : {}) });
        const request = fake.requests.filter((r) => r.path === '/media/upload').at(-1)!;
        assert.equal(sha256(fake.media.get(mediaId)!.bytes), sha256(PNG), what);
        assert.equal(request.headers['content-length'] !== undefined, lengthKnown, `${what}: content-length`);
        assert.equal(request.headers['transfer-encoding'] === 'chunked', !lengthKnown, `${what}: chunked`);
        if (lengthKnown) assert.equal(Number(request.headers['content-length']), request.bodyBytes, what);
        assert.equal(fake.media.get(mediaId)!.filename, filename ?? (what === 'File' ? 'file.png' : 'photo.png'), what);
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a stream of declared size goes with Content-Length', async () => {
  await withFake(async (fake, client) => {
    await client.media.upload(Readable.from([PNG]), { type: 'image', filename: 'r.png', size: PNG.length });
    const request = fake.requests.find((r) => r.path === '/media/upload')!;
    assert.equal(request.headers['transfer-encoding'], undefined);
    assert.ok(Number(request.headers['content-length']) > PNG.length);
  });
});

test('a stream is read as it is sent, not buffered whole first', async () => {
  await withFake(async (fake, client) => {
    let produced = 0;
    const chunk = Buffer.alloc(64 * 1024, 1);
    const source = new Readable({
      read() {
        produced += chunk.length;
        this.push(produced > 8 * 1024 * 1024 ? null : chunk);
      },
    });
    const maxAhead: number[] = [];
    await client.media.upload(source, {
      type: 'file', filename: 'big.zip',
      onProgress: ({ loaded }) => maxAhead.push(produced - loaded),
    });
    // The producer is never more than a few chunks (and far less than the 8 MiB) ahead of what was sent.
    assert.ok(Math.max(...maxAhead) <= 1024 * 1024, `read ahead up to ${Math.max(...maxAhead)} bytes`);
    assert.equal(fake.media.size, 1);
  });
});

test('onProgress reports bytes sent and the total, ending at the file size', async () => {
  await withFake(async (_fake, client) => {
    const seen: UploadProgress[] = [];
    await client.media.upload(PNG, { type: 'image', filename: 'p.png', onProgress: (p) => seen.push(p) });
    assert.deepEqual(seen[0], { loaded: 0, total: PNG.length });
    assert.deepEqual(seen.at(-1), { loaded: PNG.length, total: PNG.length });
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.loaded >= seen[i - 1]!.loaded);
  });
});

test('bytes without a filename are refused before sending (the server checks the extension)', async () => {
  await withFake(async (fake, client) => {
    await assert.rejects(client.media.upload(PNG, { type: 'image' }), /needs options.filename/);
    assert.equal(fake.count('/gettoken') + fake.count('/media/upload'), 0);
  });
});
