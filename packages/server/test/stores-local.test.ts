// The default single-machine stores (SQLite + disk) against the conformance suites of both seams.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_INLINE_MAX_BYTES } from '../src/config.ts';
import { FsBlobStore } from '../src/stores/blobs/fs.ts';
import { SqliteMetadataStore } from '../src/stores/metadata/sqlite.ts';
import { describeBlobStore } from './conformance/blob-store.ts';
import { describeMetadataStore } from './conformance/metadata-store.ts';

// With the server's default inlineMaxBytes, so that the suite's tests of bytes kept with a row run.
describeMetadataStore('SQLite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-sqlite-'));
  let held: Promise<void> | undefined;
  const store = new SqliteMetadataStore(join(dir, 'metadata.db'), {
    inlineMaxBytes: DEFAULT_INLINE_MAX_BYTES,
    async syncWal(fdatasync) {
      await held;
      await fdatasync();
    },
  });
  await store.init();
  return {
    store,
    holdDurability() {
      let release!: () => void;
      held = new Promise((resolve) => (release = resolve));
      return () => {
        held = undefined;
        release();
      };
    },
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}, { keepsBytes: true });

// The suite stages files in the OS temp folder, on the same filesystem as this root (FsBlobStore renames).
describeBlobStore('local disk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-fs-blobs-'));
  const store = new FsBlobStore(dir);
  await store.init();
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
