// Small media kept inside meta.sqlite with their row (inlineMaxBytes, OAPI_MEDIA_INLINE_MAX_BYTES):
// the staging area holds an upload in memory up to memoryMaxBytes and spills to a temp file past
// it; the SQLite store commits a row and its bytes together, the inserts of one event-loop turn in
// one transaction with a savepoint per row; downloads (Range, HEAD) serve those bytes as they serve
// a blob file; a delete takes them with the row; detectFormat reads bytes in memory exactly as it
// reads the same bytes from a file. Real SQLite, real files: counted on disk and in the database.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { DINGTALK_MEDIA_LIMITS, type MediaFormat } from '@oapi-media/core';
import { ConfigError, DEFAULT_INLINE_MAX_BYTES, LARGEST_INLINE_MAX_BYTES, loadConfig } from '../src/config.ts';
import { detectFormat, SNIFF_BYTES } from '../src/formats/detect.ts';
import { isInlineBlobKey } from '../src/service/ids.ts';
import { StagingArea, StagingLimitError, type StagedFile } from '../src/service/staging.ts';
import { ConflictError, QuotaExceededError, type MediaRow, type Org } from '../src/stores/metadata/interface.ts';
import { SqliteMetadataStore } from '../src/stores/metadata/sqlite.ts';
import { dataFolder } from '../src/data-folder.ts';
import {
  docxWithLeadingMedia, minimumSampleSize, ooxmlParts, sample, sampleOfSize, spoofs, writeCompoundFile, writeZip,
  xlsWithEmbeddedDoc,
} from './fixtures/samples.ts';
import { cli } from './helpers/cli.ts';
import { blobFiles, stagingFiles } from './helpers/data-folder.ts';
import { downloadBytes, downloadUrl, getToken, sha256, tokenOf, upload } from './helpers/e2e-http.ts';
import { rawHead } from './helpers/raw-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const ALL_FORMATS: readonly MediaFormat[] = Object.values(DINGTALK_MEDIA_LIMITS).flatMap((rule) => rule.formats);
/** These tests count files under DATA/blobs and rows of DATA/meta.sqlite: the embedded engines only. */
const EMBEDDED = { databaseUrl: undefined, storageUrl: undefined } as const;

let scratch = '';
let counter = 0;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'oapi-inline-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** `bytes` cut into consecutive chunks of `sizes` (which must add up to its length). */
function split(bytes: Buffer, sizes: number[]): Buffer[] {
  assert.equal(sizes.reduce((a, b) => a + b, 0), bytes.length, 'chunk sizes add up to the body');
  const chunks: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

async function until(condition: () => Promise<boolean>, what: string, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Runs `work` while watching `dir` (inotify): the names of every file created, written or removed
 * in it meanwhile, even one that came and went. A sentinel file written afterwards flushes the
 * events: they arrive in order, so once its own is seen every earlier one has been.
 */
async function watching<T>(dir: string, work: () => Promise<T>): Promise<{ outcome: PromiseSettledResult<T>; touched: string[] }> {
  const touched = new Set<string>();
  const sentinel = `sentinel-${randomBytes(6).toString('hex')}`;
  let sentinelSeen!: () => void;
  const seen = new Promise<void>((resolve) => (sentinelSeen = resolve));
  const watcher = watch(dir, (_event, name) => {
    if (name === null) return;
    if (String(name) === sentinel) sentinelSeen();
    else touched.add(String(name));
  });
  try {
    const [outcome] = await Promise.allSettled([work()]);
    await writeFile(join(dir, sentinel), '');
    await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error('no inotify event for the sentinel')), 5000))]);
    await rm(join(dir, sentinel));
    return { outcome: outcome!, touched: [...touched].sort() };
  } finally {
    watcher.close();
  }
}

function fulfilled<T>(outcome: PromiseSettledResult<T>): T {
  if (outcome.status === 'rejected') throw outcome.reason;
  return outcome.value;
}

function inMemory(staged: StagedFile): StagedFile & { kind: 'memory' } {
  assert.equal(staged.kind, 'memory', 'staged in memory');
  return staged as StagedFile & { kind: 'memory' };
}

function onDisk(staged: StagedFile): StagedFile & { kind: 'file' } {
  assert.equal(staged.kind, 'file', 'staged in a file');
  return staged as StagedFile & { kind: 'file' };
}

describe('StagingArea: in memory up to memoryMaxBytes, a temp file past it', () => {
  async function newStaging(memoryMaxBytes?: number, fsync = false): Promise<StagingArea> {
    const staging = new StagingArea(join(scratch, `staging-${counter++}`), fsync, memoryMaxBytes);
    await staging.init();
    return staging;
  }

  const atMax: Array<{ max: number; chunks: number[] }> = [
    { max: 1000, chunks: [300, 300, 400] },
    { max: 1000, chunks: [1000] },
    { max: 65_536, chunks: [16_384, 16_384, 16_384, 16_384] },
  ];
  for (const { max, chunks } of atMax) {
    test(`a body of exactly memoryMaxBytes ${max} (chunks ${chunks.join('+')}) stays in memory: same bytes, no file ever in the staging folder`, async () => {
      const staging = await newStaging(max);
      const body = randomBytes(max);
      const { outcome, touched } = await watching(staging.dir, () => staging.stage(Readable.from(split(body, chunks)), 10 * max));
      const staged = inMemory(fulfilled(outcome));
      assert.equal(staged.size, max);
      assert.equal(staged.sha256, sha256(body));
      assert.ok(staged.bytes.equals(body), 'the bytes held are the body');
      assert.ok(staged.head.equals(body.subarray(0, SNIFF_BYTES)), 'head is the first SNIFF_BYTES bytes');
      assert.deepEqual(touched, [], 'no file was created in the staging folder, not even for a moment');
      assert.deepEqual(await readdir(staging.dir), []);
    });
  }

  // [1001] and [1500, 500, 3000]: past memoryMaxBytes with the very first chunk (nothing held yet).
  for (const chunks of [[300, 300, 400, 1], [1001], [1, 1000], [999, 2], [1500, 500, 3000]]) {
    const total = chunks.reduce((a, b) => a + b, 0);
    test(`memoryMaxBytes + ${total - 1000} (chunks ${chunks.join('+')}) goes to one temp file with identical bytes and sha256`, async () => {
      const staging = await newStaging(1000);
      const body = randomBytes(total);
      const { outcome, touched } = await watching(staging.dir, () => staging.stage(Readable.from(split(body, chunks)), 10_000));
      const staged = onDisk(fulfilled(outcome));
      assert.equal(staged.size, total);
      assert.equal(staged.sha256, sha256(body));
      assert.ok(staged.head.equals(body.subarray(0, SNIFF_BYTES)));
      assert.deepEqual(touched, [basename(staged.path)], 'exactly one file, the staged one');
      assert.deepEqual(await readdir(staging.dir), [basename(staged.path)]);
      assert.ok((await readFile(staged.path)).equals(body), 'the file holds the body byte for byte');
      await staging.discard(staged);
      assert.deepEqual(await readdir(staging.dir), []);
    });
  }

  test('a 3 MiB body in uneven chunks spills early and is written in order (fsync on), sha256-equal', async () => {
    const staging = await newStaging(65_536, true);
    const body = randomBytes(3 * 1024 * 1024);
    const sizes: number[] = [];
    for (let left = body.length, i = 0; left > 0; i++) {
      const size = Math.min(left, 1 + ((i * 7919) % 40_000));
      sizes.push(size);
      left -= size;
    }
    const staged = onDisk(await staging.stage(Readable.from(split(body, sizes)), body.length));
    assert.equal(staged.size, body.length);
    assert.equal(staged.sha256, sha256(body));
    assert.equal(sha256(await readFile(staged.path)), sha256(body));
    await staging.discard(staged);
    assert.deepEqual(await readdir(staging.dir), []);
  });

  test('over capBytes while still in memory -> StagingLimitError, no file ever, staging folder empty', async () => {
    const staging = await newStaging(1000);
    const { outcome, touched } = await watching(staging.dir, () => staging.stage(Readable.from(split(randomBytes(501), [250, 251])), 500));
    assert.equal(outcome.status, 'rejected');
    assert.ok((outcome as PromiseRejectedResult).reason instanceof StagingLimitError, String((outcome as PromiseRejectedResult).reason));
    assert.deepEqual(touched, []);
    assert.deepEqual(await readdir(staging.dir), []);
    // At the cap exactly, it passes (and stays in memory).
    assert.equal(inMemory(await staging.stage(Readable.from(split(randomBytes(500), [250, 250])), 500)).size, 500);
  });

  test('over capBytes after spilling to a file -> StagingLimitError, the file removed, staging folder empty', async () => {
    const staging = await newStaging(1000);
    const body = randomBytes(6000);
    const { outcome, touched } = await watching(staging.dir, () => staging.stage(Readable.from(split(body, Array(60).fill(100))), 5000));
    assert.equal(outcome.status, 'rejected');
    assert.ok((outcome as PromiseRejectedResult).reason instanceof StagingLimitError, String((outcome as PromiseRejectedResult).reason));
    assert.equal(touched.length, 1, `the body had spilled to one temp file before the cap: ${touched.join(', ')}`);
    assert.match(touched[0]!, /\.part$/);
    assert.deepEqual(await readdir(staging.dir), []);
    // At the cap exactly, it passes, in a file.
    const staged = onDisk(await staging.stage(Readable.from(split(body.subarray(0, 5000), Array(50).fill(100))), 5000));
    assert.ok((await readFile(staged.path)).equals(body.subarray(0, 5000)));
    await staging.discard(staged);
  });

  test('a source that fails midway after spilling (generator throws) -> its error, nothing left in the staging folder', async () => {
    const staging = await newStaging(1000);
    async function* failing(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 3; i++) yield randomBytes(700); // 2,100 bytes: past memoryMaxBytes
      await until(async () => (await readdir(staging.dir)).some((name) => name.endsWith('.part')), 'the spill to a temp file');
      throw new Error('client went away');
    }
    const { outcome, touched } = await watching(staging.dir, () => staging.stage(Readable.from(failing()), 1_000_000));
    assert.equal(outcome.status, 'rejected');
    assert.match(String((outcome as PromiseRejectedResult).reason), /client went away/);
    assert.equal(touched.length, 1, 'the failure came after the spill');
    assert.deepEqual(await readdir(staging.dir), []);
  });

  test('a source destroyed midway after spilling (an aborted request) -> its error, nothing left in the staging folder', async () => {
    const staging = await newStaging(1000);
    const source = new Readable({ read() {} });
    const staging$ = staging.stage(source, 1_000_000);
    for (let i = 0; i < 4; i++) source.push(randomBytes(600));
    await until(async () => (await readdir(staging.dir)).length === 1, 'the spill to a temp file');
    source.push(randomBytes(600));
    source.destroy(new Error('aborted mid-upload'));
    await assert.rejects(staging$, /aborted mid-upload/);
    assert.deepEqual(await readdir(staging.dir), []);
  });

  test('a source that fails while still in memory -> its error, no file ever', async () => {
    const staging = await newStaging(1000);
    async function* failing(): AsyncGenerator<Buffer> {
      yield randomBytes(400);
      throw new Error('reset by peer');
    }
    const { outcome, touched } = await watching(staging.dir, () => staging.stage(Readable.from(failing()), 1_000_000));
    assert.match(String((outcome as PromiseRejectedResult).reason), /reset by peer/);
    assert.deepEqual(touched, []);
    assert.deepEqual(await readdir(staging.dir), []);
  });

  test('memoryMaxBytes 0 (the default) always gives a file: a 1-byte body, an empty body, and an explicit 0 per call', async () => {
    for (const staging of [await newStaging(0), await newStaging()]) {
      const { outcome, touched } = await watching(staging.dir, () => staging.stage(Readable.from([Buffer.from('x')]), 100));
      const tiny = onDisk(fulfilled(outcome));
      assert.deepEqual(touched, [basename(tiny.path)]);
      assert.equal(tiny.size, 1);
      assert.equal(tiny.sha256, sha256(Buffer.from('x')));
      assert.equal(await readFile(tiny.path, 'latin1'), 'x');
      const empty = onDisk(await staging.stage(Readable.from([]), 100));
      assert.equal(empty.size, 0);
      assert.equal(empty.sha256, sha256(Buffer.alloc(0)));
      assert.equal((await readFile(empty.path)).length, 0);
      await staging.discard(tiny);
      await staging.discard(empty);
      assert.deepEqual(await readdir(staging.dir), []);
    }
    const withMemory = await newStaging(1000);
    const forced = onDisk(await withMemory.stage(Readable.from([Buffer.from('abc')]), 100, 0));
    assert.equal(await readFile(forced.path, 'latin1'), 'abc');
    await withMemory.discard(forced);
  });

  test('toFile writes an upload held in memory to a temp file with the same bytes, sha256 and head', async () => {
    const staging = await newStaging(65_536);
    const body = randomBytes(50_000);
    const held = inMemory(await staging.stage(Readable.from(split(body, [20_000, 30_000])), 100_000));
    assert.deepEqual(await readdir(staging.dir), []);
    const file = await staging.toFile(held);
    assert.equal(file.kind, 'file');
    assert.deepEqual([file.size, file.sha256], [held.size, held.sha256]);
    assert.ok(file.head.equals(held.head));
    assert.ok((await readFile(file.path)).equals(body));
    await staging.discard(held); // nothing to remove for memory
    assert.deepEqual(await readdir(staging.dir), [basename(file.path)]);
    await staging.discard(file);
    assert.deepEqual(await readdir(staging.dir), []);
  });
});

/** Rows of DATA/meta.sqlite, read beside the running server (a read-only connection, WAL). */
function readDatabase<T>(dbPath: string, read: (db: Database.Database) => T): T {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return read(db);
  } finally {
    db.close();
  }
}

interface RowCounts { media: number; mediaBytes: number }

function rowCounts(dbPath: string): RowCounts {
  return readDatabase(dbPath, (db) => ({
    media: (db.prepare('SELECT count(*) AS n FROM media').get() as { n: number }).n,
    mediaBytes: (db.prepare('SELECT count(*) AS n FROM media_bytes').get() as { n: number }).n,
  }));
}

/** The row's blob_key and, when it has one, its media_bytes content. */
function storedRow(dbPath: string, mediaId: string): { blobKey: string; bytes: Buffer | null } | undefined {
  return readDatabase(dbPath, (db) => {
    const row = db
      .prepare('SELECT m.blob_key AS blobKey, b.bytes AS bytes FROM media m LEFT JOIN media_bytes b ON b.seq = m.seq WHERE m.media_id = ?')
      .get(mediaId) as { blobKey: string; bytes: Buffer | null } | undefined;
    return row;
  });
}

describe('over HTTP on the embedded default (SQLite + disk)', () => {
  let inlineServer: TestServer; // default config: inlineMaxBytes 65,536
  let fileServer: TestServer; // inlineMaxBytes 0
  let inlineToken: string;
  let fileToken: string;
  const dbOf = (server: TestServer): string => dataFolder(server.dataDir).metaDatabase;

  before(async () => {
    inlineServer = await startTestServer({ config: { ...EMBEDDED } });
    fileServer = await startTestServer({ config: { ...EMBEDDED, inlineMaxBytes: 0 } });
    inlineToken = await tokenOf(inlineServer);
    fileToken = await tokenOf(fileServer);
  });
  after(async () => {
    await inlineServer?.close();
    await fileServer?.close();
  });

  async function defaultOrg(server: TestServer): Promise<Org> {
    const org = await server.server.services.metadata.getOrgByName('default');
    assert.ok(org);
    return org;
  }

  async function uploadOk(server: TestServer, token: string, type: string, data: Buffer, name: string): Promise<string> {
    const answer = await upload(server.baseUrl, token, type, data, name);
    assert.equal(answer.errcode, 0, JSON.stringify(answer));
    return answer.media_id!;
  }

  test('the default inlineMaxBytes is 64 KiB on the embedded store; 0 when configured so', () => {
    assert.equal(DEFAULT_INLINE_MAX_BYTES, 65_536);
    assert.equal(inlineServer.server.services.metadata.inlineMaxBytes, 65_536);
    assert.equal(fileServer.server.services.metadata.inlineMaxBytes, 0);
  });

  const atLimit = sampleOfSize('pdf', 65_536);
  const overLimit = sampleOfSize('pdf', 65_537);
  let inlineId: string;

  test('a 65,536-byte pdf (= inlineMaxBytes) is kept in meta.sqlite: no blob file, one media_bytes row, downloads sha256-equal', async () => {
    const blobsBefore = await blobFiles(inlineServer.dataDir);
    const countsBefore = rowCounts(dbOf(inlineServer));
    inlineId = await uploadOk(inlineServer, inlineToken, 'file', atLimit, 'at-limit.pdf');

    assert.deepEqual(await blobFiles(inlineServer.dataDir), blobsBefore, 'no new blob file');
    assert.deepEqual(rowCounts(dbOf(inlineServer)), { media: countsBefore.media + 1, mediaBytes: countsBefore.mediaBytes + 1 });
    const stored = storedRow(dbOf(inlineServer), inlineId);
    assert.ok(stored && isInlineBlobKey(stored.blobKey), `an inline blob key: ${stored?.blobKey}`);
    assert.match(stored.blobKey, /^inline:[0-9a-f]{32}$/);
    assert.ok(stored.bytes?.equals(atLimit), 'media_bytes holds the upload byte for byte');
    assert.deepEqual(await stagingFiles(inlineServer.dataDir), []);

    const { response, bytes } = await downloadBytes(inlineServer.baseUrl, inlineToken, inlineId);
    assert.equal(sha256(bytes), sha256(atLimit));
    assert.equal(response.headers.get('etag'), `"${sha256(atLimit)}"`);
    assert.equal(response.headers.get('content-length'), '65536');
    assert.equal(response.headers.get('content-type'), 'application/pdf');
  });

  test('a 65,537-byte pdf (inlineMaxBytes + 1) is one blob file named by its row, no media_bytes row; downloads sha256-equal', async () => {
    const blobsBefore = await blobFiles(inlineServer.dataDir);
    const countsBefore = rowCounts(dbOf(inlineServer));
    const mediaId = await uploadOk(inlineServer, inlineToken, 'file', overLimit, 'over-limit.pdf');

    const blobsAfter = await blobFiles(inlineServer.dataDir);
    assert.equal(blobsAfter.length, blobsBefore.length + 1, 'one new blob file');
    assert.deepEqual(rowCounts(dbOf(inlineServer)), { media: countsBefore.media + 1, mediaBytes: countsBefore.mediaBytes });
    const stored = storedRow(dbOf(inlineServer), mediaId);
    assert.ok(stored && !isInlineBlobKey(stored.blobKey));
    assert.equal(stored.bytes, null);
    const file = blobsAfter.find((f) => !blobsBefore.includes(f))!;
    assert.equal(basename(file), stored.blobKey, 'the new blob file is the row\'s');
    assert.equal(sha256(await readFile(join(inlineServer.dataDir, 'blobs', file))), sha256(overLimit));
    assert.deepEqual(await stagingFiles(inlineServer.dataDir), []);

    const { bytes } = await downloadBytes(inlineServer.baseUrl, inlineToken, mediaId);
    assert.equal(sha256(bytes), sha256(overLimit));
  });

  describe('Range on the inline media answers as on the same bytes in a blob file', () => {
    let fileBackedId: string;
    before(async () => {
      const blobsBefore = (await blobFiles(fileServer.dataDir)).length;
      fileBackedId = await uploadOk(fileServer, fileToken, 'file', atLimit, 'at-limit.pdf');
      assert.equal((await blobFiles(fileServer.dataDir)).length, blobsBefore + 1, 'the same bytes as a blob file on the other server');
      assert.equal(storedRow(dbOf(fileServer), fileBackedId)?.bytes, null);
    });

    const SIZE = 65_536;
    const ranges: Array<{ header: string; start: number; end: number }> = [
      { header: 'bytes=10-99', start: 10, end: 99 },
      { header: 'bytes=0-0', start: 0, end: 0 },
      { header: 'bytes=-100', start: SIZE - 100, end: SIZE - 1 },
      { header: 'bytes=-1', start: SIZE - 1, end: SIZE - 1 },
      { header: 'bytes=65000-', start: 65_000, end: SIZE - 1 },
      { header: 'bytes=65530-70000', start: 65_530, end: SIZE - 1 },
      { header: 'bytes=0-65535', start: 0, end: SIZE - 1 },
      { header: 'bytes=-70000', start: 0, end: SIZE - 1 },
    ];
    const relevant = ['content-range', 'content-length', 'content-type', 'etag', 'accept-ranges', 'content-disposition'];
    const answerOf = async (response: Response) => ({
      status: response.status,
      headers: Object.fromEntries(relevant.map((name) => [name, response.headers.get(name)])),
      body: Buffer.from(await response.arrayBuffer()),
    });

    for (const { header, start, end } of ranges) {
      test(`Range: ${header} -> 206, Content-Range bytes ${start}-${end}/${SIZE}, exactly those bytes, as from a blob file`, async () => {
        const inline = await answerOf(await fetch(downloadUrl(inlineServer.baseUrl, inlineToken, inlineId), { headers: { range: header } }));
        const fromFile = await answerOf(await fetch(downloadUrl(fileServer.baseUrl, fileToken, fileBackedId), { headers: { range: header } }));
        assert.equal(inline.status, 206);
        assert.equal(inline.headers['content-range'], `bytes ${start}-${end}/${SIZE}`);
        assert.equal(inline.headers['content-length'], String(end - start + 1));
        assert.ok(inline.body.equals(atLimit.subarray(start, end + 1)), 'exactly the asked bytes');
        assert.deepEqual(inline, fromFile);
      });
    }

    test('Range: bytes=65536- -> 416 with Content-Range bytes */65536, as from a blob file', async () => {
      const inline = await answerOf(await fetch(downloadUrl(inlineServer.baseUrl, inlineToken, inlineId), { headers: { range: 'bytes=65536-' } }));
      const fromFile = await answerOf(await fetch(downloadUrl(fileServer.baseUrl, fileToken, fileBackedId), { headers: { range: 'bytes=65536-' } }));
      assert.equal(inline.status, 416);
      assert.equal(inline.headers['content-range'], `bytes */${SIZE}`);
      assert.deepEqual(inline, fromFile);
    });

    test('If-None-Match with the ETag -> 304 with an empty body', async () => {
      const response = await fetch(downloadUrl(inlineServer.baseUrl, inlineToken, inlineId), { headers: { 'if-none-match': `"${sha256(atLimit)}"` } });
      assert.equal(response.status, 304);
      assert.equal((await response.arrayBuffer()).byteLength, 0);
    });
  });

  test('HEAD on the inline media -> 200 with its Content-Length and ETag, not one byte of body on the wire', async () => {
    const { head, bodyBytes } = await rawHead(downloadUrl(inlineServer.baseUrl, inlineToken, inlineId));
    assert.match(head, /^http\/1\.1 200 /);
    assert.match(head, /\r\ncontent-length: 65536\r\n/);
    assert.match(head, new RegExp(`\r\netag: "${sha256(atLimit)}"\r\n`));
    assert.match(head, /\r\ncontent-type: application\/pdf\r\n/);
    assert.equal(bodyBytes, 0, 'nothing after the headers');
  });

  test('with inlineMaxBytes 0 a 119-byte png becomes a blob file, no media_bytes row; downloads sha256-equal', async () => {
    const png = sample('png');
    const blobsBefore = (await blobFiles(fileServer.dataDir)).length;
    const countsBefore = rowCounts(dbOf(fileServer));
    const mediaId = await uploadOk(fileServer, fileToken, 'image', png, 'tiny.png');
    assert.equal((await blobFiles(fileServer.dataDir)).length, blobsBefore + 1);
    assert.deepEqual(rowCounts(dbOf(fileServer)), { media: countsBefore.media + 1, mediaBytes: 0 });
    assert.equal(isInlineBlobKey(storedRow(dbOf(fileServer), mediaId)!.blobKey), false);
    assert.deepEqual(await stagingFiles(fileServer.dataDir), []);
    assert.equal(sha256((await downloadBytes(fileServer.baseUrl, fileToken, mediaId)).bytes), sha256(png));
  });

  // A 1,001-byte part arrives as one chunk: the spill happens on the first chunk (see the staging tests).
  test('OAPI_MEDIA_INLINE_MAX_BYTES=1000 moves the line: a 1,000-byte png inline, a 1,001-byte png a blob file', { timeout: 30_000 }, async () => {
    const server = await startTestServer({ config: { ...EMBEDDED, inlineMaxBytes: '1000' } });
    try {
      const token = await tokenOf(server);
      const small = sampleOfSize('png', 1000);
      const large = sampleOfSize('png', 1001);
      const smallId = await uploadOk(server, token, 'image', small, 'small.png');
      const largeId = await uploadOk(server, token, 'image', large, 'large.png');
      assert.equal((await blobFiles(server.dataDir)).length, 1);
      assert.deepEqual(rowCounts(dataFolder(server.dataDir).metaDatabase), { media: 2, mediaBytes: 1 });
      assert.ok(storedRow(dataFolder(server.dataDir).metaDatabase, smallId)!.bytes?.equals(small));
      const largeRow = storedRow(dataFolder(server.dataDir).metaDatabase, largeId)!;
      assert.equal(largeRow.bytes, null);
      const [blobFile] = await blobFiles(server.dataDir);
      assert.equal(basename(blobFile!), largeRow.blobKey);
      assert.equal(sha256(await readFile(join(server.dataDir, 'blobs', blobFile!))), sha256(large), 'the blob file holds the upload');
      assert.equal(sha256((await downloadBytes(server.baseUrl, token, smallId)).bytes), sha256(small));
      assert.equal(sha256((await downloadBytes(server.baseUrl, token, largeId)).bytes), sha256(large));
    } finally {
      await server.close();
    }
  });

  test('6 concurrent inline uploads under a quota for 3: three stored (rows and bytes), three 45010; no blob file, staging empty', async () => {
    const orgName = 'inline-quota';
    const app = await inlineServer.createApp(orgName);
    const token = await getToken(inlineServer.baseUrl, app.appKey, app.appSecret);
    const png = sampleOfSize('png', 10_000);
    await inlineServer.server.services.admin.setOrgLimits(orgName, { quotaBytes: 3 * png.length });
    const blobsBefore = await blobFiles(inlineServer.dataDir);
    const countsBefore = rowCounts(dbOf(inlineServer));

    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => upload(inlineServer.baseUrl, token, 'image', png, `q${i}.png`)));
    assert.deepEqual(answers.map((a) => a.errcode).sort((a, b) => a - b), [0, 0, 0, 45010, 45010, 45010], JSON.stringify(answers));
    assert.deepEqual(await blobFiles(inlineServer.dataDir), blobsBefore);
    assert.deepEqual(rowCounts(dbOf(inlineServer)), { media: countsBefore.media + 3, mediaBytes: countsBefore.mediaBytes + 3 });
    const org = (await inlineServer.server.services.metadata.getOrgByName(orgName))!;
    assert.deepEqual(await inlineServer.server.services.metadata.usage(org.id), { mediaCount: 3, totalBytes: 3 * png.length });
    assert.deepEqual(await stagingFiles(inlineServer.dataDir), []);
    for (const answer of answers.filter((a) => a.errcode === 0)) {
      assert.equal(sha256((await downloadBytes(inlineServer.baseUrl, token, answer.media_id!)).bytes), sha256(png));
    }
  });

  describe('deleting an inline media removes its row and its bytes; usage drops', () => {
    async function deleteAndCheck(remove: (mediaId: string) => Promise<void>): Promise<void> {
      const { metadata } = inlineServer.server.services;
      const org = await defaultOrg(inlineServer);
      const png = sampleOfSize('png', 20_000);
      const mediaId = await uploadOk(inlineServer, inlineToken, 'image', png, 'to-delete.png');
      const usageBefore = await metadata.usage(org.id);
      const countsBefore = rowCounts(dbOf(inlineServer));
      const blobsBefore = await blobFiles(inlineServer.dataDir);
      assert.ok(storedRow(dbOf(inlineServer), mediaId)?.bytes?.equals(png));

      await remove(mediaId);

      assert.equal(storedRow(dbOf(inlineServer), mediaId), undefined, 'no media row');
      const orphanBytes = readDatabase(dbOf(inlineServer), (db) =>
        (db.prepare('SELECT count(*) AS n FROM media_bytes WHERE seq NOT IN (SELECT seq FROM media)').get() as { n: number }).n);
      assert.equal(orphanBytes, 0, 'no media_bytes row without its media row');
      assert.deepEqual(rowCounts(dbOf(inlineServer)), { media: countsBefore.media - 1, mediaBytes: countsBefore.mediaBytes - 1 });
      assert.equal(await metadata.getInlineBytes(mediaId), null);
      assert.deepEqual(await metadata.usage(org.id), { mediaCount: usageBefore.mediaCount - 1, totalBytes: usageBefore.totalBytes - png.length });
      assert.deepEqual(await blobFiles(inlineServer.dataDir), blobsBefore, 'no blob file touched');
      const answer = (await (await fetch(downloadUrl(inlineServer.baseUrl, inlineToken, mediaId))).json()) as { errcode: number };
      assert.equal(answer.errcode, 40007);
    }

    test('MediaService.remove', async () => {
      await deleteAndCheck(async (mediaId) => {
        const removed = await inlineServer.server.services.admin.deleteMedia(mediaId);
        assert.equal(removed.mediaId, mediaId);
        assert.ok(isInlineBlobKey(removed.blobKey));
      });
    });

    test('oapi-media media delete (the CLI, a separate process on the same data folder)', async () => {
      await deleteAndCheck(async (mediaId) => {
        const result = await cli(['media', 'delete', mediaId, '--data', inlineServer.dataDir]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, `deleted ${mediaId}\n`);
      });
    });

    test('the removal of a blob-backed media still removes its blob file', async () => {
      const png = sampleOfSize('png', 5000);
      const mediaId = await uploadOk(fileServer, fileToken, 'image', png, 'blob.png');
      const key = storedRow(dbOf(fileServer), mediaId)!.blobKey;
      assert.ok((await blobFiles(fileServer.dataDir)).some((f) => basename(f) === key));
      await fileServer.server.services.admin.deleteMedia(mediaId);
      assert.ok(!(await blobFiles(fileServer.dataDir)).some((f) => basename(f) === key), 'blob file gone');
    });
  });
});

describe('SqliteMetadataStore: inserts of one event-loop turn share a transaction, one savepoint per row', () => {
  let dbPath: string;
  let store: SqliteMetadataStore;
  before(async () => {
    dbPath = join(scratch, 'batch.sqlite');
    store = new SqliteMetadataStore(dbPath, { inlineMaxBytes: DEFAULT_INLINE_MAX_BYTES });
    await store.init();
  });
  after(async () => {
    await store?.close();
  });

  async function newOrg(quotaBytes: number | null = null): Promise<Org> {
    const id = `org_${randomBytes(9).toString('base64url')}`;
    const org: Org = { id, name: `n-${id}`, corpId: `ding${randomBytes(16).toString('hex')}`, createdAt: 1_700_000_000_000, quotaBytes, rateLimitPerSecond: null };
    await store.createOrg(org);
    return org;
  }

  function inlineMedia(orgId: string, size: number, overrides: Partial<MediaRow> = {}): { row: MediaRow; bytes: Buffer } {
    const bytes = randomBytes(size);
    const row: MediaRow = {
      mediaId: `@${randomBytes(18).toString('base64url')}`,
      orgId,
      uploadedBy: 'app_batch',
      type: 'file',
      format: 'pdf',
      fileName: 'batch.pdf',
      size,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      blobKey: `inline:${randomBytes(16).toString('hex')}`,
      createdAt: 1_700_000_000_000,
      wire: 'dingtalk',
      expiresAt: null,
      ...overrides,
    };
    return { row, bytes };
  }

  /** Rows and media_bytes rows of one org, counted by a connection of its own. */
  function orgCounts(orgId: string): RowCounts {
    return readDatabase(dbPath, (db) => ({
      media: (db.prepare('SELECT count(*) AS n FROM media WHERE org_id = ?').get(orgId) as { n: number }).n,
      mediaBytes: (db.prepare('SELECT count(*) AS n FROM media_bytes b JOIN media m ON m.seq = b.seq WHERE m.org_id = ?').get(orgId) as { n: number }).n,
    }));
  }

  async function assertStored(entries: Array<{ row: MediaRow; bytes: Buffer }>): Promise<void> {
    for (const { row, bytes } of entries) {
      assert.deepEqual(await store.getMedia(row.mediaId), row);
      const back = await store.getInlineBytes(row.mediaId);
      assert.ok(back?.equals(bytes), `the bytes of ${row.mediaId} read back identical`);
      assert.equal(createHash('sha256').update(back!).digest('hex'), row.sha256);
    }
  }

  async function assertAbsent(rows: MediaRow[]): Promise<void> {
    for (const row of rows) {
      assert.equal(await store.getMedia(row.mediaId), null);
      assert.equal(await store.getInlineBytes(row.mediaId), null);
    }
  }

  test('20 concurrent inserts of 1,000 bytes under a 7,500-byte quota: the first 7 (call order) pass, 13 QuotaExceededError', async () => {
    const quota = 7_500;
    const org = await newOrg(quota);
    const entries = Array.from({ length: 20 }, () => inlineMedia(org.id, 1000));
    const results = await Promise.allSettled(entries.map(({ row, bytes }) => store.insertMedia(row, quota, bytes)));

    assert.deepEqual(results.map((r) => r.status), [...Array(7).fill('fulfilled'), ...Array(13).fill('rejected')]);
    for (const result of results) {
      if (result.status === 'rejected') assert.ok(result.reason instanceof QuotaExceededError, String(result.reason));
    }
    assert.deepEqual(await store.usage(org.id), { mediaCount: 7, totalBytes: 7000 });
    assert.deepEqual(orgCounts(org.id), { media: 7, mediaBytes: 7 });
    await assertStored(entries.slice(0, 7));
    await assertAbsent(entries.slice(7).map((e) => e.row));
  });

  test('20 concurrent inserts of mixed sizes: exactly those a one-by-one insert in call order would accept', async () => {
    const quota = 20_000;
    const org = await newOrg(quota);
    const sizes = Array.from({ length: 20 }, (_, i) => 500 + ((i * 3571) % 2500));
    const entries = sizes.map((size) => inlineMedia(org.id, size));
    const results = await Promise.allSettled(entries.map(({ row, bytes }) => store.insertMedia(row, quota, bytes)));

    let total = 0;
    const expected = sizes.map((size) => (total + size <= quota ? ((total += size), 'fulfilled') : 'rejected'));
    assert.ok(expected.includes('rejected') && expected.includes('fulfilled'), 'the case has both outcomes');
    assert.deepEqual(results.map((r) => r.status), expected);
    const accepted = entries.filter((_, i) => expected[i] === 'fulfilled');
    assert.deepEqual(await store.usage(org.id), { mediaCount: accepted.length, totalBytes: total });
    assert.deepEqual(orgCounts(org.id), { media: accepted.length, mediaBytes: accepted.length });
    await assertStored(accepted);
    await assertAbsent(entries.filter((_, i) => expected[i] === 'rejected').map((e) => e.row));
  });

  test('a duplicate media_id in a concurrent batch -> ConflictError for it alone; the other rows stored, the first keeps its bytes', async () => {
    const org = await newOrg();
    const entries = Array.from({ length: 10 }, () => inlineMedia(org.id, 300));
    const duplicate = inlineMedia(org.id, 400, { mediaId: entries[3]!.row.mediaId });
    const batch = [...entries.slice(0, 7), duplicate, ...entries.slice(7)];
    const results = await Promise.allSettled(batch.map(({ row, bytes }) => store.insertMedia(row, null, bytes)));

    assert.deepEqual(results.map((r) => r.status), batch.map((e) => (e === duplicate ? 'rejected' : 'fulfilled')));
    assert.ok((results[7] as PromiseRejectedResult).reason instanceof ConflictError, String((results[7] as PromiseRejectedResult).reason));
    assert.deepEqual(await store.usage(org.id), { mediaCount: 10, totalBytes: 3000 });
    assert.deepEqual(orgCounts(org.id), { media: 10, mediaBytes: 10 });
    await assertStored(entries);
  });

  test('one batch with a quota refusal, a duplicate of a committed row and an over-sized body: only those three fail', async () => {
    const quota = 5_000;
    const org = await newOrg(quota);
    const committed = inlineMedia(org.id, 1000);
    await store.insertMedia(committed.row, quota, committed.bytes);

    const good = [inlineMedia(org.id, 1000), inlineMedia(org.id, 1000), inlineMedia(org.id, 1500)];
    const overQuota = inlineMedia(org.id, 3001); // 1,000 committed + 1,000 + 3,001 > 5,000; the rows after it still fit
    const duplicate = inlineMedia(org.id, 10, { mediaId: committed.row.mediaId });
    const oversized = inlineMedia(org.id, DEFAULT_INLINE_MAX_BYTES + 1);
    const batch = [good[0]!, overQuota, duplicate, good[1]!, oversized, good[2]!];
    const results = await Promise.allSettled(batch.map(({ row, bytes }) => store.insertMedia(row, quota, bytes)));

    const reasons = results.map((r) => (r.status === 'rejected' ? (r.reason as Error) : null));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    assert.ok(reasons[1] instanceof QuotaExceededError, String(reasons[1]));
    assert.ok(reasons[2] instanceof ConflictError, String(reasons[2]));
    assert.match(String(reasons[4]), /inlineMaxBytes/);
    assert.deepEqual(await store.usage(org.id), { mediaCount: 4, totalBytes: 4500 });
    assert.deepEqual(orgCounts(org.id), { media: 4, mediaBytes: 4 });
    await assertStored([committed, ...good]);
    await assertAbsent([overQuota.row, oversized.row]);
  });

  test('bytes of exactly inlineMaxBytes are kept; rows without bytes have none; the rows and bytes survive a reopen', async () => {
    const org = await newOrg();
    const max = inlineMedia(org.id, DEFAULT_INLINE_MAX_BYTES);
    const plain = inlineMedia(org.id, 5_000_000, { blobKey: randomBytes(16).toString('hex') });
    await Promise.all([store.insertMedia(max.row, null, max.bytes), store.insertMedia(plain.row, null)]);
    assert.deepEqual(orgCounts(org.id), { media: 2, mediaBytes: 1 });
    assert.equal(await store.getInlineBytes(plain.row.mediaId), null);

    await store.close();
    store = new SqliteMetadataStore(dbPath, { inlineMaxBytes: DEFAULT_INLINE_MAX_BYTES });
    await store.init();
    await assertStored([max]);
    assert.deepEqual(await store.getMedia(plain.row.mediaId), plain.row);
    assert.deepEqual(await store.usage(org.id), { mediaCount: 2, totalBytes: DEFAULT_INLINE_MAX_BYTES + 5_000_000 });
  });

  test('deleteMedia takes the media_bytes row with the row (raw count 0) and lowers usage', async () => {
    const org = await newOrg();
    const entries = [inlineMedia(org.id, 700), inlineMedia(org.id, 800)];
    await Promise.all(entries.map(({ row, bytes }) => store.insertMedia(row, null, bytes)));
    assert.deepEqual(orgCounts(org.id), { media: 2, mediaBytes: 2 });

    assert.deepEqual(await store.deleteMedia(entries[0]!.row.mediaId), entries[0]!.row);
    assert.deepEqual(orgCounts(org.id), { media: 1, mediaBytes: 1 });
    assert.deepEqual(await store.usage(org.id), { mediaCount: 1, totalBytes: 800 });
    await assertAbsent([entries[0]!.row]);
    await assertStored([entries[1]!]);
    await store.deleteMedia(entries[1]!.row.mediaId);
    assert.deepEqual(orgCounts(org.id), { media: 0, mediaBytes: 0 });
    assert.deepEqual(await store.usage(org.id), { mediaCount: 0, totalBytes: 0 });
  });

  test('a store with inlineMaxBytes 0 (the constructor default) refuses bytes and stores nothing', async () => {
    const path = join(scratch, 'no-inline.sqlite');
    const plain = new SqliteMetadataStore(path);
    await plain.init();
    try {
      assert.equal(plain.inlineMaxBytes, 0);
      const id = `org_${randomBytes(9).toString('base64url')}`;
      await plain.createOrg({ id, name: id, corpId: `ding${randomBytes(16).toString('hex')}`, createdAt: 1, quotaBytes: null, rateLimitPerSecond: null });
      const { row, bytes } = inlineMedia(id, 10);
      await assert.rejects(plain.insertMedia(row, null, bytes), /inlineMaxBytes/);
      assert.equal(await plain.getMedia(row.mediaId), null);
      assert.deepEqual(await plain.usage(id), { mediaCount: 0, totalBytes: 0 });
    } finally {
      await plain.close();
    }
  });
});

describe('config: OAPI_MEDIA_INLINE_MAX_BYTES', () => {
  test('unset -> 65,536; 0, 65536 and 1048576 accepted from the environment', () => {
    assert.equal(loadConfig({}, {}).inlineMaxBytes, 65_536);
    assert.equal(LARGEST_INLINE_MAX_BYTES, 1_048_576);
    for (const value of ['0', '65536', '1048576']) {
      assert.equal(loadConfig({}, { OAPI_MEDIA_INLINE_MAX_BYTES: value }).inlineMaxBytes, Number(value));
    }
  });

  test('the input (a flag or a test) wins over the environment, as a number or a string', () => {
    assert.equal(loadConfig({ inlineMaxBytes: 0 }, { OAPI_MEDIA_INLINE_MAX_BYTES: '1000' }).inlineMaxBytes, 0);
    assert.equal(loadConfig({ inlineMaxBytes: '4096' }, {}).inlineMaxBytes, 4096);
  });

  for (const value of ['-1', '1048577', '1.5', 'abc', 'NaN', 'Infinity']) {
    test(`OAPI_MEDIA_INLINE_MAX_BYTES=${value} -> ConfigError naming the setting`, () => {
      assert.throws(() => loadConfig({}, { OAPI_MEDIA_INLINE_MAX_BYTES: value }), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, /inline max bytes/);
        return true;
      });
    });
  }

  test('the same bounds for a number given as input', () => {
    for (const value of [-1, 1_048_577, 1.5, Number.NaN]) {
      assert.throws(() => loadConfig({ inlineMaxBytes: value }, {}), ConfigError, String(value));
    }
  });
});

describe('detectFormat on bytes in memory answers as on the same bytes in a file', () => {
  type Outcome = { format: MediaFormat | null } | { error: string };
  const outcomeOf = async (detection: Promise<MediaFormat | null>): Promise<Outcome> => {
    try {
      return { format: await detection };
    } catch (error) {
      return { error: (error as Error).name };
    }
  };

  /** Detects `bytes` from a file, from memory, and from memory with the stager's sample: all the same. */
  async function bothWays(bytes: Buffer): Promise<Outcome> {
    const path = join(scratch, `detect-${counter++}`);
    await writeFile(path, bytes);
    try {
      const fromFile = await outcomeOf(detectFormat(path));
      const fromFileWithSample = await outcomeOf(detectFormat(path, { size: bytes.length, head: bytes.subarray(0, SNIFF_BYTES) }));
      const fromMemory = await outcomeOf(detectFormat(bytes));
      const fromMemoryWithSample = await outcomeOf(detectFormat(bytes, { size: bytes.length, head: bytes.subarray(0, SNIFF_BYTES) }));
      assert.deepEqual(fromFileWithSample, fromFile, 'file with the stager\'s sample');
      assert.deepEqual(fromMemory, fromFile, 'in memory');
      assert.deepEqual(fromMemoryWithSample, fromFile, 'in memory with the stager\'s sample');
      return fromFile;
    } finally {
      await rm(path);
    }
  }

  for (const format of ALL_FORMATS) {
    test(`${format}: the sample and sizes around 64 KiB detect as ${format} from memory as from a file`, async () => {
      const sizes = [minimumSampleSize(format), 65_535, 65_536, 65_537, 300_000];
      for (const bytes of [sample(format), ...sizes.map((size) => sampleOfSize(format, size))]) {
        assert.deepEqual(await bothWays(bytes), { format }, `${format} of ${bytes.length} bytes`);
      }
    });
  }

  test('spoofs, an empty body and truncated files: the same answer (null) both ways', async () => {
    const nulls: Array<[string, Buffer]> = [
      ['html', spoofs.html], ['exe', spoofs.exe], ['text starting with BM', spoofs.text], ['empty', Buffer.alloc(0)],
      ['png cut at 10', sample('png').subarray(0, 10)], ['bmp cut at 20', sample('bmp').subarray(0, 20)],
      ['mp4 ftyp cut short', sample('mp4').subarray(0, 20)], ['zip without central directory', sample('zip').subarray(0, 40)],
      ['docx without its last 10 bytes', sample('docx').subarray(0, sample('docx').length - 10)],
      ['mp3 whose ID3 tag claims more than the file', sample('mp3').subarray(0, 40)],
      ...[8, 511, 512, 1024, sample('xls').length - 512].map((n): [string, Buffer] => [`xls cut at ${n}`, sample('xls').subarray(0, n)]),
      ['compound file without a main stream', writeCompoundFile([{ name: 'EncryptionInfo', data: Buffer.alloc(200) }, { name: 'EncryptedPackage', data: Buffer.alloc(5000) }])],
    ];
    for (const [what, bytes] of nulls) assert.deepEqual(await bothWays(bytes), { format: null }, what);
    assert.deepEqual(await bothWays(spoofs.gifHtmlPolyglot), { format: 'gif' });
  });

  test('malformed compound files and mp3 frames: the same answer (null) both ways', async () => {
    const looping = Buffer.from(sample('xls'));
    looping.writeUInt32LE(looping.readUInt32LE(48), (looping.readUInt32LE(76) + 1) * 512 + 4 * looping.readUInt32LE(48));
    const pastEnd = Buffer.from(sample('doc'));
    pastEnd.writeUInt32LE(0x00ffffff, 48);
    const absurdFat = Buffer.from(sample('doc'));
    absurdFat.writeUInt32LE(0xffffffff, 44);
    const badSectorShift = Buffer.from(sample('doc'));
    badSectorShift.writeUInt16LE(30, 30);
    const frameAt = sample('mp3').indexOf(Buffer.from([0xff, 0xfb]));
    const badVersion = Buffer.from(sample('mp3'));
    badVersion[frameAt + 1] = 0xeb;
    const badBitrate = Buffer.from(sample('mp3'));
    badBitrate[frameAt + 2] = 0xf0;
    const cases: Array<[string, Buffer]> = [
      ['looping directory chain', looping], ['directory past the end', pastEnd], ['absurd FAT count', absurdFat],
      ['bad sector shift', badSectorShift], ['mp3 reserved version', badVersion], ['mp3 bad bitrate', badBitrate],
    ];
    for (const [what, bytes] of cases) assert.deepEqual(await bothWays(bytes), { format: null }, what);
  });

  test('container edge cases: the same answer both ways', async () => {
    const withBrands = (major: string, compatible: string): Buffer => {
      const bytes = Buffer.from(sample('mp4'));
      bytes.write(major, 8, 'latin1');
      bytes.write(compatible, 16, 'latin1');
      return bytes;
    };
    const docm = writeZip(ooxmlParts.docx().map((part) => part.name !== '[Content_Types].xml' ? part : {
      ...part,
      data: Buffer.from(part.data.toString().replace(
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml',
        'application/vnd.ms-word.document.macroEnabled.main+xml',
      )),
    }));
    const cases: Array<[string, Buffer, MediaFormat | null]> = [
      ['mp4 with mp42/isom', withBrands('mp42', 'isom'), 'mp4'],
      ['QuickTime', withBrands('qt  ', 'qt  '), null],
      ['M4A', withBrands('M4A ', 'isom'), null],
      ['docm', docm, 'zip'],
      ['empty zip', writeZip([]), 'zip'],
      ['zip without [Content_Types].xml', writeZip(ooxmlParts.docx().filter((p) => p.name !== '[Content_Types].xml')), 'zip'],
      ['xls with an embedded doc', xlsWithEmbeddedDoc(), 'xls'],
      ['docx whose first entry is 200 kB of media', docxWithLeadingMedia(200_000), 'docx'],
    ];
    for (const [what, bytes, format] of cases) assert.deepEqual(await bothWays(bytes), { format }, what);
  });

  test('random corruptions of docx, xls, ppt, mp3, mp4 and pdf: the same answer (or the same error) both ways', { timeout: 120_000 }, async () => {
    for (const format of ['docx', 'xls', 'ppt', 'mp3', 'mp4', 'pdf'] as const) {
      const original = sample(format);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat(original.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
          fc.option(fc.nat(original.length), { nil: undefined }),
          async (changes, cut) => {
            const bytes = Buffer.from(original.subarray(0, cut ?? original.length));
            for (const [at, value] of changes) if (at < bytes.length) bytes[at] = value;
            await bothWays(bytes);
          },
        ),
        { numRuns: 60 },
      );
    }
  });
});
