// Downloads from local disk go through reused 1 MiB buffers (stores/blobs/file-range-stream.ts):
// a buffer goes back to the pool only when the socket is done with it. These tests make buffers
// change hands between downloads of different files while others are still in flight, and check
// that every byte arrives as uploaded, that ranges across chunk borders are exact, and that a blob
// cut short on disk or a client gone mid-body leaves no file handle open.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readlink, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FileRangeStream, READ_CHUNK_BYTES } from '../src/stores/blobs/file-range-stream.ts';
import { sampleOfSize } from './fixtures/samples.ts';
import { downloadUrl, sha256, tokenOf, upload } from './helpers/e2e-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const MiB = 1024 * 1024;

/** A valid PDF of `size` bytes whose padding is random: no two are alike, not even in one chunk. */
function distinctPdf(size: number): Buffer {
  const pdf = sampleOfSize('pdf', size);
  const start = pdf.indexOf('0 0 m 100 100 l S\n') + 32;
  const end = pdf.lastIndexOf('endstream') - 16;
  randomBytes(end - start).copy(pdf, start);
  return pdf;
}

/** Files (not folders: the disk store keeps its shard folders open to fsync them) this process has open under `dir`. */
async function openHandlesUnder(dir: string): Promise<string[]> {
  const targets = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  const under = targets.filter((target) => target.startsWith(`${dir}/`));
  const isFile = await Promise.all(under.map((target) => stat(target).then((s) => s.isFile(), () => false)));
  return under.filter((_, i) => isFile[i]);
}

async function noHandlesUnder(dir: string): Promise<string[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const open = await openHandlesUnder(dir);
    if (open.length === 0 || Date.now() > deadline) return open;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Received {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The response ended cleanly (false: the connection was cut before the body was complete). */
  complete: boolean;
}

/** GET with node:http; `pauseMs` after each of the first chunks, or `stallMs` after the first, makes the server wait for drain. */
function get(url: string, options: { range?: string; pauseMs?: number; stallMs?: number; abortAfterBytes?: number } = {}): Promise<Received> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: options.range ? { range: options.range } : {} }, (res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let pauses = 0;
      const finish = (complete: boolean): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete });
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        if (options.abortAfterBytes !== undefined && received >= options.abortAfterBytes) {
          req.destroy();
          finish(false);
          return;
        }
        if (options.stallMs && pauses++ === 0) {
          res.pause();
          setTimeout(() => res.resume(), options.stallMs);
        }
        if (options.pauseMs && pauses++ < 20) {
          res.pause();
          setTimeout(() => res.resume(), options.pauseMs);
        }
      });
      res.on('end', () => finish(res.complete));
      res.on('error', () => finish(false));
      res.on('aborted', () => finish(false));
    });
    req.on('error', (error) => (options.abortAfterBytes !== undefined ? undefined : reject(error)));
    req.end();
  });
}

describe('FileRangeStream read as a stream', () => {
  let dir: string;
  let path: string;
  const bytes = randomBytes(2 * MiB + 12_345);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oapi-media-range-'));
    path = join(dir, 'blob');
    await writeFile(path, bytes);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const readError = (error: unknown): Error => Object.assign(new Error(`translated: ${(error as NodeJS.ErrnoException).code}`), { cause: error });

  for (const [start, end] of [[0, bytes.length], [READ_CHUNK_BYTES - 1, 2 * READ_CHUNK_BYTES + 1], [bytes.length - 1, bytes.length], [5, 6]] as const) {
    test(`bytes [${start}, ${end}) come out exactly, in chunks of at most 1 MiB, and the file is closed after`, async () => {
      const handle = await open(path, 'r');
      const stream = new FileRangeStream(handle, start, end, readError);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      assert.ok(chunks.every((chunk) => chunk.length <= READ_CHUNK_BYTES));
      assert.equal(sha256(Buffer.concat(chunks)), sha256(bytes.subarray(start, end)));
      assert.deepEqual(await noHandlesUnder(dir), []);
    });
  }

  test('a range past the end of the file errors with the store\'s error, and the file is closed', async () => {
    const handle = await open(path, 'r');
    const stream = new FileRangeStream(handle, bytes.length - 10, bytes.length + 10, readError);
    const chunks: Buffer[] = [];
    await assert.rejects(async () => {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    }, /translated: ESHORT/);
    assert.equal(Buffer.concat(chunks).length, 10, 'the bytes that exist came first');
    assert.deepEqual(await noHandlesUnder(dir), []);
  });
});

describe('downloads from local disk through reused buffers', () => {
  let server: TestServer;
  let token: string;
  let blobsDir: string;
  const files = Array.from({ length: 8 }, (_, i) => distinctPdf(3 * MiB + 1000 * i + 7));
  const ids: string[] = [];
  before(async () => {
    // Local disk whatever engines the suite runs on: the pooled path is the disk store's.
    server = await startTestServer({ config: { storageUrl: undefined } });
    token = await tokenOf(server);
    blobsDir = join(server.dataDir, 'blobs');
    for (const [i, file] of files.entries()) {
      const answer = await upload(server.baseUrl, token, 'file', file, `f${i}.pdf`);
      assert.equal(answer.errcode, 0, JSON.stringify(answer));
      ids.push(answer.media_id!);
    }
  });
  after(async () => {
    await server.close();
  });

  test('24 concurrent downloads of 8 different files, a third of them read slowly: every body sha256-equal to its upload', async () => {
    const received = await Promise.all(Array.from({ length: 24 }, (_, n) =>
      get(downloadUrl(server.baseUrl, token, ids[n % 8]!), { pauseMs: n % 3 === 0 ? 15 : 0 })));
    for (const [n, answer] of received.entries()) {
      assert.equal(answer.status, 200);
      assert.ok(answer.complete, `download ${n} complete`);
      assert.equal(answer.headers['content-length'], String(files[n % 8]!.length));
      assert.equal(sha256(answer.body), sha256(files[n % 8]!), `download ${n} (file ${n % 8})`);
    }
    assert.deepEqual(await noHandlesUnder(blobsDir), [], 'no blob left open');
  });

  test('a 16 MiB download whose client stalls while 16 others run: its pending write is not overwritten by theirs', async () => {
    const big = distinctPdf(16 * MiB);
    const answer = await upload(server.baseUrl, token, 'file', big, 'big.pdf');
    assert.equal(answer.errcode, 0);
    // The stalled client lets the socket buffers fill, so the server holds a written-but-unsent
    // buffer while the others take buffers from the pool and fill them.
    const stalled = get(downloadUrl(server.baseUrl, token, answer.media_id!), { stallMs: 400 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const others = await Promise.all(Array.from({ length: 16 }, (_, n) => get(downloadUrl(server.baseUrl, token, ids[n % 8]!))));
    for (const [n, other] of others.entries()) assert.equal(sha256(other.body), sha256(files[n % 8]!), `download ${n}`);
    const slow = await stalled;
    assert.ok(slow.complete);
    assert.equal(sha256(slow.body), sha256(big), 'the stalled download got its own bytes');
  });

  test('16 concurrent ranges across the 1 MiB chunk borders: 206 with exactly those bytes', async () => {
    const ranges = [[0, MiB], [MiB - 1, MiB], [MiB - 3, 2 * MiB + 3], [2 * MiB, 3 * MiB + 6]] as const;
    const received = await Promise.all(Array.from({ length: 16 }, (_, n) => {
      const [start, end] = ranges[n % 4]!;
      return get(downloadUrl(server.baseUrl, token, ids[n % 8]!), { range: `bytes=${start}-${end}`, pauseMs: n % 2 ? 10 : 0 });
    }));
    for (const [n, answer] of received.entries()) {
      const [start, end] = ranges[n % 4]!;
      assert.equal(answer.status, 206);
      assert.equal(answer.headers['content-range'], `bytes ${start}-${end}/${files[n % 8]!.length}`);
      assert.equal(sha256(answer.body), sha256(files[n % 8]!.subarray(start, end + 1)), `range ${n}`);
    }
    assert.deepEqual(await noHandlesUnder(blobsDir), []);
  });

  test('a client gone after the first MiB: the blob is closed, the next download is whole', async () => {
    const cut = await get(downloadUrl(server.baseUrl, token, ids[0]!), { abortAfterBytes: MiB });
    assert.equal(cut.complete, false);
    assert.deepEqual(await noHandlesUnder(blobsDir), [], 'the server closed the blob of the abandoned download');
    const whole = await get(downloadUrl(server.baseUrl, token, ids[0]!));
    assert.equal(sha256(whole.body), sha256(files[0]!));
  });

  test('a blob cut short on disk: the body is cut (never padded or wrong), the blob closed, the server keeps serving', async () => {
    const victim = await upload(server.baseUrl, token, 'file', distinctPdf(3 * MiB), 'victim.pdf');
    assert.equal(victim.errcode, 0);
    const row = await server.server.services.metadata.getMedia(victim.media_id!);
    assert.ok(row);
    const victimPath = join(blobsDir, row.blobKey.slice(0, 2), row.blobKey);
    await truncate(victimPath, 1.5 * MiB);
    const answer = await get(downloadUrl(server.baseUrl, token, victim.media_id!));
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-length'], String(3 * MiB));
    assert.equal(answer.complete, false, 'the client can tell the body was cut');
    assert.ok(answer.body.length <= 1.5 * MiB);
    assert.deepEqual(await noHandlesUnder(blobsDir), []);
    const next = await get(downloadUrl(server.baseUrl, token, ids[1]!));
    assert.equal(sha256(next.body), sha256(files[1]!));
  });
});
