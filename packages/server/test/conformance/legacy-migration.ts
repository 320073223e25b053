// A database made by earlier releases, migrated forward: the same rows and the same answers on
// every engine (stores-local.test.ts: a SQLite file at user_version 3; stores-postgres.test.ts: a
// schema at migrations {1, 2}). Each file builds its old schema, inserts legacyRowsSql() plus what
// only its engine had, opens the store on it and calls assertLegacyRowsMigrated().

import assert from 'node:assert/strict';
import type { MetadataStore } from '../../src/stores/metadata/interface.ts';

/**
 * The rows both old schemas take: two orgs (org_1 with a quota of 5000 bytes and a rate limit),
 * an app, a token, three media of org_1 (48 bytes, two created at the same time) with its usage
 * row, a suite authorized for org_1; no usage row for org_2. `@a`'s blob key is the engine's (SQLite kept small files inline).
 */
export function legacyRowsSql(blobKeyOfA: string): string {
  return `INSERT INTO orgs VALUES ('org_1', 'acme', 'ding1', 1000, 5000, 7);
          INSERT INTO orgs VALUES ('org_2', 'beta', 'ding2', 1000, NULL, NULL);
          INSERT INTO apps VALUES ('app_1', 'org_1', 'uploader', 'key1', 'hash1', 1001);
          INSERT INTO tokens VALUES ('t1', 'n1', 'app_1', 'org_1', 2000, 9000);
          INSERT INTO media (media_id, org_id, uploaded_by, type, format, file_name, size, sha256, blob_key, created_at)
            VALUES ('@a', 'org_1', 'app_1', 'file', 'pdf', 'a.pdf', 3, 'sa', '${blobKeyOfA}', 3000),
                   ('@b', 'org_1', 'app_1', 'image', 'png', 'b.png', 40, 'sb', 'blob-b', 3000),
                   ('@c', 'org_1', 'app_1', 'file', 'pdf', 'c.pdf', 5, 'sc', 'blob-c', 2000);
          INSERT INTO org_usage VALUES ('org_1', 3, 48);
          INSERT INTO suites VALUES ('suite_1', 'S', 'skey', 'v1.x.y', 500);
          INSERT INTO suite_authorizations VALUES ('suite_1', 'org_1', 600);`;
}

export interface LegacyExtras {
  /** `@a`'s bytes kept with its row (SQLite's media_bytes): read back, and gone with the row. */
  inlineBytesOfA?: string;
}

/** The store opened (and migrated) on legacyRowsSql()'s rows reads them all, and writes over them. */
export async function assertLegacyRowsMigrated(store: MetadataStore, extras: LegacyExtras = {}): Promise<void> {
  assert.deepEqual(await store.getOrgByName('acme'), { id: 'org_1', name: 'acme', corpId: 'ding1', createdAt: 1000, quotaBytes: 5000, rateLimitPerSecond: 7 });
  assert.deepEqual((await store.listOrgs()).map((o) => o.name), ['acme', 'beta']);
  assert.deepEqual((await store.listApps('org_1')).map((a) => a.appKey), ['key1']);
  assert.equal((await store.findValidToken('app_1', 'org_1', 5000))?.tokenHash, 't1');
  // Migration 5 (issue 16): what existed before wires is DingTalk's, and permanent.
  assert.deepEqual((await store.listApps('org_1')).map((a) => a.wire), ['dingtalk']);
  assert.equal((await store.findValidToken('app_1', 'org_1', 5000))?.wire, 'dingtalk');
  assert.deepEqual([(await store.getMedia('@a'))?.wire, (await store.getMedia('@a'))?.expiresAt], ['dingtalk', null]);
  const page = await store.listMedia('org_1', { limit: 2 });
  assert.deepEqual(page.items.map((m) => m.mediaId), ['@b', '@a']);
  assert.deepEqual((await store.listMedia('org_1', { limit: 2, after: page.next! })).items.map((m) => m.mediaId), ['@c']);
  assert.deepEqual(await store.usage('org_1'), { mediaCount: 3, totalBytes: 48 });
  assert.equal(await store.isSuiteAuthorized('suite_1', 'org_1'), true);
  if (extras.inlineBytesOfA !== undefined) assert.equal((await store.getInlineBytes('@a'))?.toString(), extras.inlineBytesOfA);

  // Writes: an upload that fills a quota of 50 bytes exactly, then a delete.
  await store.insertMedia({ mediaId: '@d', orgId: 'org_1', uploadedBy: 'x', type: 'file', format: 'pdf', fileName: 'd', size: 2, sha256: 's', blobKey: 'blob-d', createdAt: 4000, wire: 'dingtalk', expiresAt: null }, 50);
  assert.deepEqual(await store.usage('org_1'), { mediaCount: 4, totalBytes: 50 });
  assert.equal((await store.deleteMedia('@a'))?.mediaId, '@a');
  assert.deepEqual(await store.usage('org_1'), { mediaCount: 3, totalBytes: 47 });
  if (extras.inlineBytesOfA !== undefined) assert.equal(await store.getInlineBytes('@a'), null);
  // org_2 has no usage row in an old SQLite file (a zero one on PostgreSQL): its first upload counts from zero.
  await store.insertMedia({ mediaId: '@e', orgId: 'org_2', uploadedBy: 'x', type: 'file', format: 'pdf', fileName: 'e', size: 9, sha256: 's', blobKey: 'blob-e', createdAt: 4000, wire: 'dingtalk', expiresAt: null }, null);
  assert.deepEqual(await store.usage('org_2'), { mediaCount: 1, totalBytes: 9 });
}
