// The SDK with suite credentials (issue 8) against the real oapi-media server: the signed
// POST /service/get_corp_token, the token cached and refreshed like an app's, tickets from
// getSuiteTicket() as they rotate, and the org's media shared with its own apps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createClient, DingTalkError } from '../src/index.ts';
import { suiteSignature } from '../src/suite-token-source.ts';
import { startTestServer, type TestServer } from '../../server/test/helpers/test-server.ts';
import { sample } from '../../server/test/fixtures/samples.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const HOUR_MS = 3600 * 1000;

/** A fetch that counts calls per path. */
function countingFetch() {
  const calls = new Map<string, number>();
  const wrapped: typeof fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    calls.set(path, (calls.get(path) ?? 0) + 1);
    return fetch(input, init);
  };
  return { fetch: wrapped, count: (path: string) => calls.get(path) ?? 0 };
}

/** A server with one org authorizing one suite; the server and the SDK share a settable clock. */
async function withSuiteServer(run: (setup: Awaited<ReturnType<typeof suiteSetup>>) => Promise<void>) {
  const clock = { now: Date.now() };
  const server = await startTestServer({ now: () => clock.now });
  try {
    await run(await suiteSetup(server, clock));
  } finally {
    await server.close();
  }
}

async function suiteSetup(server: TestServer, clock: { now: number }) {
  const { admin, suites } = server.server.services;
  const org = await admin.createOrg(`tenant-${Math.random().toString(36).slice(2, 8)}`);
  const suite = await suites.createSuite('SDK ISV');
  await suites.authorize(suite.suiteKey, org);
  const currentTicket = async () => (await suites.currentTicket(suite.suiteKey)).suiteTicket;
  return { server, clock, org, suite, currentTicket };
}

test('suiteSignature (Web Crypto) reproduces the published SDK test vector', async () => {
  const signature = await suiteSignature(
    'c9RMIAGoL_K26gxkw4LrLGf2ERSQVqMBd1K_jclUIT3WM249uVCwf0Ug2RpG4dBh',
    '1629879099342',
    'SEx31XX20YLqvcLVpnwObQHIbvv85ZD6UGXCphXEmp0zCNNfj6VMMklvZjVNDCf99rrKc476XMKS56d5p6iCOU',
  );
  assert.equal(encodeURIComponent(signature), 'auGsFduirwTx3fYqswR8SCuaKbHpHjJzUB%2FcIAWHGuw%3D');
});

test('suite credentials: upload and download round-trip (sha256); the org\'s own app reads the suite\'s upload', async () => {
  await withSuiteServer(async ({ server, clock, org, suite, currentTicket }) => {
    const counting = countingFetch();
    const client = createClient({
      baseUrl: server.baseUrl,
      suiteKey: suite.suiteKey,
      suiteSecret: suite.suiteSecret,
      authCorpId: org.corpId,
      getSuiteTicket: currentTicket,
      fetch: counting.fetch,
      now: () => clock.now,
    });
    const bytes = sample('png');
    const uploaded = await client.media.upload(bytes, { type: 'image', filename: 'photo.png' });
    const downloaded = await client.media.download(uploaded.mediaId);
    assert.equal(sha256(new Uint8Array(await downloaded.arrayBuffer())), sha256(bytes));
    await client.media.upload(sample('gif'), { type: 'image', filename: 'anim.gif' });
    assert.equal(counting.count('/service/get_corp_token'), 1, 'one token for every call while it is valid');

    const row = await server.server.services.metadata.getMedia(uploaded.mediaId);
    assert.equal(row?.orgId, org.id);
    const app = await server.server.services.admin.createApp(org.name, 'internal');
    const appClient = createClient({ baseUrl: server.baseUrl, appKey: app.appkey, appSecret: app.appsecret, now: () => clock.now });
    const byApp = await appClient.media.download(uploaded.mediaId);
    assert.equal(sha256(new Uint8Array(await byApp.arrayBuffer())), sha256(bytes));

    // Another org's app does not see it.
    const stranger = await server.createApp('someone-else');
    const strangerClient = createClient({ baseUrl: server.baseUrl, ...stranger, now: () => clock.now });
    await assert.rejects(strangerClient.media.download(uploaded.mediaId), (error: unknown) => error instanceof DingTalkError && error.errcode === 40007);
  });
});

test('the token is refreshed near expiry with the ticket of that moment, after tickets rotated twice', async () => {
  await withSuiteServer(async ({ server, clock, org, suite, currentTicket }) => {
    const counting = countingFetch();
    const client = createClient({
      baseUrl: server.baseUrl, suiteKey: suite.suiteKey, suiteSecret: suite.suiteSecret, authCorpId: org.corpId,
      getSuiteTicket: currentTicket, fetch: counting.fetch, now: () => clock.now,
    });
    const first = await client.getAccessToken();
    const firstTicket = await currentTicket();
    clock.now += 2 * HOUR_MS; // the token has expired, and the ticket it was signed with is long gone
    assert.notEqual(await currentTicket(), firstTicket);
    const second = await client.getAccessToken();
    assert.notEqual(second, first);
    assert.equal(counting.count('/service/get_corp_token'), 2);
    const uploaded = await client.media.upload(sample('png'), { type: 'image', filename: 'later.png' });
    assert.match(uploaded.mediaId, /^@/);
  });
});

test('a fixed ticket that has rotated out -> DingTalkError 853005; a wrong secret -> 853004', async () => {
  await withSuiteServer(async ({ server, clock, org, suite, currentTicket }) => {
    const staleTicket = await currentTicket();
    clock.now += HOUR_MS; // past its two rotation periods (20 min each)
    await currentTicket();
    const stale = createClient({
      baseUrl: server.baseUrl, suiteKey: suite.suiteKey, suiteSecret: suite.suiteSecret, authCorpId: org.corpId,
      suiteTicket: staleTicket, now: () => clock.now,
    });
    await assert.rejects(stale.getAccessToken(), (error: unknown) => error instanceof DingTalkError && error.errcode === 853005);
    const wrongSecret = createClient({
      baseUrl: server.baseUrl, suiteKey: suite.suiteKey, suiteSecret: `${suite.suiteSecret}x`, authCorpId: org.corpId,
      getSuiteTicket: currentTicket, now: () => clock.now,
    });
    await assert.rejects(wrongSecret.getAccessToken(), (error: unknown) => error instanceof DingTalkError && error.errcode === 853004);
  });
});

test('after the org revokes the suite, a call fails with 40079 (the SDK refetched after 40014 and was refused)', async () => {
  await withSuiteServer(async ({ server, clock, org, suite, currentTicket }) => {
    const counting = countingFetch();
    const client = createClient({
      baseUrl: server.baseUrl, suiteKey: suite.suiteKey, suiteSecret: suite.suiteSecret, authCorpId: org.corpId,
      getSuiteTicket: currentTicket, fetch: counting.fetch, now: () => clock.now,
    });
    await client.media.upload(sample('png'), { type: 'image', filename: 'before.png' });
    await server.server.services.suites.revoke(suite.suiteKey, org);
    await assert.rejects(
      client.media.upload(sample('png'), { type: 'image', filename: 'after.png' }),
      (error: unknown) => error instanceof DingTalkError && error.errcode === 40079,
    );
    assert.equal(counting.count('/service/get_corp_token'), 2, 'the 40014 made it fetch a token once more');
  });
});

test('createClient refuses incomplete suite credentials before sending anything', () => {
  const base = { baseUrl: 'http://127.0.0.1:9', suiteKey: 'suitex', suiteSecret: 's', authCorpId: 'ding1' };
  assert.throws(() => createClient({ ...base }), TypeError, 'no ticket at all');
  assert.throws(() => createClient({ ...base, suiteTicket: 't', getSuiteTicket: () => 't' }), TypeError, 'both ticket forms');
  assert.throws(() => createClient({ ...base, authCorpId: '', suiteTicket: 't' }), TypeError, 'no authCorpId');
});
