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
import { describeBlobStore } from './conformance/blob-store.ts';
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
    old.exec(`INSERT INTO orgs VALUES ('org_1', 'acme', 'ding1', 1000, 5000, 7);
              INSERT INTO orgs VALUES ('org_2', 'beta', 'ding2', 1000, NULL, NULL);
              INSERT INTO apps VALUES ('app_1', 'org_1', 'uploader', 'key1', 'hash1', 1001);
              INSERT INTO tokens VALUES ('t1', 'n1', 'app_1', 'org_1', 2000, 9000);
              INSERT INTO media (media_id, org_id, uploaded_by, type, format, file_name, size, sha256, blob_key, created_at)
                VALUES ('@a', 'org_1', 'app_1', 'file', 'pdf', 'a.pdf', 3, 'sa', 'inline:a', 3000),
                       ('@b', 'org_1', 'app_1', 'image', 'png', 'b.png', 40, 'sb', 'blob-b', 3000),
                       ('@c', 'org_1', 'app_1', 'file', 'pdf', 'c.pdf', 5, 'sc', 'blob-c', 2000);
              INSERT INTO media_bytes VALUES ((SELECT seq FROM media WHERE media_id = '@a'), x'616263');
              INSERT INTO org_usage VALUES ('org_1', 3, 48);
              INSERT INTO suites VALUES ('suite_1', 'S', 'skey', 'v1.x.y', 500);
              INSERT INTO suite_authorizations VALUES ('suite_1', 'org_1', 600);`);
    old.close();

    const store = new SqliteMetadataStore(path, { inlineMaxBytes: DEFAULT_INLINE_MAX_BYTES });
    await store.init();
    try {
      const check = new Database(path, { readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), 4);
      check.close();
      assert.deepEqual(await store.getOrgByName('acme'), { id: 'org_1', name: 'acme', corpId: 'ding1', createdAt: 1000, quotaBytes: 5000, rateLimitPerSecond: 7 });
      assert.deepEqual((await store.listOrgs()).map((o) => o.name), ['acme', 'beta']);
      assert.deepEqual((await store.listApps('org_1')).map((a) => a.appKey), ['key1']);
      assert.equal((await store.findValidToken('app_1', 'org_1', 5000))?.tokenHash, 't1');
      const page = await store.listMedia('org_1', { limit: 2 });
      assert.deepEqual(page.items.map((m) => m.mediaId), ['@b', '@a']);
      assert.deepEqual((await store.listMedia('org_1', { limit: 2, after: page.next! })).items.map((m) => m.mediaId), ['@c']);
      assert.equal((await store.getInlineBytes('@a'))?.toString(), 'abc');
      assert.deepEqual(await store.usage('org_1'), { mediaCount: 3, totalBytes: 48 });
      assert.equal(await store.isSuiteAuthorized('suite_1', 'org_1'), true);
      // Writes too: an org of the old file without a usage row, and a delete taking inline bytes.
      await store.insertMedia({ mediaId: '@d', orgId: 'org_2', uploadedBy: 'x', type: 'file', format: 'pdf', fileName: 'd', size: 9, sha256: 's', blobKey: 'blob-d', createdAt: 4000 }, null);
      assert.deepEqual(await store.usage('org_2'), { mediaCount: 1, totalBytes: 9 });
      assert.equal((await store.deleteMedia('@a'))?.mediaId, '@a');
      assert.equal(await store.getInlineBytes('@a'), null);
      assert.deepEqual(await store.usage('org_1'), { mediaCount: 2, totalBytes: 45 });
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
