// Upload sessions (issue 18) in the MetadataStore conformance suite: run by describeMetadataStore
// on every engine (SQLite, PostgreSQL) unchanged. The store is the suite's shared one, so every
// test makes its own org and session ids.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  QuotaExceededError,
  UploadSessionGoneError,
  type MediaRow,
  type MetadataStore,
  type Org,
  type UploadChunkRow,
  type UploadSessionRow,
} from '../../src/stores/metadata/interface.ts';

const NOW = 1_700_000_000_000;
const DAY_MS = 24 * 3600 * 1000;
/** Larger than 2^32: a session's size must survive as a 64-bit integer. */
const FIVE_GIB = 5 * 1024 * 1024 * 1024;

const id = (prefix: string): string => `${prefix}${randomBytes(9).toString('base64url')}`;

function makeSession(orgId: string, overrides: Partial<UploadSessionRow> = {}): UploadSessionRow {
  return {
    id: id('us_'), orgId, wire: 'dingtalk', principal: 'app_x', protocol: 'dingtalk',
    fileSize: 300, chunkCount: 3, metadata: '{"name":"报告.pdf"}', createdAt: NOW, expiresAt: NOW + DAY_MS, ...overrides,
  };
}

function makeChunk(sessionId: string, seq: number, overrides: Partial<UploadChunkRow> = {}): UploadChunkRow {
  return {
    sessionId, seq, offset: (seq - 1) * 100, size: 100, sha256: randomBytes(32).toString('hex'),
    blobKey: id('chunk-'), createdAt: NOW, ...overrides,
  };
}

function mediaOf(session: UploadSessionRow, overrides: Partial<MediaRow> = {}): MediaRow {
  return {
    mediaId: `#${randomBytes(18).toString('base64url')}`, orgId: session.orgId, uploadedBy: session.principal, type: 'file',
    format: 'bin', fileName: 'x.bin', size: session.fileSize, sha256: randomBytes(32).toString('hex'), blobKey: id('blob-'),
    createdAt: NOW, wire: 'dingtalk', expiresAt: null, ...overrides,
  };
}

export function describeUploadSessions(getStore: () => MetadataStore): void {
  describe('upload sessions (issue 18)', () => {
    async function newOrg(quotaBytes: number | null = null): Promise<Org> {
      const org: Org = { id: id('org_'), name: id('n-'), corpId: id('ding'), createdAt: NOW, quotaBytes, rateLimitPerSecond: null };
      await getStore().createOrg(org);
      return org;
    }

    test('a session round-trips, 64-bit size and nulls included; an unknown id is null', async () => {
      const store = getStore();
      const org = await newOrg();
      const session = makeSession(org.id, { fileSize: FIVE_GIB, chunkCount: null, protocol: 'tus' });
      await store.createUploadSession(session, null);
      assert.deepEqual(await store.getUploadSession(session.id), session);
      assert.equal(await store.getUploadSession('us_unknown'), null);
      assert.equal(await store.getUploadSession('us_\0nul'), null);
    });

    test('chunks: added once per seq, the one there returned on a resend, listed in seq order, progress counted', async () => {
      const store = getStore();
      const org = await newOrg();
      const session = makeSession(org.id);
      await store.createUploadSession(session, null);
      const third = makeChunk(session.id, 3);
      const first = makeChunk(session.id, 1);
      assert.equal(await store.addUploadChunk(third), null);
      assert.equal(await store.addUploadChunk(first), null);
      assert.deepEqual(await store.addUploadChunk(makeChunk(session.id, 1, { sha256: 'other' })), first, 'the first kept, returned');
      assert.deepEqual(await store.listUploadChunks(session.id, 0, 10), [first, third]);
      assert.deepEqual(await store.listUploadChunks(session.id, 1, 10), [third]);
      assert.deepEqual(await store.listUploadChunks(session.id, 0, 1), [first]);
      assert.deepEqual(await store.uploadProgress(session.id), { chunks: 2, bytes: 200, lastSeq: 3 });
      assert.deepEqual(await store.uploadProgress('us_none'), { chunks: 0, bytes: 0, lastSeq: 0 });
      const referenced = await store.referencedBlobKeys([first.blobKey, third.blobKey, 'chunk-none']);
      assert.deepEqual([...referenced].sort(), [first.blobKey, third.blobKey].sort(), 'chunk blobs are referenced (the orphan sweep keeps them)');
    });

    test('a chunk of a session that is gone is refused with UploadSessionGoneError', async () => {
      const store = getStore();
      await assert.rejects(store.addUploadChunk(makeChunk('us_gone', 1)), UploadSessionGoneError);
    });

    test('an open session reserves its size of the quota: a second session or a media over it is refused', async () => {
      const store = getStore();
      const org = await newOrg(1000);
      const session = makeSession(org.id, { fileSize: 700 });
      await store.createUploadSession(session, 1000);
      await assert.rejects(store.createUploadSession(makeSession(org.id, { fileSize: 301 }), 1000), QuotaExceededError);
      assert.equal(await store.getUploadSession('never'), null);
      const media = mediaOf(session, { mediaId: `@${randomBytes(18).toString('base64url')}`, size: 301 });
      await assert.rejects(store.insertMedia(media, 1000), QuotaExceededError);
      await store.insertMedia({ ...media, size: 300 }, 1000);
      assert.deepEqual(await store.usage(org.id), { mediaCount: 1, totalBytes: 300 }, 'reserved bytes are not usage');
      // Removing the session releases its reservation.
      assert.deepEqual(await store.deleteUploadSession(session.id), []);
      assert.equal(await store.deleteUploadSession(session.id), null, 'removed once');
      await store.createUploadSession(makeSession(org.id, { fileSize: 700 }), 1000);
    });

    test('commit: the session becomes the media row at once; its chunk keys come back; reservation released', async () => {
      const store = getStore();
      const org = await newOrg(1000);
      const session = makeSession(org.id, { fileSize: 600 });
      await store.createUploadSession(session, 1000);
      const chunks = [makeChunk(session.id, 1, { size: 300 }), makeChunk(session.id, 2, { size: 300 })];
      for (const chunk of chunks) await store.addUploadChunk(chunk);
      const row = mediaOf(session);
      const keys = await store.commitUploadSession(session.id, row, 1000);
      assert.deepEqual(keys?.sort(), chunks.map((c) => c.blobKey).sort());
      assert.deepEqual(await store.getMedia(row.mediaId), row);
      assert.equal(await store.getUploadSession(session.id), null);
      assert.deepEqual(await store.listUploadChunks(session.id, 0, 10), []);
      assert.deepEqual(await store.usage(org.id), { mediaCount: 1, totalBytes: 600 });
      // 400 left: a 400-byte session fits (the 600 reserved were released, not kept with the media's).
      await store.createUploadSession(makeSession(org.id, { fileSize: 400 }), 1000);
      assert.equal(await store.commitUploadSession(session.id, mediaOf(session), 1000), null, 'committed once');
    });

    test('a commit over the quota (lowered meanwhile) changes nothing', async () => {
      const store = getStore();
      const org = await newOrg(null);
      const session = makeSession(org.id, { fileSize: 600 });
      await store.createUploadSession(session, null);
      const chunk = makeChunk(session.id, 1, { size: 600 });
      await store.addUploadChunk(chunk);
      const row = mediaOf(session);
      await assert.rejects(store.commitUploadSession(session.id, row, 500), QuotaExceededError);
      assert.equal(await store.getMedia(row.mediaId), null);
      assert.deepEqual(await store.getUploadSession(session.id), session);
      assert.deepEqual(await store.listUploadChunks(session.id, 0, 10), [chunk]);
      // The reservation is still held: a session of 1 more byte than the rest of a 600 quota is refused.
      await assert.rejects(store.createUploadSession(makeSession(org.id, { fileSize: 1 }), 600), QuotaExceededError);
    });

    test('expired sessions listed soonest first, each removed once by whoever deletes it first', async () => {
      const store = getStore();
      const org = await newOrg();
      const base = NOW + 1000 * DAY_MS; // later than any other test's sessions
      const late = makeSession(org.id, { createdAt: base, expiresAt: base + 20 });
      const early = makeSession(org.id, { createdAt: base, expiresAt: base + 10 });
      const open = makeSession(org.id, { createdAt: base, expiresAt: base + 100 });
      for (const s of [late, early, open]) await store.createUploadSession(s, null);
      const chunk = makeChunk(early.id, 1);
      await store.addUploadChunk(chunk);
      const due = (await store.expiredUploadSessions(base + 50, 1000)).filter((s) => s.orgId === org.id);
      assert.deepEqual(due.map((s) => s.id), [early.id, late.id]);
      const [a, b] = await Promise.all([store.deleteUploadSession(early.id), store.deleteUploadSession(early.id)]);
      assert.deepEqual([a, b].filter((x) => x !== null), [[chunk.blobKey]], 'one of two racing deletes gets it');
    });

    test('the per-org chunked-file cap: null by default, set, changed, cleared', async () => {
      const store = getStore();
      const org = await newOrg();
      assert.equal(await store.getMaxChunkedBytes(org.id), null);
      await store.setMaxChunkedBytes(org.id, FIVE_GIB);
      assert.equal(await store.getMaxChunkedBytes(org.id), FIVE_GIB);
      await store.setMaxChunkedBytes(org.id, 1024);
      assert.equal(await store.getMaxChunkedBytes(org.id), 1024);
      await store.setMaxChunkedBytes(org.id, null);
      assert.equal(await store.getMaxChunkedBytes(org.id), null);
    });

    test('deleteOrg removes its sessions, chunks and cap, returning the chunk keys; other orgs keep theirs', async () => {
      const store = getStore();
      const org = await newOrg();
      const other = await newOrg();
      const session = makeSession(org.id);
      const kept = makeSession(other.id);
      await store.createUploadSession(session, null);
      await store.createUploadSession(kept, null);
      const chunk = makeChunk(session.id, 1);
      await store.addUploadChunk(chunk);
      await store.setMaxChunkedBytes(org.id, 10);
      const deleted = await store.deleteOrg(org.id);
      assert.ok(deleted?.blobKeys.includes(chunk.blobKey));
      assert.equal(await store.getUploadSession(session.id), null);
      assert.equal(await store.getMaxChunkedBytes(org.id), null);
      assert.deepEqual(await store.getUploadSession(kept.id), kept);
    });
  });
}
