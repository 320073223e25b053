// The default single-machine stores (SQLite + disk) against the conformance suites of both seams.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_INLINE_MAX_BYTES } from '../src/config.ts';
import { FsBlobStore } from '../src/stores/blobs/fs.ts';
import { SqliteMetadataStore } from '../src/stores/metadata/sqlite.ts';
import { MIGRATIONS } from '../src/stores/metadata/schema.ts';
import { describeBlobStore } from './conformance/blob-store.ts';
import { assertLegacyRowsMigrated, legacyRowsSql } from './conformance/legacy-migration.ts';
import { describeMetadataStore } from './conformance/metadata-store.ts';
import { LEGACY_SQLITE_MIGRATIONS } from './fixtures/legacy-schema/sqlite-v3.ts';

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

test('a SQLite file at user_version 3, made by the schema of earlier releases, opens and migrates forward with its rows', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-sqlite-legacy-'));
  const path = join(dir, 'meta.sqlite');
  try {
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    for (const [i, ddl] of LEGACY_SQLITE_MIGRATIONS.entries()) {
      old.exec(ddl);
      old.pragma(`user_version = ${i + 1}`);
    }
    assert.equal(old.pragma('user_version', { simple: true }), 3);
    old.exec(legacyRowsSql('inline:a'));
    old.exec(`INSERT INTO media_bytes VALUES ((SELECT seq FROM media WHERE media_id = '@a'), x'616263')`);
    old.close();

    const store = new SqliteMetadataStore(path, { inlineMaxBytes: DEFAULT_INLINE_MAX_BYTES });
    await store.init();
    try {
      const check = new Database(path, { readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), MIGRATIONS.length);
      check.close();
      await assertLegacyRowsMigrated(store, { inlineBytesOfA: 'abc' });
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
