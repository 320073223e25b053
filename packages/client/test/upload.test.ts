import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { UploadProgress } from '../src/index.ts';
import { sampleOfSize } from '../../server/test/fixtures/samples.ts';
import { callsTo, clientOf, sha256, storedMedia, withEmulator, type Emulator } from './helpers/emulator.ts';

const PNG = sampleOfSize('png', 300_000);

async function withClient(run: (emu: Emulator, client: ReturnType<typeof clientOf>) => Promise<void>) {
  await withEmulator((emu) => run(emu, clientOf(emu)));
}

/** The journal's record of the upload that was given `mediaId`. */
const uploadOf = (emu: Emulator, mediaId: string) => emu.requests.list({ path: '/media/upload' }).find((r) => r.answer.mediaId === mediaId)!;

test('upload sends access_token and type in the query, the file as part `media` with its name; returns mediaId, type, createdAt', async () => {
  await withClient(async (emu, client) => {
    const before = Date.now();
    const result = await client.media.upload(PNG, { type: 'image', filename: '截图 "1".png' });
    const request = uploadOf(emu, result.mediaId);
    assert.equal(request.query.type, 'image');
    assert.equal(request.query.access_token, '***'); // sent (the journal masks it)
    assert.equal(request.app, emu.credentials.dingtalk.appkey); // the token resolved to the app
    assert.match(request.headers['content-type'] ?? '', /^multipart\/form-data; boundary=/);
    // The quote goes escaped as WHATWG FormData escapes it (%22); the server reads the name back as given.
    assert.deepEqual(request.form?.map((p) => [p.field, p.fileName, p.sha256]), [['media', '截图 "1".png', sha256(PNG)]]);
    const [stored] = await storedMedia(emu);
    assert.equal(stored?.sha256, sha256(PNG));
    assert.equal(stored?.file_name, '截图 "1".png');
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
    await withClient(async (emu, client) => {
      const inputs: [string, Parameters<typeof client.media.upload>[0], string | undefined, boolean][] = [
        ['path', path, undefined, true],
        ['Buffer', PNG, 'b.png', true],
        ['Uint8Array', new Uint8Array(PNG), 'u.png', true],
        ['Blob', new Blob([new Uint8Array(PNG)]), 'blob.png', true],
        ['File', new File([new Uint8Array(PNG)], 'file.png'), undefined, true],
        ['fs.ReadStream (name from its path)', createReadStream(path), undefined, false],
        ['Readable', Readable.from([PNG.subarray(0, 1000), PNG.subarray(1000)]), 'r.png', false],
        ['web ReadableStream', Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>, 'w.png', false],
      ];
      for (const [what, input, filename, lengthKnown] of inputs) {
        const { mediaId } = await client.media.upload(input, { type: 'image', ...(filename ? { filename } : {}) });
        const request = uploadOf(emu, mediaId);
        assert.equal(request.form?.find((p) => p.media)?.sha256, sha256(PNG), what);
        assert.equal(request.headers['content-length'] !== undefined, lengthKnown, `${what}: content-length`);
        assert.equal(request.headers['transfer-encoding'] === 'chunked', !lengthKnown, `${what}: chunked`);
        assert.equal(request.form?.find((p) => p.media)?.fileName, filename ?? (what === 'File' ? 'file.png' : 'photo.png'), what);
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a stream of declared size goes with Content-Length', async () => {
  await withClient(async (emu, client) => {
    const { mediaId } = await client.media.upload(Readable.from([PNG]), { type: 'image', filename: 'r.png', size: PNG.length });
    const request = uploadOf(emu, mediaId);
    assert.equal(request.headers['transfer-encoding'], undefined);
    assert.ok(Number(request.headers['content-length']) > PNG.length);
    assert.equal(request.form?.find((p) => p.media)?.sha256, sha256(PNG));
  });
});

test('a stream is read as it is sent, not buffered whole first', async () => {
  await withClient(async (emu, client) => {
    const zip = sampleOfSize('zip', 8 * 1024 * 1024);
    const chunkSize = 64 * 1024;
    let produced = 0;
    const source = new Readable({
      read() {
        const chunk = zip.subarray(produced, produced + chunkSize);
        produced += chunk.length;
        this.push(chunk.length === 0 ? null : chunk);
      },
    });
    const maxAhead: number[] = [];
    await client.media.upload(source, {
      type: 'file', filename: 'big.zip',
      onProgress: ({ loaded }) => maxAhead.push(produced - loaded),
    });
    // The producer is never more than a few chunks (and far less than the 8 MiB) ahead of what was sent.
    assert.ok(Math.max(...maxAhead) <= 1024 * 1024, `read ahead up to ${Math.max(...maxAhead)} bytes`);
    assert.deepEqual((await storedMedia(emu)).map((m) => m.sha256), [sha256(zip)]);
  });
});

test('onProgress reports bytes sent and the total, ending at the file size', async () => {
  await withClient(async (_emu, client) => {
    const seen: UploadProgress[] = [];
    await client.media.upload(PNG, { type: 'image', filename: 'p.png', onProgress: (p) => seen.push(p) });
    assert.deepEqual(seen[0], { loaded: 0, total: PNG.length });
    assert.deepEqual(seen.at(-1), { loaded: PNG.length, total: PNG.length });
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.loaded >= seen[i - 1]!.loaded);
  });
});

test('bytes without a filename are refused before sending (the server checks the extension)', async () => {
  await withClient(async (emu, client) => {
    await assert.rejects(client.media.upload(PNG, { type: 'image' }), /needs options.filename/);
    assert.equal(callsTo(emu, '/gettoken') + callsTo(emu, '/media/upload'), 0);
  });
});
