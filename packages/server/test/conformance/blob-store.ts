// The BlobStore conformance suite: every backend (fs.ts, s3.ts) must pass it unchanged. The
// factory returns an initialised, empty store; the suite shares it across its tests.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { BlobNotFoundError, type BlobInfo, type BlobStore } from '../../src/stores/blobs/interface.ts';

export type BlobStoreFactory = () => Promise<{ store: BlobStore; cleanup(): Promise<void> }>;

/** 5 MiB + 1: one byte past the usual multipart part size, so S3 stores take the multipart path. */
const BIG_BLOB_BYTES = 5 * 1024 * 1024 + 1;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function listAll(store: BlobStore): Promise<Map<string, BlobInfo>> {
  const found = new Map<string, BlobInfo>();
  for await (const info of store.list()) {
    assert.ok(!found.has(info.key), `list() yielded ${info.key} twice`);
    found.set(info.key, info);
  }
  return found;
}

function uniqueKey(): string {
  return `conformance-${randomBytes(12).toString('hex')}`;
}

export function describeBlobStore(name: string, factory: BlobStoreFactory): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let store: BlobStore;
    let cleanup: () => Promise<void>;
    let stagingDir: string;

    before(async () => {
      ({ store, cleanup } = await factory());
      stagingDir = await mkdtemp(join(tmpdir(), 'oapi-blob-staging-'));
    });
    after(async () => {
      await cleanup?.();
      if (stagingDir) await rm(stagingDir, { recursive: true, force: true });
    });

    async function stage(bytes: Buffer): Promise<string> {
      const path = join(stagingDir, `staged-${randomBytes(8).toString('hex')}`);
      await writeFile(path, bytes);
      return path;
    }

    async function put(bytes: Buffer): Promise<string> {
      const key = uniqueKey();
      await store.putFile(key, await stage(bytes), bytes.length);
      return key;
    }

    describe('with a 5 MiB + 1 byte random blob', () => {
      const bytes = randomBytes(BIG_BLOB_BYTES);
      let key: string;

      test('putFile stores it and consumes the staged file', async () => {
        key = uniqueKey();
        const stagedPath = await stage(bytes);
        await store.putFile(key, stagedPath, bytes.length);
        assert.equal(existsSync(stagedPath), false, 'the staged file is still there');
      });

      test('get without a range returns every byte (sha256 equal)', async () => {
        const got = await readAll(await store.get(key));
        assert.equal(got.length, bytes.length);
        assert.equal(sha256(got), sha256(bytes));
      });

      test('get of the first byte, the last byte, a middle range and across 5 MiB', async () => {
        const last = bytes.length - 1;
        const boundary = 5 * 1024 * 1024;
        for (const range of [
          { start: 0, end: 0 },
          { start: last, end: last },
          { start: 1_000_000, end: 1_065_535 },
          { start: boundary - 10, end: boundary },
          { start: 0, end: last },
        ]) {
          const got = await readAll(await store.get(key, range));
          assert.equal(got.length, range.end - range.start + 1, `length of ${JSON.stringify(range)}`);
          assert.ok(got.equals(bytes.subarray(range.start, range.end + 1)), `bytes of ${JSON.stringify(range)}`);
        }
      });

      test('list sees it with its size', async () => {
        const info = (await listAll(store)).get(key);
        assert.ok(info, 'list() misses a blob that was put');
        assert.equal(info.size, bytes.length);
        assert.equal(typeof info.lastModified, 'number');
        assert.ok(Math.abs(info.lastModified - Date.now()) < 10 * 60_000, `lastModified ${info.lastModified} is not recent`);
      });
    });

    test('small blobs round-trip byte for byte, each under its own key', async () => {
      const blobs = [Buffer.from('a'), Buffer.from('hello, 世界'), randomBytes(70_000)];
      const keys: string[] = [];
      for (const blob of blobs) keys.push(await put(blob));
      for (const [i, blob] of blobs.entries()) {
        assert.ok((await readAll(await store.get(keys[i]!))).equals(blob));
      }
      const listed = await listAll(store);
      for (const [i, blob] of blobs.entries()) assert.equal(listed.get(keys[i]!)?.size, blob.length);
    });

    test('get of a missing key -> BlobNotFoundError, with or without a range', async () => {
      await assert.rejects(store.get(uniqueKey()), BlobNotFoundError);
      await assert.rejects(store.get(uniqueKey(), { start: 0, end: 0 }), BlobNotFoundError);
    });

    test('delete removes the blob from get and list; deleting again or a missing key is fine', async () => {
      const keep = await put(Buffer.from('keep me'));
      const key = await put(randomBytes(1024));
      await store.delete(key);
      await assert.rejects(store.get(key), BlobNotFoundError);
      const listed = await listAll(store);
      assert.equal(listed.has(key), false, 'list() still shows a deleted blob');
      assert.equal(listed.has(keep), true);
      await store.delete(key);
      await store.delete(uniqueKey());
      assert.equal((await readAll(await store.get(keep))).toString(), 'keep me');
    });

    test('putFile of a missing staged file rejects and leaves nothing under the key', async () => {
      const key = uniqueKey();
      await assert.rejects(store.putFile(key, join(stagingDir, 'never-staged'), 10));
      await assert.rejects(store.get(key), BlobNotFoundError);
      assert.equal((await listAll(store)).has(key), false);
    });

    test('ping resolves on a healthy store', async () => {
      await store.ping();
    });
  });
}
