import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DingTalkError, NetworkError } from '../src/index.ts';
import { filenameOf } from '../src/downloaded-media.ts';
import { sampleOfSize } from '../../server/test/fixtures/samples.ts';
import { clientOf, sha256, withEmulator, type Emulator } from './helpers/emulator.ts';

const PDF = sampleOfSize('pdf', 200_000);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function withUploaded(run: (emu: Emulator, client: ReturnType<typeof clientOf>, mediaId: string) => Promise<void>) {
  await withEmulator(async (emu) => {
    const client = clientOf(emu, { retries: { baseDelayMs: 5 } });
    const { mediaId } = await client.media.upload(PDF, { type: 'file', filename: '报告 Q3.pdf' });
    await run(emu, client, mediaId);
  });
}

test('download returns status, headers, the file name and the bytes (arrayBuffer, stream)', async () => {
  await withUploaded(async (emu, client, mediaId) => {
    const media = await client.media.download(mediaId);
    assert.equal(media.status, 200);
    assert.equal(media.contentLength, PDF.length);
    assert.equal(media.filename, '报告 Q3.pdf');
    assert.equal(sha256(Buffer.from(await media.arrayBuffer())), sha256(PDF));
    assert.equal(media.bodyUsed, true);
    await assert.rejects(media.arrayBuffer(), /already read/);
    assert.deepEqual(emu.requests.list({ path: '/media/downloadFile' }).map((r) => r.query.media_id), [mediaId]);

    const streamed = await client.media.download(mediaId);
    const chunks: Uint8Array[] = [];
    for await (const chunk of streamed.stream()) chunks.push(chunk);
    assert.equal(sha256(Buffer.concat(chunks)), sha256(PDF));
  });
});

test('a byte range gives 206 with just those bytes', async () => {
  await withUploaded(async (emu, client, mediaId) => {
    const media = await client.media.download(mediaId, { range: { start: 100, end: 199 } });
    assert.equal(media.status, 206);
    assert.equal(media.headers.get('content-range'), `bytes 100-199/${PDF.length}`);
    assert.deepEqual(Buffer.from(await media.arrayBuffer()), PDF.subarray(100, 200));
    const tail = await client.media.download(mediaId, { range: { start: PDF.length - 10 } });
    assert.equal(tail.status, 206);
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), PDF.subarray(PDF.length - 10));
    assert.deepEqual(emu.requests.list({ path: '/media/downloadFile' }).map((r) => r.headers.range), ['bytes=100-199', `bytes=${PDF.length - 10}-`]);
    await assert.rejects(client.media.download(mediaId, { range: { start: 10, end: 5 } }), TypeError);
  });
});

test('a JSON answer to a download is the error it carries: 40007 with the request id', async () => {
  await withUploaded(async (_emu, client) => {
    await assert.rejects(client.media.download('@unknown'), (e: unknown) => {
      assert.ok(e instanceof DingTalkError);
      assert.equal(e.errcode, 40007);
      assert.equal(e.errmsg, '不合法的媒体文件id');
      assert.match(e.requestId ?? '', UUID);
      assert.equal(e.httpStatus, 200);
      return true;
    });
  });
});

test('saveTo writes the whole file under its name, leaving no temporary file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-client-'));
  try {
    await withUploaded(async (_emu, client, mediaId) => {
      const target = join(dir, 'out.pdf');
      await writeFile(target, 'old content');
      const saved = await (await client.media.download(mediaId)).saveTo(target);
      assert.deepEqual(saved, { path: target, bytes: PDF.length });
      assert.equal(sha256(await readFile(target)), sha256(PDF));
      assert.deepEqual(await readdir(dir), ['out.pdf']);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('saveTo of a download cut short fails and leaves the old file and no temporary file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-client-'));
  try {
    const http = await import('node:http');
    // A server that promises 1000 bytes and sends 10.
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': 1000 });
      res.write(Buffer.alloc(10));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as import('node:net').AddressInfo;
    const staticToken = { getToken: async () => 't', invalidate: () => undefined };
    const { clientWith } = await import('../src/client.ts');
    const client = clientWith(staticToken, {
      baseUrl: `http://127.0.0.1:${port}`, fetch, retry: { limit: 0, baseDelayMs: 1, maxDelayMs: 1 }, localChecks: true, retryUploads: false,
    });
    const target = join(dir, 'out.pdf');
    await writeFile(target, 'old content');
    const media = await client.media.download('@x');
    await assert.rejects(media.saveTo(target), NetworkError);
    assert.equal(await readFile(target, 'utf8'), 'old content');
    assert.deepEqual(await readdir(dir), ['out.pdf']);
    server.closeAllConnections();
    server.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('Content-Disposition: filename* (UTF-8) wins over filename', () => {
  assert.equal(filenameOf(`attachment; filename="a.png"; filename*=UTF-8''%E5%9B%BE.png`), '图.png');
  assert.equal(filenameOf('attachment; filename="plain \\"q\\".png"'), 'plain "q".png');
  assert.equal(filenameOf('attachment; filename=bare.png'), 'bare.png');
  assert.equal(filenameOf(null), undefined);
});
