// The MetadataStore conformance suite: every engine (sqlite.ts, postgres.ts) must pass it
// unchanged. The factory returns an initialised store on an empty database; the suite shares it
// across its tests, so each test uses its own fresh org/app/token/media ids.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConflictError,
  InvalidCursorError,
  QuotaExceededError,
  type App,
  type MediaRow,
  type MetadataStore,
  type Org,
  type Suite,
  type SuiteTicketRow,
  type TokenRow,
} from '../../src/stores/metadata/interface.ts';
import { describeUploadSessions } from './upload-sessions.ts';

export type MetadataStoreFactory = () => Promise<{
  store: MetadataStore;
  cleanup(): Promise<void>;
  /**
   * For a store whose commits become durable by a step it can be made to wait on (SQLite's WAL
   * fsync): from this call until release(), no commit of the store may become durable. Absent:
   * the engine makes each commit durable before answering it (PostgreSQL, pinned by its own test).
   */
  holdDurability?(): () => void;
}>;

const HOUR_MS = 3600 * 1000;
/** A fixed "now" well past 2^32 ms, so timestamps must survive as 64-bit integers. */
const NOW = 1_700_000_000_000;
/** Larger than 2^32: sizes must be stored as 64-bit integers and come back as JS numbers. */
const FIVE_GIB = 5 * 1024 * 1024 * 1024;

function uniqueId(prefix: string): string {
  return `${prefix}${randomBytes(9).toString('base64url')}`;
}

function makeOrg(overrides: Partial<Org> = {}): Org {
  const id = uniqueId('org_');
  return { id, name: `name-${id}`, corpId: uniqueId('ding'), createdAt: NOW, quotaBytes: null, rateLimitPerSecond: null, ...overrides };
}

function makeApp(orgId: string, overrides: Partial<App> = {}): App {
  return {
    id: uniqueId('app_'),
    orgId,
    name: 'Conformance app',
    appKey: uniqueId('key'),
    secretHash: randomBytes(32).toString('hex'),
    createdAt: NOW,
    wire: 'dingtalk',
    ...overrides,
  };
}

function makeToken(principal: string, orgId: string, overrides: Partial<TokenRow> = {}): TokenRow {
  return {
    tokenHash: randomBytes(32).toString('hex'),
    nonce: randomBytes(16).toString('base64url'),
    principal,
    orgId,
    issuedAt: NOW,
    expiresAt: NOW + 2 * HOUR_MS,
    wire: 'dingtalk',
    ...overrides,
  };
}

function makeSuite(overrides: Partial<Suite> = {}): Suite {
  return {
    id: uniqueId('suite_'),
    name: 'Conformance suite 审批',
    suiteKey: uniqueId('suite'),
    secretCiphertext: `v1.${randomBytes(12).toString('base64url')}.${randomBytes(80).toString('base64url')}`,
    createdAt: NOW,
    ...overrides,
  };
}

function makeTicket(suiteId: string, seq: number, overrides: Partial<SuiteTicketRow> = {}): SuiteTicketRow {
  return {
    suiteId,
    seq,
    ticketHash: randomBytes(32).toString('hex'),
    nonce: randomBytes(16).toString('hex'),
    createdAt: NOW + seq * 1000,
    ...overrides,
  };
}

function makeMedia(orgId: string, overrides: Partial<MediaRow> = {}): MediaRow {
  const mediaId = `@${randomBytes(18).toString('base64url')}`;
  return {
    mediaId,
    orgId,
    uploadedBy: 'app_uploader',
    type: 'file',
    format: 'pdf',
    fileName: '季度报告 final (2).pdf',
    size: 1234,
    sha256: randomBytes(32).toString('hex'),
    blobKey: `blob-${mediaId.slice(1)}`,
    createdAt: NOW,
    wire: 'dingtalk',
    expiresAt: null,
    ...overrides,
  };
}

/** Newest first, as listMedia lists: createdAt DESC, then mediaId DESC (code-point order). */
function newestFirst(a: MediaRow, b: MediaRow): number {
  return b.createdAt - a.createdAt || (a.mediaId < b.mediaId ? 1 : a.mediaId > b.mediaId ? -1 : 0);
}

/** Walks every page of an org's media; fails on an empty non-final page or an over-long page. */
async function listAllMedia(store: MetadataStore, orgId: string, limit: number): Promise<{ ids: string[]; pageSizes: number[] }> {
  const ids: string[] = [];
  const pageSizes: number[] = [];
  let after: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const result = await store.listMedia(orgId, after === undefined ? { limit } : { limit, after });
    assert.ok(result.items.length <= limit, `page of ${result.items.length} items exceeds limit ${limit}`);
    for (const item of result.items) assert.equal(item.orgId, orgId);
    ids.push(...result.items.map((item) => item.mediaId));
    pageSizes.push(result.items.length);
    if (result.next === null) return { ids, pageSizes };
    after = result.next;
  }
  throw new Error('listMedia never returned next: null');
}

/**
 * `keepsBytes`: whether this store keeps small media's bytes with their rows (inlineMaxBytes > 0:
 * SQLite) or none (PostgreSQL): the tests of that capability are registered accordingly.
 */
export function describeMetadataStore(name: string, factory: MetadataStoreFactory, options: { keepsBytes: boolean }): void {
  describe(`MetadataStore conformance: ${name}`, () => {
    let store: MetadataStore;
    let cleanup: () => Promise<void>;
    let holdDurability: (() => () => void) | undefined;

    before(async () => {
      ({ store, cleanup, holdDurability } = await factory());
    });
    after(async () => {
      await cleanup?.();
    });

    async function newOrg(overrides: Partial<Org> = {}): Promise<Org> {
      const org = makeOrg(overrides);
      await store.createOrg(org);
      return org;
    }

    describeUploadSessions(() => store);

    describe('lifecycle', () => {
      test('ping resolves on a healthy store', async () => {
        await store.ping();
      });

      test('init() again on an initialised store is harmless and keeps the data', async () => {
        const org = await newOrg();
        await store.init();
        assert.deepEqual(await store.getOrgById(org.id), org);
      });
    });

    describe('orgs', () => {
      test('createOrg then getOrgById and getOrgByName return the same org, nulls included', async () => {
        const org = await newOrg({ name: '研发部 R&D', quotaBytes: null, rateLimitPerSecond: null });
        assert.deepEqual(await store.getOrgById(org.id), org);
        assert.deepEqual(await store.getOrgByName(org.name), org);
      });

      test('limits round-trip as numbers, 64-bit quota included', async () => {
        const org = await newOrg({ quotaBytes: FIVE_GIB, rateLimitPerSecond: 50 });
        const loaded = await store.getOrgById(org.id);
        assert.deepEqual(loaded, org);
        assert.equal(typeof loaded?.quotaBytes, 'number');
        assert.equal(typeof loaded?.createdAt, 'number');
      });

      test('unknown id or name -> null', async () => {
        assert.equal(await store.getOrgById(uniqueId('missing_')), null);
        assert.equal(await store.getOrgByName(uniqueId('missing-')), null);
      });

      test('getOrgByCorpId finds the org by its corpid; an unknown corpid -> null', async () => {
        const org = await newOrg();
        await newOrg();
        assert.deepEqual(await store.getOrgByCorpId(org.corpId), org);
        assert.equal(await store.getOrgByCorpId(uniqueId('ding')), null);
      });

      test('a second org with the same name -> ConflictError, the first one unchanged', async () => {
        const org = await newOrg();
        await assert.rejects(store.createOrg(makeOrg({ name: org.name })), ConflictError);
        assert.deepEqual(await store.getOrgByName(org.name), org);
      });

      test('a second org with the same id -> ConflictError', async () => {
        const org = await newOrg();
        await assert.rejects(store.createOrg(makeOrg({ id: org.id })), ConflictError);
      });

      test('listOrgs includes every created org', async () => {
        const created = [await newOrg(), await newOrg(), await newOrg()];
        const listed = await store.listOrgs();
        for (const org of created) {
          assert.deepEqual(listed.find((o) => o.id === org.id), org);
        }
      });

      test('listOrgs is oldest first by (createdAt, name)', async () => {
        // Ids in the opposite order of names, so that a tie broken by id would show.
        const base = uniqueId('');
        const at = NOW - 7 * HOUR_MS;
        const late = await newOrg({ id: `org_${base}_0`, name: `a-${base}-late`, createdAt: at + 1 });
        const tieZ = await newOrg({ id: `org_${base}_1`, name: `z-${base}`, createdAt: at });
        const tieA = await newOrg({ id: `org_${base}_2`, name: `b-${base}`, createdAt: at });
        const early = await newOrg({ id: `org_${base}_3`, name: `y-${base}`, createdAt: at - 1 });
        const mine = new Set([late.id, tieZ.id, tieA.id, early.id]);
        const listed = (await store.listOrgs()).filter((o) => mine.has(o.id));
        assert.deepEqual(listed, [early, tieA, tieZ, late]);
      });

      test('updateOrgLimits changes only the limits it is given; null means unlimited/default', async () => {
        const org = await newOrg({ quotaBytes: 1000, rateLimitPerSecond: 10 });
        await store.updateOrgLimits(org.id, { quotaBytes: FIVE_GIB });
        assert.deepEqual(await store.getOrgById(org.id), { ...org, quotaBytes: FIVE_GIB, rateLimitPerSecond: 10 });
        await store.updateOrgLimits(org.id, { rateLimitPerSecond: 3 });
        assert.deepEqual(await store.getOrgById(org.id), { ...org, quotaBytes: FIVE_GIB, rateLimitPerSecond: 3 });
        await store.updateOrgLimits(org.id, { quotaBytes: null, rateLimitPerSecond: null });
        assert.deepEqual(await store.getOrgById(org.id), { ...org, quotaBytes: null, rateLimitPerSecond: null });
      });
    });

    describe('apps', () => {
      test('createApp then getAppByKey and getAppById return the same app', async () => {
        const org = await newOrg();
        const app = makeApp(org.id, { name: '审批助手' });
        await store.createApp(app);
        assert.deepEqual(await store.getAppByKey(app.appKey), app);
        assert.deepEqual(await store.getAppById(app.id), app);
        assert.equal(await store.getAppByKey(uniqueId('missing')), null);
        assert.equal(await store.getAppById(uniqueId('missing')), null);
      });

      test('a second app with the same appKey -> ConflictError, even in another org', async () => {
        const org = await newOrg();
        const otherOrg = await newOrg();
        const app = makeApp(org.id);
        await store.createApp(app);
        await assert.rejects(store.createApp(makeApp(otherOrg.id, { appKey: app.appKey })), ConflictError);
        assert.deepEqual(await store.getAppByKey(app.appKey), app);
      });

      test('listApps(orgId) lists only that org; listApps() and countApps() see all', async () => {
        const countBefore = await store.countApps();
        const org = await newOrg();
        const otherOrg = await newOrg();
        const apps = [makeApp(org.id), makeApp(org.id)];
        const otherApp = makeApp(otherOrg.id);
        for (const app of [...apps, otherApp]) await store.createApp(app);

        const listed = await store.listApps(org.id);
        assert.deepEqual(
          listed.map((a) => a.id).sort(),
          apps.map((a) => a.id).sort(),
        );
        assert.deepEqual(listed.find((a) => a.id === apps[0]!.id), apps[0]);
        const all = (await store.listApps()).map((a) => a.id);
        for (const app of [...apps, otherApp]) assert.ok(all.includes(app.id), `listApps() misses ${app.id}`);
        assert.equal(await store.countApps(), countBefore + 3);
      });

      test('listApps is oldest first by (createdAt, id), for one org and for all', async () => {
        const org = await newOrg();
        const base = uniqueId('');
        const at = NOW - 5 * HOUR_MS;
        // Inserted in an order that is neither the expected one nor its reverse.
        const apps = [
          makeApp(org.id, { id: `app_${base}_2`, name: 'a', createdAt: at }),
          makeApp(org.id, { id: `app_${base}_3`, name: 'b', createdAt: at + 1 }),
          makeApp(org.id, { id: `app_${base}_1`, name: 'c', createdAt: at }),
          makeApp(org.id, { id: `app_${base}_0`, name: 'd', createdAt: at - 1 }),
        ];
        for (const app of apps) await store.createApp(app);
        const expected = [apps[3], apps[2], apps[0], apps[1]];
        assert.deepEqual(await store.listApps(org.id), expected);
        const mine = new Set(apps.map((a) => a.id));
        assert.deepEqual((await store.listApps()).filter((a) => mine.has(a.id)), expected);
      });
    });

    describe('app lifecycle (rotate-secret, app delete)', () => {
      test('updateAppSecret replaces the hash of that app only; an unknown app -> false', async () => {
        const org = await newOrg();
        const [app, other] = [makeApp(org.id), makeApp(org.id)];
        for (const a of [app, other]) await store.createApp(a);
        const rotated = randomBytes(32).toString('hex');
        assert.equal(await store.updateAppSecret(app.id, rotated), true);
        assert.deepEqual(await store.getAppByKey(app.appKey), { ...app, secretHash: rotated });
        assert.deepEqual(await store.getAppById(other.id), other, 'another app keeps its secret');
        assert.equal(await store.updateAppSecret(uniqueId('app_'), rotated), false);
        assert.equal(await store.updateAppSecret('app\0nul', rotated), false);
      });

      test('deleteApp removes that app only (gone by key, id and listing); again -> false', async () => {
        const countBefore = await store.countApps();
        const org = await newOrg();
        const [app, kept] = [makeApp(org.id), makeApp(org.id)];
        for (const a of [app, kept]) await store.createApp(a);
        assert.equal(await store.deleteApp(app.id), true);
        assert.equal(await store.getAppByKey(app.appKey), null);
        assert.equal(await store.getAppById(app.id), null);
        assert.deepEqual(await store.listApps(org.id), [kept]);
        assert.equal(await store.countApps(), countBefore + 1);
        assert.equal(await store.deleteApp(app.id), false);
        assert.equal(await store.deleteApp('app\0nul'), false);
      });
    });

    describe('org deletion', () => {
      test('deleteOrg removes the org and all that is its (media with their bytes, apps, tokens, authorizations, usage), and nothing of another org', async () => {
        const org = await newOrg();
        const other = await newOrg();
        const apps = [makeApp(org.id), makeApp(org.id)];
        const otherApp = makeApp(other.id);
        for (const app of [...apps, otherApp]) await store.createApp(app);
        const tokens = [makeToken(`app:${apps[0]!.id}`, org.id), makeToken(`app:${apps[1]!.id}`, org.id), makeToken('suite:x', org.id)];
        const otherToken = makeToken(`app:${otherApp.id}`, other.id);
        for (const token of [...tokens, otherToken]) await store.insertToken(token);
        const suite = makeSuite();
        await store.createSuite(suite);
        for (const o of [org, other]) await store.authorizeSuite({ suiteId: suite.id, orgId: o.id, createdAt: NOW });
        const media = [makeMedia(org.id), makeMedia(org.id, { size: 10 })];
        for (const row of media) await store.insertMedia(row, null);
        const otherMedia = makeMedia(other.id);
        await store.insertMedia(otherMedia, null);
        let inline: MediaRow | undefined;
        if (store.inlineMaxBytes > 0) {
          inline = makeMedia(org.id, { size: 3, blobKey: `inline:${uniqueId('')}` });
          await store.insertMedia(inline, null, Buffer.from('abc'));
        }

        const deleted = await store.deleteOrg(org.id);
        assert.ok(deleted);
        const expectedKeys = [...media, ...(inline ? [inline] : [])].map((m) => m.blobKey).sort();
        assert.deepEqual([...deleted.blobKeys].sort(), expectedKeys);
        assert.deepEqual([deleted.apps, deleted.tokens, deleted.suiteAuthorizations], [2, 3, 1]);

        assert.equal(await store.getOrgById(org.id), null);
        assert.equal(await store.getOrgByName(org.name), null);
        assert.equal((await store.listOrgs()).some((o) => o.id === org.id), false);
        assert.deepEqual(await store.listApps(org.id), []);
        for (const app of apps) assert.equal(await store.getAppByKey(app.appKey), null);
        for (const token of tokens) assert.equal(await store.getToken(token.tokenHash), null);
        for (const row of media) assert.equal(await store.getMedia(row.mediaId), null);
        if (inline) assert.equal(await store.getInlineBytes(inline.mediaId), null, 'bytes kept with a row go with it');
        assert.deepEqual((await store.listMedia(org.id, { limit: 10 })).items, []);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 0, totalBytes: 0 });
        assert.equal(await store.isSuiteAuthorized(suite.id, org.id), false);
        assert.deepEqual(await store.referencedBlobKeys(expectedKeys), new Set());

        // The other org is untouched.
        assert.deepEqual(await store.getOrgById(other.id), other);
        assert.deepEqual(await store.listApps(other.id), [otherApp]);
        assert.deepEqual(await store.getToken(otherToken.tokenHash), otherToken);
        assert.deepEqual(await store.getMedia(otherMedia.mediaId), otherMedia);
        assert.deepEqual(await store.usage(other.id), { mediaCount: 1, totalBytes: otherMedia.size });
        assert.equal(await store.isSuiteAuthorized(suite.id, other.id), true);

        // The name is free again: an org of that name can be made anew, with nothing of the old one.
        const again = await newOrg({ name: org.name });
        assert.deepEqual(await store.usage(again.id), { mediaCount: 0, totalBytes: 0 });
        await store.insertMedia(makeMedia(again.id, { size: 7 }), 10);
        assert.deepEqual(await store.usage(again.id), { mediaCount: 1, totalBytes: 7 });
      });

      test('deleteOrg of an org with nothing in it removes it; an unknown org -> null', async () => {
        const org = await newOrg();
        assert.deepEqual(await store.deleteOrg(org.id), { blobKeys: [], apps: 0, tokens: 0, suiteAuthorizations: 0 });
        assert.equal(await store.getOrgById(org.id), null);
        assert.equal(await store.deleteOrg(org.id), null);
        assert.equal(await store.deleteOrg('org\0nul'), null);
      });
    });

    describe('tokens', () => {
      test('deleteToken removes that one token and returns it; again -> null', async () => {
        const org = await newOrg();
        const principal = uniqueId('app_');
        const [revoked, kept] = [makeToken(principal, org.id), makeToken(principal, org.id, { issuedAt: NOW - 1 })];
        for (const token of [revoked, kept]) await store.insertToken(token);
        assert.deepEqual(await store.deleteToken(revoked.tokenHash), revoked);
        assert.equal(await store.getToken(revoked.tokenHash), null);
        assert.deepEqual(await store.findValidToken(principal, org.id, NOW), kept, 'the principal\'s other token stays');
        assert.equal(await store.deleteToken(revoked.tokenHash), null);
        assert.equal(await store.deleteToken('hash\0nul'), null);
      });

      test('insertToken then getToken returns it; unknown hash -> null', async () => {
        const org = await newOrg();
        const token = makeToken('app_1', org.id);
        await store.insertToken(token);
        assert.deepEqual(await store.getToken(token.tokenHash), token);
        assert.equal(await store.getToken(randomBytes(32).toString('hex')), null);
      });

      test('findValidToken picks the valid one, ignoring expired, other principal and other org', async () => {
        const org = await newOrg();
        const otherOrg = await newOrg();
        const principal = uniqueId('app_');
        const valid = makeToken(principal, org.id, { issuedAt: NOW - HOUR_MS, expiresAt: NOW + HOUR_MS });
        const expired = makeToken(principal, org.id, { issuedAt: NOW - 3 * HOUR_MS, expiresAt: NOW - HOUR_MS });
        // Both of these are newer and valid longer, but not for this principal/org.
        const otherPrincipal = makeToken(uniqueId('app_'), org.id, { issuedAt: NOW, expiresAt: NOW + 2 * HOUR_MS });
        const otherOrgToken = makeToken(principal, otherOrg.id, { issuedAt: NOW, expiresAt: NOW + 2 * HOUR_MS });
        for (const token of [expired, valid, otherPrincipal, otherOrgToken]) await store.insertToken(token);

        assert.deepEqual(await store.findValidToken(principal, org.id, NOW), valid);
        assert.equal(await store.findValidToken(principal, org.id, NOW + 2 * HOUR_MS), null, 'nothing valid two hours later');
        assert.equal(await store.findValidToken(uniqueId('app_'), org.id, NOW), null);
      });

      test('findValidToken returns the newest of several valid tokens', async () => {
        const org = await newOrg();
        const principal = uniqueId('app_');
        const older = makeToken(principal, org.id, { issuedAt: NOW - 60_000, expiresAt: NOW + HOUR_MS });
        const newer = makeToken(principal, org.id, { issuedAt: NOW - 1_000, expiresAt: NOW + 2 * HOUR_MS });
        await store.insertToken(newer);
        await store.insertToken(older);
        assert.deepEqual(await store.findValidToken(principal, org.id, NOW), newer);
      });

      test('findValidToken: the latest issued wins even if an older one now expires later (renewed); ties by expiresAt, then tokenHash', async () => {
        const org = await newOrg();
        const principal = uniqueId('app_');
        const renewedOlder = makeToken(principal, org.id, { issuedAt: NOW - 60_000, expiresAt: NOW + 3 * HOUR_MS });
        const newest = makeToken(principal, org.id, { issuedAt: NOW - 1_000, expiresAt: NOW + HOUR_MS });
        await store.insertToken(newest);
        await store.insertToken(renewedOlder);
        assert.deepEqual(await store.findValidToken(principal, org.id, NOW), newest);

        const tied = uniqueId('app_');
        const shorter = makeToken(tied, org.id, { issuedAt: NOW, expiresAt: NOW + HOUR_MS });
        const longer = makeToken(tied, org.id, { issuedAt: NOW, expiresAt: NOW + 2 * HOUR_MS });
        await store.insertToken(longer);
        await store.insertToken(shorter);
        assert.deepEqual(await store.findValidToken(tied, org.id, NOW), longer);

        const twins = uniqueId('app_');
        const hash = randomBytes(31).toString('hex');
        const lowHash = makeToken(twins, org.id, { tokenHash: `1${hash}0` });
        const highHash = makeToken(twins, org.id, { tokenHash: `e${hash}0` });
        await store.insertToken(highHash);
        await store.insertToken(lowHash);
        assert.deepEqual(await store.findValidToken(twins, org.id, NOW), highHash);
      });

      test('renewToken moves expiresAt, which findValidToken honours', async () => {
        const org = await newOrg();
        const principal = uniqueId('app_');
        const token = makeToken(principal, org.id, { expiresAt: NOW + 60_000 });
        await store.insertToken(token);
        await store.renewToken(token.tokenHash, NOW + 2 * HOUR_MS);
        assert.deepEqual(await store.getToken(token.tokenHash), { ...token, expiresAt: NOW + 2 * HOUR_MS });
        assert.deepEqual(await store.findValidToken(principal, org.id, NOW + HOUR_MS), { ...token, expiresAt: NOW + 2 * HOUR_MS });
      });

      test('deleteTokens revokes every token of one principal in one org, and only those', async () => {
        const org = await newOrg();
        const otherOrg = await newOrg();
        const principal = uniqueId('app_');
        const revoked = [makeToken(principal, org.id), makeToken(principal, org.id, { issuedAt: NOW + 1 })];
        const keptOtherPrincipal = makeToken(uniqueId('app_'), org.id);
        const keptOtherOrg = makeToken(principal, otherOrg.id);
        for (const token of [...revoked, keptOtherPrincipal, keptOtherOrg]) await store.insertToken(token);

        assert.equal(await store.deleteTokens(principal, org.id), 2);
        assert.equal(await store.findValidToken(principal, org.id, NOW), null);
        for (const token of revoked) {
          const row = await store.getToken(token.tokenHash);
          assert.ok(row === null || row.expiresAt <= NOW, 'a revoked token must not stay valid');
        }
        assert.deepEqual(await store.getToken(keptOtherPrincipal.tokenHash), keptOtherPrincipal);
        assert.deepEqual(await store.getToken(keptOtherOrg.tokenHash), keptOtherOrg);
        assert.equal(await store.deleteTokens(uniqueId('app_'), org.id), 0);
      });

      test('deleteExpiredTokens removes the expired ones and counts them', async () => {
        const org = await newOrg();
        // A "now" far in the future of every other test's tokens is not usable (the store is
        // shared), so this test lives in the past: tokens that expired before the epoch of NOW.
        const past = NOW - 1000 * HOUR_MS;
        const expired = [
          makeToken(uniqueId('app_'), org.id, { issuedAt: past - 3 * HOUR_MS, expiresAt: past - HOUR_MS }),
          makeToken(uniqueId('app_'), org.id, { issuedAt: past - 3 * HOUR_MS, expiresAt: past - 2 * HOUR_MS }),
        ];
        const valid = makeToken(uniqueId('app_'), org.id, { issuedAt: past - HOUR_MS, expiresAt: past + HOUR_MS });
        for (const token of [...expired, valid]) await store.insertToken(token);

        assert.equal(await store.deleteExpiredTokens(past), 2);
        for (const token of expired) assert.equal(await store.getToken(token.tokenHash), null);
        assert.deepEqual(await store.getToken(valid.tokenHash), valid);
        assert.equal(await store.deleteExpiredTokens(past), 0, 'a second sweep finds nothing');
      });

      test('a second token with the same hash -> ConflictError', async () => {
        const org = await newOrg();
        const token = makeToken('app_dup', org.id);
        await store.insertToken(token);
        await assert.rejects(store.insertToken({ ...token, nonce: 'other' }), ConflictError);
      });
    });

    describe('media', () => {
      test('insertMedia then getMedia returns the same row (non-ASCII name, 5 GiB size)', async () => {
        const org = await newOrg();
        const row = makeMedia(org.id, { size: FIVE_GIB, type: 'video', format: 'mp4', fileName: '会议 录像 «final».mp4' });
        await store.insertMedia(row, null);
        const loaded = await store.getMedia(row.mediaId);
        assert.deepEqual(loaded, row);
        assert.equal(typeof loaded?.size, 'number');
        assert.equal(await store.getMedia('@missing'), null);
      });

      test('a duplicate mediaId -> ConflictError, and usage counts it once', async () => {
        const org = await newOrg();
        const row = makeMedia(org.id, { size: 100 });
        await store.insertMedia(row, 1000);
        await assert.rejects(store.insertMedia({ ...row, size: 200 }, 1000), ConflictError);
        assert.deepEqual(await store.getMedia(row.mediaId), row);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 1, totalBytes: 100 });
      });

      test('usage counts media and bytes per org; an org without media has zero', async () => {
        const org = await newOrg();
        const otherOrg = await newOrg();
        assert.deepEqual(await store.usage(org.id), { mediaCount: 0, totalBytes: 0 });
        await store.insertMedia(makeMedia(org.id, { size: 10 }), null);
        await store.insertMedia(makeMedia(org.id, { size: FIVE_GIB }), null);
        await store.insertMedia(makeMedia(otherOrg.id, { size: 7 }), null);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 2, totalBytes: FIVE_GIB + 10 });
        assert.deepEqual(await store.usage(otherOrg.id), { mediaCount: 1, totalBytes: 7 });
      });

      test('deleteMedia returns the row, then null; usage drops accordingly', async () => {
        const org = await newOrg();
        const kept = makeMedia(org.id, { size: 5 });
        const removed = makeMedia(org.id, { size: 300 });
        await store.insertMedia(kept, null);
        await store.insertMedia(removed, null);

        assert.deepEqual(await store.deleteMedia(removed.mediaId), removed);
        assert.equal(await store.getMedia(removed.mediaId), null);
        assert.equal(await store.deleteMedia(removed.mediaId), null);
        assert.deepEqual(await store.getMedia(kept.mediaId), kept);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 1, totalBytes: 5 });
      });

      test('listMedia over 250 rows with limit 100: pages of 100, 100, 50; complete, no duplicates', async () => {
        const org = await newOrg();
        const rows = Array.from({ length: 250 }, (_, i) => makeMedia(org.id, { createdAt: NOW + (i % 7) * 1000, size: i }));
        for (const row of rows) await store.insertMedia(row, null);

        const { ids, pageSizes } = await listAllMedia(store, org.id, 100);
        assert.deepEqual(pageSizes, [100, 100, 50]);
        assert.equal(new Set(ids).size, ids.length, 'a row appeared on two pages');
        assert.deepEqual(ids, [...rows].sort(newestFirst).map((r) => r.mediaId), 'newest first: createdAt DESC, mediaId DESC');

        const again = await listAllMedia(store, org.id, 100);
        assert.deepEqual(again.ids, ids, 'the same walk twice gives the same order');

        const page = await store.listMedia(org.id, { limit: 1 });
        assert.deepEqual(page.items[0], rows.find((r) => r.mediaId === page.items[0]?.mediaId), 'listed rows are complete rows');
      });

      test('listMedia pagination stays complete while rows are inserted and deleted between pages', async () => {
        const org = await newOrg();
        const rows = Array.from({ length: 60 }, (_, i) => makeMedia(org.id, { createdAt: NOW + i }));
        for (const row of rows) await store.insertMedia(row, null);

        const first = await store.listMedia(org.id, { limit: 20 });
        assert.equal(first.items.length, 20);
        assert.notEqual(first.next, null);
        const seen = first.items.map((r) => r.mediaId);
        // Between pages: new rows arrive and one not-yet-seen row is deleted.
        for (let i = 0; i < 10; i++) await store.insertMedia(makeMedia(org.id, { createdAt: NOW + 30 + i }), null);
        const unseen = rows.filter((r) => !seen.includes(r.mediaId));
        const deleted = unseen[unseen.length - 1]!;
        await store.deleteMedia(deleted.mediaId);

        let after: string | null = first.next;
        while (after !== null) {
          const page = await store.listMedia(org.id, { limit: 20, after });
          seen.push(...page.items.map((r) => r.mediaId));
          after = page.next;
        }
        assert.equal(new Set(seen).size, seen.length, 'a row appeared twice');
        assert.ok(!seen.slice(20).includes(deleted.mediaId), 'a deleted row was listed');
        for (const row of rows) {
          if (row !== deleted) assert.ok(seen.includes(row.mediaId), `original row ${row.mediaId} was skipped`);
        }
      });

      test('listMedia with limit 1 over rows that all share one createdAt: every row once, in mediaId DESC', async () => {
        const org = await newOrg();
        const rows = Array.from({ length: 7 }, () => makeMedia(org.id, { createdAt: NOW - HOUR_MS }));
        for (const row of rows) await store.insertMedia(row, null);
        const { ids, pageSizes } = await listAllMedia(store, org.id, 1);
        assert.deepEqual(ids, [...rows].sort(newestFirst).map((r) => r.mediaId));
        assert.deepEqual(pageSizes, [1, 1, 1, 1, 1, 1, 1]);
      });

      test('listMedia cursors are opaque strings; a malformed or foreign one -> InvalidCursorError, never a page', async () => {
        const org = await newOrg();
        const otherOrg = await newOrg();
        for (let i = 0; i < 3; i++) {
          await store.insertMedia(makeMedia(org.id, { createdAt: NOW + i }), null);
          await store.insertMedia(makeMedia(otherOrg.id, { createdAt: NOW + i }), null);
        }
        const page = await store.listMedia(org.id, { limit: 1 });
        assert.equal(typeof page.next, 'string');
        const foreign = (await store.listMedia(otherOrg.id, { limit: 1 })).next!;
        const malformed = [
          '', 'garbage', '42', '-1', `${NOW}:@x`, ':', 'null', '[]',
          Buffer.from('{"createdAt":1}').toString('base64url'),
          Buffer.from(JSON.stringify([org.id, 'x', '@y'])).toString('base64url'),
          `${page.next!}x`, page.next!.slice(0, -2),
        ];
        for (const after of [...malformed, foreign]) {
          await assert.rejects(store.listMedia(org.id, { limit: 10, after }), InvalidCursorError, `cursor ${JSON.stringify(after)}`);
        }
        // The cursor of the right org still works after all that.
        assert.equal((await store.listMedia(org.id, { limit: 10, after: page.next! })).items.length, 2);
      });

      test('listMedia with a limit that is not a positive integer -> RangeError, on every engine alike', async () => {
        const org = await newOrg();
        await store.insertMedia(makeMedia(org.id), null);
        for (const limit of [0, -1, 1.5, Number.NaN]) {
          await assert.rejects(store.listMedia(org.id, { limit }), RangeError, `limit ${limit}`);
        }
      });

      test('a lookup by a key holding a NUL character finds nothing (no engine error)', async () => {
        const key = 'x\u0000y';
        assert.equal(await store.getMedia(`@${key}`), null);
        assert.equal(await store.getInlineBytes(`@${key}`), null);
        assert.equal(await store.getOrgById(key), null);
        assert.equal(await store.getOrgByName(key), null);
        assert.equal(await store.getOrgByCorpId(key), null);
        assert.equal(await store.getAppByKey(key), null);
        assert.equal(await store.getAppById(key), null);
        assert.equal(await store.getToken(key), null);
        assert.equal(await store.getSuiteByKey(key), null);
        assert.equal(await store.deleteMedia(`@${key}`), null);
      });

      test('listMedia shows only the asked org (isolation)', async () => {
        const org = await newOrg();
        const otherOrg = await newOrg();
        const mine = [makeMedia(org.id), makeMedia(org.id)];
        for (const row of mine) await store.insertMedia(row, null);
        await store.insertMedia(makeMedia(otherOrg.id), null);

        const { ids } = await listAllMedia(store, org.id, 10);
        assert.deepEqual([...ids].sort(), mine.map((r) => r.mediaId).sort());
        const empty = await store.listMedia((await newOrg()).id, { limit: 10 });
        assert.deepEqual(empty, { items: [], next: null });
      });

      test('referencedBlobKeys returns exactly the referenced subset', async () => {
        const org = await newOrg();
        const rows = [makeMedia(org.id), makeMedia(org.id)];
        for (const row of rows) await store.insertMedia(row, null);
        const orphans = Array.from({ length: 1500 }, () => uniqueId('orphan-'));

        const referenced = await store.referencedBlobKeys([...orphans.slice(0, 700), rows[0]!.blobKey, ...orphans.slice(700), rows[1]!.blobKey]);
        assert.deepEqual([...referenced].sort(), rows.map((r) => r.blobKey).sort());
        assert.deepEqual(await store.referencedBlobKeys([]), new Set());

        await store.deleteMedia(rows[0]!.mediaId);
        assert.deepEqual(await store.referencedBlobKeys([rows[0]!.blobKey, rows[1]!.blobKey]), new Set([rows[1]!.blobKey]));
      });

      test('a duplicate mediaId among 10 concurrent inserts -> ConflictError for one of the two alone; the other rows stored', async () => {
        const org = await newOrg();
        const rows = Array.from({ length: 9 }, (_, i) => makeMedia(org.id, { size: 100 + i }));
        const duplicate = makeMedia(org.id, { mediaId: rows[4]!.mediaId, size: 1000 });
        const batch = [...rows.slice(0, 6), duplicate, ...rows.slice(6)];
        const results = await Promise.allSettled(batch.map((row) => store.insertMedia(row, null)));

        const refused = results.flatMap((r, i) => (r.status === 'rejected' ? [{ i, reason: r.reason as unknown }] : []));
        assert.equal(refused.length, 1, `exactly one refusal: ${refused.map((r) => String(r.reason)).join('; ')}`);
        assert.ok(refused[0]!.reason instanceof ConflictError, String(refused[0]!.reason));
        assert.ok([4, 6].includes(refused[0]!.i), 'the refused one is one of the two sharing the id');
        const winner = refused[0]!.i === 4 ? duplicate : rows[4]!;
        assert.deepEqual(await store.getMedia(rows[4]!.mediaId), winner);
        for (const row of rows) if (row !== rows[4]) assert.deepEqual(await store.getMedia(row.mediaId), row);
        const expectedBytes = rows.reduce((sum, row) => sum + row.size, 0) - rows[4]!.size + winner.size;
        assert.deepEqual(await store.usage(org.id), { mediaCount: 9, totalBytes: expectedBytes });
        assert.equal((await listAllMedia(store, org.id, 100)).ids.length, 9);
      });
    });

    describe('media bytes kept with the row (inlineMaxBytes)', () => {
      /** Only registered for a store that keeps bytes with its rows (options.keepsBytes). */
      const testKeepingBytes = options.keepsBytes ? test : (_name: string, _fn: () => Promise<void>) => {};

      function withBytes(orgId: string, size: number, overrides: Partial<MediaRow> = {}): { row: MediaRow; bytes: Buffer } {
        const bytes = randomBytes(size);
        const row = makeMedia(orgId, {
          size,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          blobKey: `inline:${randomBytes(16).toString('hex')}`,
          ...overrides,
        });
        return { row, bytes };
      }

      async function assertBytes(entries: Array<{ row: MediaRow; bytes: Buffer }>): Promise<void> {
        for (const { row, bytes } of entries) {
          assert.deepEqual(await store.getMedia(row.mediaId), row);
          const back = await store.getInlineBytes(row.mediaId);
          assert.ok(back !== null && Buffer.from(back).equals(bytes), `the bytes of ${row.mediaId} come back identical`);
        }
      }

      test('inlineMaxBytes is a whole number of bytes; a row stored without bytes has none, an unknown id none', async () => {
        assert.ok(Number.isSafeInteger(store.inlineMaxBytes) && store.inlineMaxBytes >= 0, String(store.inlineMaxBytes));
        const org = await newOrg();
        const row = makeMedia(org.id);
        await store.insertMedia(row, null);
        assert.equal(await store.getInlineBytes(row.mediaId), null);
        assert.equal(await store.getInlineBytes('@missing'), null);
      });

      test(`inlineMaxBytes is ${options.keepsBytes ? 'above 0' : '0'} for this store`, () => {
        assert.equal(store.inlineMaxBytes > 0, options.keepsBytes);
      });

      (options.keepsBytes ? () => {} : test)('a store that keeps none refuses bytes with a row and stores nothing', async () => {
        const org = await newOrg();
        const { row, bytes } = withBytes(org.id, 10);
        await assert.rejects(store.insertMedia(row, null, bytes));
        assert.equal(await store.getMedia(row.mediaId), null);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 0, totalBytes: 0 });
      });

      testKeepingBytes('bytes of 1 and of exactly inlineMaxBytes round-trip with their row; one byte more is refused, nothing stored', async () => {
        const org = await newOrg();
        const entries = [withBytes(org.id, 1), withBytes(org.id, store.inlineMaxBytes)];
        for (const { row, bytes } of entries) await store.insertMedia(row, null, bytes);
        await assertBytes(entries);

        const tooBig = withBytes(org.id, store.inlineMaxBytes + 1);
        await assert.rejects(store.insertMedia(tooBig.row, null, tooBig.bytes));
        assert.equal(await store.getMedia(tooBig.row.mediaId), null);
        assert.equal(await store.getInlineBytes(tooBig.row.mediaId), null);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 2, totalBytes: 1 + store.inlineMaxBytes });
      });

      testKeepingBytes('deleteMedia takes the bytes with the row; usage drops', async () => {
        const org = await newOrg();
        const kept = withBytes(org.id, 50);
        const removed = withBytes(org.id, 700);
        await store.insertMedia(kept.row, null, kept.bytes);
        await store.insertMedia(removed.row, null, removed.bytes);

        assert.deepEqual(await store.deleteMedia(removed.row.mediaId), removed.row);
        assert.equal(await store.getInlineBytes(removed.row.mediaId), null);
        assert.equal(await store.getMedia(removed.row.mediaId), null);
        await assertBytes([kept]);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 1, totalBytes: 50 });
      });

      testKeepingBytes('an insert refused for its quota or its duplicate id keeps no bytes; the first row keeps its own', async () => {
        const quota = 1000;
        const org = await newOrg({ quotaBytes: quota });
        const first = withBytes(org.id, 600);
        await store.insertMedia(first.row, quota, first.bytes);
        const over = withBytes(org.id, 401);
        await assert.rejects(store.insertMedia(over.row, quota, over.bytes), QuotaExceededError);
        const duplicate = withBytes(org.id, 10, { mediaId: first.row.mediaId });
        await assert.rejects(store.insertMedia(duplicate.row, quota, duplicate.bytes), ConflictError);

        assert.equal(await store.getInlineBytes(over.row.mediaId), null);
        await assertBytes([first]);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 1, totalBytes: 600 });
      });

      testKeepingBytes('20 concurrent inserts with bytes under a quota for 8: exactly 8 pass, each reads back its own bytes', async () => {
        const size = Math.min(1000, store.inlineMaxBytes);
        const quota = 8 * size;
        const org = await newOrg({ quotaBytes: quota });
        const entries = Array.from({ length: 20 }, () => withBytes(org.id, size));
        const results = await Promise.allSettled(entries.map(({ row, bytes }) => store.insertMedia(row, quota, bytes)));

        for (const result of results) {
          if (result.status === 'rejected') assert.ok(result.reason instanceof QuotaExceededError, String(result.reason));
        }
        const accepted = entries.filter((_, i) => results[i]!.status === 'fulfilled');
        assert.equal(accepted.length, 8);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 8, totalBytes: quota });
        await assertBytes(accepted);
        for (const [i, { row }] of entries.entries()) {
          if (results[i]!.status === 'rejected') assert.equal(await store.getInlineBytes(row.mediaId), null);
        }
      });
    });

    describe('quota', () => {
      test('usage + size == quota passes; one byte over -> QuotaExceededError, nothing stored', async () => {
        const quota = 10_000;
        const org = await newOrg({ quotaBytes: quota });
        await store.insertMedia(makeMedia(org.id, { size: 6_000 }), quota);
        const overByOne = makeMedia(org.id, { size: 4_001 });
        await assert.rejects(store.insertMedia(overByOne, quota), QuotaExceededError);
        assert.equal(await store.getMedia(overByOne.mediaId), null);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 1, totalBytes: 6_000 });

        await store.insertMedia(makeMedia(org.id, { size: 4_000 }), quota);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 2, totalBytes: quota });
        await assert.rejects(store.insertMedia(makeMedia(org.id, { size: 1 }), quota), QuotaExceededError);
      });

      test('a single file larger than the whole quota -> QuotaExceededError', async () => {
        const org = await newOrg({ quotaBytes: 100 });
        await assert.rejects(store.insertMedia(makeMedia(org.id, { size: 101 }), 100), QuotaExceededError);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 0, totalBytes: 0 });
      });

      test('deleting media frees quota', async () => {
        const quota = 1_000;
        const org = await newOrg({ quotaBytes: quota });
        const row = makeMedia(org.id, { size: 1_000 });
        await store.insertMedia(row, quota);
        await assert.rejects(store.insertMedia(makeMedia(org.id, { size: 500 }), quota), QuotaExceededError);
        await store.deleteMedia(row.mediaId);
        await store.insertMedia(makeMedia(org.id, { size: 500 }), quota);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 1, totalBytes: 500 });
      });

      test('null quota is unlimited', async () => {
        const org = await newOrg();
        await store.insertMedia(makeMedia(org.id, { size: FIVE_GIB }), null);
        await store.insertMedia(makeMedia(org.id, { size: FIVE_GIB }), null);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 2, totalBytes: 2 * FIVE_GIB });
      });

      test('20 concurrent inserts of 100 bytes under a 1,000-byte quota: exactly 10 pass, usage never above', async () => {
        const quota = 1_000;
        const org = await newOrg({ quotaBytes: quota });
        const rows = Array.from({ length: 20 }, () => makeMedia(org.id, { size: 100 }));
        const results = await Promise.allSettled(rows.map((row) => store.insertMedia(row, quota)));

        const passed = results.filter((r) => r.status === 'fulfilled').length;
        const refusals = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
        for (const reason of refusals) assert.ok(reason instanceof QuotaExceededError, `unexpected rejection: ${String(reason)}`);
        assert.equal(passed, 10);
        assert.deepEqual(await store.usage(org.id), { mediaCount: 10, totalBytes: quota });
        const { ids } = await listAllMedia(store, org.id, 100);
        assert.equal(ids.length, 10, 'exactly the acknowledged rows exist');
      });

      test('20 concurrent inserts of mixed sizes never take usage above the quota', async () => {
        const quota = 5_000;
        const org = await newOrg({ quotaBytes: quota });
        const sizes = Array.from({ length: 20 }, (_, i) => 150 + ((i * 397) % 600));
        const results = await Promise.allSettled(sizes.map((size) => store.insertMedia(makeMedia(org.id, { size }), quota)));
        const acceptedBytes = sizes.reduce((sum, size, i) => sum + (results[i]!.status === 'fulfilled' ? size : 0), 0);
        const usage = await store.usage(org.id);
        assert.equal(usage.totalBytes, acceptedBytes);
        assert.ok(usage.totalBytes <= quota, `usage ${usage.totalBytes} above quota ${quota}`);
        // Every refusal was right: its size did not fit in what was left at the end.
        for (const [i, result] of results.entries()) {
          if (result.status === 'rejected') {
            assert.ok(result.reason instanceof QuotaExceededError, String(result.reason));
            assert.ok(usage.totalBytes + sizes[i]! > quota, `a ${sizes[i]}-byte insert was refused although it fits`);
          }
        }
      });
    });

    describe('wires and expiry (issue 16)', () => {
      test('apps, tokens and media keep their wire; a media keeps its expiry (null = permanent)', async () => {
        const org = await newOrg();
        for (const wire of ['dingtalk', 'wecom', 'feishu'] as const) {
          const app = makeApp(org.id, { wire });
          await store.createApp(app);
          assert.deepEqual(await store.getAppByKey(app.appKey), app);
          const token = makeToken(`app:${app.id}`, org.id, { wire });
          await store.insertToken(token);
          assert.deepEqual(await store.getToken(token.tokenHash), token);
          assert.equal((await store.findValidToken(token.principal, org.id, NOW))?.wire, wire);
          const media = makeMedia(org.id, { wire, expiresAt: wire === 'wecom' ? NOW + 3 * 24 * HOUR_MS : null });
          await store.insertMedia(media, null);
          assert.deepEqual(await store.getMedia(media.mediaId), media);
          assert.equal(typeof (await store.getMedia(media.mediaId))?.expiresAt, wire === 'wecom' ? 'number' : 'object');
        }
        assert.deepEqual((await store.listApps(org.id)).map((a) => a.wire).sort(), ['dingtalk', 'feishu', 'wecom']);
      });

      test('expiredMedia: only rows at or past their expiry, soonest first (then mediaId), never a permanent one; limit honoured', async () => {
        const org = await newOrg();
        // Far from every other test's rows, which are permanent (expiresAt null).
        const at = NOW + 400 * 24 * HOUR_MS;
        const due = [makeMedia(org.id, { expiresAt: at - 2 }), makeMedia(org.id, { expiresAt: at }), makeMedia(org.id, { expiresAt: at - 2 })];
        const notYet = makeMedia(org.id, { expiresAt: at + 1 });
        const permanent = makeMedia(org.id, { expiresAt: null, createdAt: 0 });
        for (const row of [...due, notYet, permanent]) await store.insertMedia(row, null);
        const expected = [...due].sort((a, b) => a.expiresAt! - b.expiresAt! || (a.mediaId < b.mediaId ? -1 : 1));
        const listed = await store.expiredMedia(at, 1000);
        const ours = listed.filter((row) => row.orgId === org.id);
        assert.deepEqual(ours, expected);
        for (const row of listed) assert.ok(row.expiresAt !== null && row.expiresAt <= at, `listed ${row.mediaId} expiring at ${row.expiresAt}`);
        assert.equal((await store.expiredMedia(at, 1)).length, 1);
        await assert.rejects(store.expiredMedia(at, 0), RangeError);
        for (const row of [...due, notYet, permanent]) await store.deleteMedia(row.mediaId);
        assert.deepEqual((await store.expiredMedia(at + 1, 1000)).filter((row) => row.orgId === org.id), []);
      });

      test('two sweepers deleting the same expired rows at once: each row removed once, usage released once', async () => {
        const org = await newOrg();
        const at = NOW + 500 * 24 * HOUR_MS;
        const rows = Array.from({ length: 12 }, (_, i) => makeMedia(org.id, { expiresAt: at - i, size: 100 + i }));
        for (const row of rows) await store.insertMedia(row, null);
        const kept = makeMedia(org.id, { size: 7 });
        await store.insertMedia(kept, null);
        const seenByA = (await store.expiredMedia(at, 1000)).filter((row) => row.orgId === org.id);
        const seenByB = (await store.expiredMedia(at, 1000)).filter((row) => row.orgId === org.id);
        assert.equal(seenByA.length, rows.length);
        const outcomes = await Promise.all([...seenByA, ...seenByB].map((row) => store.deleteMedia(row.mediaId)));
        const removed = outcomes.filter((row) => row !== null).map((row) => row!.mediaId).sort();
        assert.deepEqual(removed, rows.map((row) => row.mediaId).sort());
        assert.deepEqual(await store.usage(org.id), { mediaCount: 1, totalBytes: 7 });
        assert.deepEqual(await store.getMedia(kept.mediaId), kept);
      });
    });

    describe('suites', () => {
      async function newSuite(overrides: Partial<Suite> = {}): Promise<Suite> {
        const suite = makeSuite(overrides);
        await store.createSuite(suite);
        return suite;
      }

      test('createSuite then getSuiteByKey returns it byte for byte (sealed secret, non-ASCII name)', async () => {
        const suite = await newSuite();
        assert.deepEqual(await store.getSuiteByKey(suite.suiteKey), suite);
        assert.equal(await store.getSuiteByKey(uniqueId('suite')), null);
        assert.deepEqual((await store.listSuites()).find((s) => s.id === suite.id), suite);
      });

      test('listSuites is oldest first by (createdAt, id)', async () => {
        const base = uniqueId('');
        const at = NOW - 9 * HOUR_MS;
        const suites = [
          makeSuite({ id: `suite_${base}_2`, name: 'a', createdAt: at }),
          makeSuite({ id: `suite_${base}_3`, name: 'b', createdAt: at + 1 }),
          makeSuite({ id: `suite_${base}_1`, name: 'c', createdAt: at }),
          makeSuite({ id: `suite_${base}_0`, name: 'd', createdAt: at - 1 }),
        ];
        for (const suite of suites) await store.createSuite(suite);
        const mine = new Set(suites.map((x) => x.id));
        assert.deepEqual((await store.listSuites()).filter((x) => mine.has(x.id)), [suites[3], suites[2], suites[0], suites[1]]);
      });

      test('listSuiteAuthorizations is oldest first by (createdAt, orgId)', async () => {
        const suite = await newSuite();
        const base = uniqueId('');
        const orgs = [
          await newOrg({ id: `org_${base}_2` }),
          await newOrg({ id: `org_${base}_1` }),
          await newOrg({ id: `org_${base}_0` }),
        ];
        await store.authorizeSuite({ suiteId: suite.id, orgId: orgs[0]!.id, createdAt: NOW });
        await store.authorizeSuite({ suiteId: suite.id, orgId: orgs[1]!.id, createdAt: NOW });
        await store.authorizeSuite({ suiteId: suite.id, orgId: orgs[2]!.id, createdAt: NOW + 1 });
        assert.deepEqual((await store.listSuiteAuthorizations(suite.id)).map((a) => a.orgId), [orgs[1]!.id, orgs[0]!.id, orgs[2]!.id]);
      });

      test('a second suite with the same suiteKey -> ConflictError, the first one unchanged', async () => {
        const suite = await newSuite();
        await assert.rejects(store.createSuite(makeSuite({ suiteKey: suite.suiteKey })), ConflictError);
        assert.deepEqual(await store.getSuiteByKey(suite.suiteKey), suite);
      });

      test('authorizations are per (suite, org); authorizing twice is harmless; revoke says whether there was one', async () => {
        const suite = await newSuite();
        const otherSuite = await newSuite();
        const orgA = await newOrg();
        const orgB = await newOrg();
        await store.authorizeSuite({ suiteId: suite.id, orgId: orgA.id, createdAt: NOW });
        await store.authorizeSuite({ suiteId: suite.id, orgId: orgA.id, createdAt: NOW + 5 });
        await store.authorizeSuite({ suiteId: suite.id, orgId: orgB.id, createdAt: NOW + 1 });
        assert.equal(await store.isSuiteAuthorized(suite.id, orgA.id), true);
        assert.equal(await store.isSuiteAuthorized(otherSuite.id, orgA.id), false);
        assert.deepEqual(await store.listSuiteAuthorizations(suite.id), [
          { suiteId: suite.id, orgId: orgA.id, createdAt: NOW },
          { suiteId: suite.id, orgId: orgB.id, createdAt: NOW + 1 },
        ]);

        assert.equal(await store.revokeSuite(suite.id, orgA.id), true);
        assert.equal(await store.revokeSuite(suite.id, orgA.id), false);
        assert.equal(await store.isSuiteAuthorized(suite.id, orgA.id), false);
        assert.equal(await store.isSuiteAuthorized(suite.id, orgB.id), true);
        assert.deepEqual(await store.listSuiteAuthorizations(otherSuite.id), []);
      });

      test('tickets: newest first, only the newest `keep` survive a rotation, per suite', async () => {
        const suite = await newSuite();
        const other = await newSuite();
        const tickets = [1, 2, 3, 4].map((seq) => makeTicket(suite.id, seq));
        await store.addSuiteTicket(makeTicket(other.id, 1), 2);
        for (const ticket of tickets) await store.addSuiteTicket(ticket, 2);
        assert.deepEqual(await store.latestSuiteTickets(suite.id, 10), [tickets[3], tickets[2]]);
        assert.deepEqual(await store.latestSuiteTickets(suite.id, 1), [tickets[3]]);
        assert.equal((await store.latestSuiteTickets(other.id, 10)).length, 1, 'another suite keeps its own');
        assert.deepEqual(await store.latestSuiteTickets(makeSuite().id, 10), []);
      });

      test('two rotations racing for the same seq: one wins, the other gets ConflictError and changes nothing', async () => {
        const suite = await newSuite();
        await store.addSuiteTicket(makeTicket(suite.id, 1), 2);
        const racers = [makeTicket(suite.id, 2), makeTicket(suite.id, 2)];
        const results = await Promise.allSettled(racers.map((ticket) => store.addSuiteTicket(ticket, 2)));
        const won = results.findIndex((r) => r.status === 'fulfilled');
        assert.notEqual(won, -1);
        const lost = results.filter((r) => r.status === 'rejected');
        assert.equal(lost.length, 1);
        assert.ok((lost[0] as PromiseRejectedResult).reason instanceof ConflictError, String((lost[0] as PromiseRejectedResult).reason));
        const latest = await store.latestSuiteTickets(suite.id, 10);
        assert.deepEqual(latest.map((t) => t.seq), [2, 1], 'the ticket before the race is still there');
        assert.equal(latest[0]!.ticketHash, racers[won]!.ticketHash);
      });
    });

    describe('durability: a write resolves only once it is durable', () => {
      /** Each write, given fixtures made beforehand (outside the hold). */
      const writes: Array<[string, () => Promise<() => Promise<unknown>>]> = [
        ['createOrg', async () => () => store.createOrg(makeOrg())],
        ['updateOrgLimits', async () => {
          const org = await newOrg();
          return () => store.updateOrgLimits(org.id, { quotaBytes: 5, rateLimitPerSecond: 2 });
        }],
        ['createApp', async () => {
          const org = await newOrg();
          return () => store.createApp(makeApp(org.id));
        }],
        ['insertToken', async () => {
          const org = await newOrg();
          return () => store.insertToken(makeToken(uniqueId('app_'), org.id));
        }],
        ['renewToken', async () => {
          const org = await newOrg();
          const token = makeToken(uniqueId('app_'), org.id);
          await store.insertToken(token);
          return () => store.renewToken(token.tokenHash, NOW + 3 * HOUR_MS);
        }],
        ['deleteTokens', async () => {
          const org = await newOrg();
          const token = makeToken(uniqueId('app_'), org.id);
          await store.insertToken(token);
          return () => store.deleteTokens(token.principal, org.id);
        }],
        ['deleteToken', async () => {
          const org = await newOrg();
          const token = makeToken(uniqueId('app_'), org.id);
          await store.insertToken(token);
          return () => store.deleteToken(token.tokenHash);
        }],
        ['updateAppSecret', async () => {
          const org = await newOrg();
          const app = makeApp(org.id);
          await store.createApp(app);
          return () => store.updateAppSecret(app.id, randomBytes(32).toString('hex'));
        }],
        ['deleteApp', async () => {
          const org = await newOrg();
          const app = makeApp(org.id);
          await store.createApp(app);
          return () => store.deleteApp(app.id);
        }],
        ['deleteOrg', async () => {
          const org = await newOrg();
          await store.createApp(makeApp(org.id));
          await store.insertMedia(makeMedia(org.id), null);
          return () => store.deleteOrg(org.id);
        }],
        ['deleteExpiredTokens', async () => {
          const org = await newOrg();
          const past = NOW - 2000 * HOUR_MS;
          await store.insertToken(makeToken(uniqueId('app_'), org.id, { issuedAt: past - 2 * HOUR_MS, expiresAt: past - HOUR_MS }));
          return () => store.deleteExpiredTokens(past);
        }],
        ['insertMedia', async () => {
          const org = await newOrg();
          return () => store.insertMedia(makeMedia(org.id), null);
        }],
        ['deleteMedia', async () => {
          const org = await newOrg();
          const row = makeMedia(org.id);
          await store.insertMedia(row, null);
          return () => store.deleteMedia(row.mediaId);
        }],
        ['createSuite', async () => () => store.createSuite(makeSuite())],
        ['authorizeSuite', async () => {
          const [suite, org] = [makeSuite(), await newOrg()];
          await store.createSuite(suite);
          return () => store.authorizeSuite({ suiteId: suite.id, orgId: org.id, createdAt: NOW });
        }],
        ['revokeSuite', async () => {
          const [suite, org] = [makeSuite(), await newOrg()];
          await store.createSuite(suite);
          await store.authorizeSuite({ suiteId: suite.id, orgId: org.id, createdAt: NOW });
          return () => store.revokeSuite(suite.id, org.id);
        }],
        ['addSuiteTicket', async () => {
          const suite = makeSuite();
          await store.createSuite(suite);
          return () => store.addSuiteTicket(makeTicket(suite.id, 1), 2);
        }],
      ];
      for (const [method, prepare] of writes) {
        test(`${method} does not resolve while the commit cannot be made durable`, async (t) => {
          if (!holdDurability) {
            t.skip('this engine answers a commit once durable (see its own test)');
            return;
          }
          const write = await prepare();
          const release = holdDurability();
          let settled = false;
          const pending = write().finally(() => {
            settled = true;
          });
          try {
            await sleep(50);
            assert.equal(settled, false, `${method} resolved before its commit was durable`);
          } finally {
            release();
          }
          await pending;
        });
      }
    });
  });
}
