// Third-party suites (issue 8): POST /service/get_corp_token with DingTalk's signature and errcodes,
// tickets that rotate with the last two valid, per-org tokens whose media belong to the org, and
// revocation that ends the suite's tokens at once. The clock is the injectable one (no sleeping).
// TEST_SERVER=emulator: not, its operator-CLI round trip runs the CLI on a data folder, which an emulator has none of.

import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SUITE_TICKET_ROTATION_SECONDS } from '../src/config.ts';
import { suiteSignature } from '../src/service/suite-signature.ts';
import type { SuiteCredentials } from '../src/service/suites.ts';
import type { Org } from '../src/stores/metadata/interface.ts';
import { sample } from './fixtures/samples.ts';
import { cli } from './helpers/cli.ts';
import { injectApp, type InjectApp } from './helpers/inject-app.ts';
import { multipart } from './helpers/multipart.ts';
import { startTestServer } from './helpers/test-server.ts';

const ROTATION_MS = SUITE_TICKET_ROTATION_SECONDS * 1000;
const sha256 = (bytes: Buffer | Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

interface CorpTokenCall {
  accessKey?: string;
  timestamp?: string;
  suiteTicket?: string;
  /** Already URL-encoded, as it goes into the query. */
  signature?: string;
  body?: string;
  contentType?: string;
}

let t: InjectApp;
let suite: SuiteCredentials;
let orgA: Org;
let orgB: Org;
let orgC: Org;

before(async () => {
  t = await injectApp();
  orgA = await t.services.admin.createOrg('org-a');
  orgB = await t.services.admin.createOrg('org-b');
  orgC = await t.services.admin.createOrg('org-c');
  suite = await t.services.suites.createSuite('ISV 审批');
  await t.services.suites.authorize(suite.suiteKey, orgA);
  await t.services.suites.authorize(suite.suiteKey, orgB);
});
after(async () => t.close());

const currentTicket = async (): Promise<string> => (await t.services.suites.currentTicket(suite.suiteKey)).suiteTicket;

/**
 * A request as DingTalk's SDKs send it: signed over its own timestamp (default: now) and ticket
 * (default: the current one). Any part can be overridden; undefined leaves it out.
 */
async function signedCall(corpId: string, overrides: Partial<CorpTokenCall> = {}): Promise<CorpTokenCall> {
  const timestamp = 'timestamp' in overrides ? overrides.timestamp : String(t.clock.now);
  const suiteTicket = 'suiteTicket' in overrides ? overrides.suiteTicket : await currentTicket();
  return {
    accessKey: suite.suiteKey,
    timestamp,
    suiteTicket,
    signature: encodeURIComponent(suiteSignature(suite.suiteSecret, timestamp ?? String(t.clock.now), suiteTicket ?? '')),
    body: JSON.stringify({ auth_corpid: corpId }),
    contentType: 'application/json',
    ...overrides,
  };
}

async function getCorpToken(call: CorpTokenCall) {
  const query = (['accessKey', 'timestamp', 'suiteTicket', 'signature'] as const)
    .filter((name) => call[name] !== undefined)
    .map((name) => `${name}=${name === 'signature' ? call.signature : encodeURIComponent(call[name]!)}`)
    .join('&');
  const res = await t.app.inject({
    method: 'POST',
    url: `/service/get_corp_token?${query}`,
    headers: call.contentType ? { 'content-type': call.contentType } : {},
    payload: call.body ?? '',
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  return res.json() as { errcode: number; errmsg: string; access_token?: string; expires_in?: number };
}

async function corpToken(corpId: string): Promise<string> {
  const body = await getCorpToken(await signedCall(corpId));
  assert.equal(body.errcode, 0, JSON.stringify(body));
  return body.access_token!;
}

async function upload(token: string, data = sample('png')) {
  const { body, contentType } = multipart([{ name: 'media', filename: 'photo.png', data, contentType: 'image/png' }]);
  const res = await t.app.inject({ method: 'POST', url: `/media/upload?access_token=${token}&type=image`, headers: { 'content-type': contentType }, payload: body });
  return res.json() as { errcode: number; media_id: string };
}

async function download(token: string, mediaId: string) {
  const res = await t.app.inject({ url: `/media/downloadFile?access_token=${token}&media_id=${mediaId}` });
  return res.headers['content-type']?.toString().startsWith('application/json')
    ? { errcode: (res.json() as { errcode: number }).errcode, sha256: undefined }
    : { errcode: 0, sha256: sha256(res.rawPayload) };
}

describe('the signature', () => {
  test('is DingTalk\'s: the published test vector of an SDK gives the same Base64', () => {
    // zhaoyunxing92/dingtalk crypto/signature_test.go (expects the URL-encoded form of this).
    const signature = suiteSignature(
      'c9RMIAGoL_K26gxkw4LrLGf2ERSQVqMBd1K_jclUIT3WM249uVCwf0Ug2RpG4dBh',
      '1629879099342',
      'SEx31XX20YLqvcLVpnwObQHIbvv85ZD6UGXCphXEmp0zCNNfj6VMMklvZjVNDCf99rrKc476XMKS56d5p6iCOU',
    );
    assert.equal(encodeURIComponent(signature), 'auGsFduirwTx3fYqswR8SCuaKbHpHjJzUB%2FcIAWHGuw%3D');
  });

  test('right signature -> errcode 0, a token for 7200 s; again while valid -> the same token', async () => {
    const first = await getCorpToken(await signedCall(orgA.corpId));
    assert.deepEqual(Object.keys(first).sort(), ['access_token', 'errcode', 'errmsg', 'expires_in']);
    assert.equal(first.errcode, 0);
    assert.equal(first.errmsg, 'ok');
    assert.equal(first.expires_in, 7200);
    assert.match(first.access_token!, /^[A-Za-z0-9_-]{43}$/);
    t.clock.now += 1000;
    assert.equal((await getCorpToken(await signedCall(orgA.corpId))).access_token, first.access_token);
  });

  test('a token for org A is not the token for org B', async () => {
    assert.notEqual(await corpToken(orgA.corpId), await corpToken(orgB.corpId));
  });

  test('wrong signature (another secret) -> 853004', async () => {
    const call = await signedCall(orgA.corpId);
    call.signature = encodeURIComponent(suiteSignature(`${suite.suiteSecret}x`, call.timestamp!, call.suiteTicket!));
    const body = await getCorpToken(call);
    assert.equal(body.errcode, 853004);
    assert.equal(body.access_token, undefined);
  });

  test('a signature of another timestamp or ticket than the ones sent -> 853004', async () => {
    const call = await signedCall(orgA.corpId);
    assert.equal((await getCorpToken({ ...call, timestamp: String(t.clock.now - 1) })).errcode, 853004);
    assert.equal((await getCorpToken({ ...call, signature: encodeURIComponent(suiteSignature(suite.suiteSecret, call.timestamp!, 'other')) })).errcode, 853004);
  });

  test('a "+" sent unencoded, and a signature URL-encoded twice, are still understood', async () => {
    // Find a timestamp whose signature has a '+' (Base64: about one in two).
    let call = await signedCall(orgA.corpId);
    for (let i = 0; !suiteSignature(suite.suiteSecret, call.timestamp!, call.suiteTicket!).includes('+'); i++) {
      call = { ...call, timestamp: String(t.clock.now - i) };
    }
    const raw = suiteSignature(suite.suiteSecret, call.timestamp!, call.suiteTicket!);
    assert.equal((await getCorpToken({ ...call, signature: raw.replaceAll('/', '%2F').replaceAll('=', '%3D') })).errcode, 0);
    assert.equal((await getCorpToken({ ...call, signature: encodeURIComponent(encodeURIComponent(raw)) })).errcode, 0);
  });

  test('timestamp 60,001 ms behind or ahead of the server -> 853002; 60,000 ms passes', async () => {
    for (const offset of [-60_001, 60_001]) {
      const body = await getCorpToken(await signedCall(orgA.corpId, { timestamp: String(t.clock.now + offset) }));
      assert.equal(body.errcode, 853002, `offset ${offset}`);
      assert.equal(body.errmsg, '签名时间戳参数超时');
    }
    for (const offset of [-60_000, 60_000]) {
      const body = await getCorpToken(await signedCall(orgA.corpId, { timestamp: String(t.clock.now + offset) }));
      assert.equal(body.errcode, 0, `offset ${offset}`);
    }
  });

  test('timestamp in seconds or not a number -> 853001 (seconds are also 853002 away)', async () => {
    const body = await getCorpToken(await signedCall(orgA.corpId, { timestamp: 'yesterday' }));
    assert.equal(body.errcode, 853001);
    const seconds = String(Math.floor(t.clock.now / 1000));
    assert.equal((await getCorpToken(await signedCall(orgA.corpId, { timestamp: seconds }))).errcode, 853002);
  });

  test('each of accessKey, timestamp, suiteTicket, signature, auth_corpid missing -> 40035', async () => {
    for (const missing of ['accessKey', 'timestamp', 'suiteTicket', 'signature'] as const) {
      const body = await getCorpToken(await signedCall(orgA.corpId, { [missing]: undefined }));
      assert.equal(body.errcode, 40035, `without ${missing}`);
      assert.equal(body.errmsg, '缺少参数');
    }
    assert.equal((await getCorpToken(await signedCall(orgA.corpId, { body: '{}' }))).errcode, 40035, 'body without auth_corpid');
    assert.equal((await getCorpToken(await signedCall(orgA.corpId, { body: '', contentType: undefined }))).errcode, 40035, 'no body');
    assert.equal((await getCorpToken(await signedCall(orgA.corpId, { body: '{"auth_corpid":' }))).errcode, 40035, 'broken JSON');
  });

  test('auth_corpid as a urlencoded form field works too', async () => {
    const call = await signedCall(orgA.corpId, { body: `auth_corpid=${orgA.corpId}`, contentType: 'application/x-www-form-urlencoded' });
    assert.equal((await getCorpToken(call)).errcode, 0);
  });

  test('unknown suite key -> 853003', async () => {
    const body = await getCorpToken(await signedCall(orgA.corpId, { accessKey: 'suitenobodyknowsme00' }));
    assert.equal(body.errcode, 853003);
  });

  test('an org that did not authorize the suite, or an unknown corpid -> 40079', async () => {
    const body = await getCorpToken(await signedCall(orgC.corpId));
    assert.equal(body.errcode, 40079);
    assert.equal(body.errmsg, '不存在的授权信息');
    assert.equal((await getCorpToken(await signedCall(`ding${'0'.repeat(32)}`))).errcode, 40079);
  });

  test('GET, PUT, DELETE -> HTTP 405 with 43002', async () => {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const res = await t.app.inject({ method, url: '/service/get_corp_token' });
      assert.equal(res.statusCode, 405);
      assert.equal(res.json().errcode, 43002);
    }
  });
});

describe('tickets', () => {
  test('the current ticket stays the same within a period and rotates after it', async () => {
    const first = await t.services.suites.currentTicket(suite.suiteKey);
    t.clock.now = first.createdAt + ROTATION_MS - 1;
    assert.equal(await currentTicket(), first.suiteTicket);
    t.clock.now += 1;
    const next = await t.services.suites.currentTicket(suite.suiteKey);
    assert.notEqual(next.suiteTicket, first.suiteTicket);
    assert.equal(next.createdAt, t.clock.now);
    assert.equal(next.expiresAt, next.createdAt + 2 * ROTATION_MS);
  });

  test('the previous ticket stays valid; rotated out (two rotations back) -> 853005', async () => {
    const older = await currentTicket();
    t.clock.now += ROTATION_MS;
    const previous = await currentTicket();
    t.clock.now += ROTATION_MS;
    const current = await currentTicket();
    assert.equal(new Set([older, previous, current]).size, 3);
    const signedWith = async (suiteTicket: string) => getCorpToken(await signedCall(orgA.corpId, { suiteTicket }));
    assert.equal((await signedWith(current)).errcode, 0);
    assert.equal((await signedWith(previous)).errcode, 0, 'the ticket before the current one still works');
    const stale = await signedWith(older);
    assert.equal(stale.errcode, 853005);
    assert.equal(stale.errmsg, '签名中套件ticket参数无效');
    assert.equal((await signedWith('a-ticket-never-issued')).errcode, 853005);
  });

  test('a ticket nobody replaced is refused two periods after it was issued', async () => {
    const issued = await t.services.suites.currentTicket(suite.suiteKey);
    // Nobody asks for the current ticket in between, so no rotation happens.
    const signedAt = async (now: number) => {
      t.clock.now = now;
      return getCorpToken(await signedCall(orgA.corpId, { suiteTicket: issued.suiteTicket }));
    };
    assert.equal((await signedAt(issued.expiresAt - 1)).errcode, 0);
    assert.equal((await signedAt(issued.expiresAt)).errcode, 853005);
  });

  test('tickets are stored only as hashes', async () => {
    const ticket = await currentTicket();
    const stored = await t.services.metadata.latestSuiteTickets((await t.services.metadata.getSuiteByKey(suite.suiteKey))!.id, 2);
    assert.ok(stored.length >= 1);
    assert.ok(!JSON.stringify(stored).includes(ticket));
    assert.equal(stored[0]!.ticketHash, sha256(Buffer.from(ticket)));
  });

  test('the suite secret is stored sealed, never in clear nor as its plain hash', async () => {
    const row = (await t.services.metadata.getSuiteByKey(suite.suiteKey))!;
    assert.ok(!row.secretCiphertext.includes(suite.suiteSecret));
    assert.ok(!row.secretCiphertext.includes(sha256(Buffer.from(suite.suiteSecret))));
    assert.match(row.secretCiphertext, /^v1\./);
  });
});

describe('isolation: one suite authorized by orgs A and B', () => {
  test('A-token cannot read B\'s media, B-token cannot read A\'s, each reads its own', async () => {
    const tokenA = await corpToken(orgA.corpId);
    const tokenB = await corpToken(orgB.corpId);
    const bytesA = sample('png');
    const bytesB = sample('gif');
    const uploadedA = await upload(tokenA, bytesA);
    assert.equal(uploadedA.errcode, 0);
    const { body, contentType } = multipart([{ name: 'media', filename: 'anim.gif', data: bytesB, contentType: 'image/gif' }]);
    const uploadedB = (await t.app.inject({ method: 'POST', url: `/media/upload?access_token=${tokenB}&type=image`, headers: { 'content-type': contentType }, payload: body })).json();
    assert.equal(uploadedB.errcode, 0);

    assert.deepEqual(await download(tokenA, uploadedA.media_id), { errcode: 0, sha256: sha256(bytesA) });
    assert.deepEqual(await download(tokenB, uploadedB.media_id), { errcode: 0, sha256: sha256(bytesB) });
    assert.deepEqual(await download(tokenA, uploadedB.media_id), { errcode: 40007, sha256: undefined });
    assert.deepEqual(await download(tokenB, uploadedA.media_id), { errcode: 40007, sha256: undefined });
  });

  test('media the suite uploaded in A belong to A: A\'s own app reads them, an app of org C does not', async () => {
    const tokenA = await corpToken(orgA.corpId);
    const bytes = sample('png');
    const uploaded = await upload(tokenA, bytes);
    assert.equal(uploaded.errcode, 0);
    const row = await t.services.metadata.getMedia(uploaded.media_id);
    assert.equal(row?.orgId, orgA.id);
    assert.match(row!.uploadedBy, /^suite:/);

    const appOfA = await t.services.admin.createApp('org-a', 'A internal');
    const appOfC = await t.services.admin.createApp('org-c', 'C internal');
    assert.deepEqual(await download(await t.token(appOfA.appkey, appOfA.appsecret), uploaded.media_id), { errcode: 0, sha256: sha256(bytes) });
    assert.equal((await download(await t.token(appOfC.appkey, appOfC.appsecret), uploaded.media_id)).errcode, 40007);

    // And the other way: what A's app uploads, the suite's A-token reads.
    const fromApp = await upload(await t.token(appOfA.appkey, appOfA.appsecret), bytes);
    assert.deepEqual(await download(tokenA, fromApp.media_id), { errcode: 0, sha256: sha256(bytes) });
  });

  test('after revoke for A: the A-token gets 40014 at once, B keeps working, A gets no new token until re-authorized', async () => {
    const tokenA = await corpToken(orgA.corpId);
    const tokenB = await corpToken(orgB.corpId);
    const kept = await upload(tokenA);
    assert.equal(kept.errcode, 0);

    assert.equal(await t.services.suites.revoke(suite.suiteKey, orgA), true);
    assert.equal((await upload(tokenA)).errcode, 40014);
    assert.equal((await download(tokenA, kept.media_id)).errcode, 40014);
    assert.equal((await upload(tokenB)).errcode, 0, 'B is not affected');
    assert.equal((await getCorpToken(await signedCall(orgA.corpId))).errcode, 40079);

    await t.services.suites.authorize(suite.suiteKey, orgA);
    const renewed = await corpToken(orgA.corpId);
    assert.notEqual(renewed, tokenA, 'a new token, not the revoked one');
    assert.equal((await download(renewed, kept.media_id)).errcode, 0, 'the org\'s media stayed the org\'s');
  });
});

describe('operator CLI round trip (real processes, real server)', () => {
  test('org create, suite create/authorize/ticket/list, get_corp_token over HTTP, upload, suite revoke -> 40014', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-suite-cli-'));
    const run = async (...args: string[]) => {
      const result = await cli([...args, '--data', dataDir]);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      return result.stdout;
    };
    const server = await startTestServer({ dataDir, config: { databaseUrl: undefined, storageUrl: undefined } });
    try {
      const org = JSON.parse(await run('org', 'create', 'tenant-one', '--json')) as { corpid: string };
      assert.match(org.corpid, /^ding[0-9a-f]{32}$/);
      const created = JSON.parse(await run('suite', 'create', '--name', 'CLI ISV', '--json')) as SuiteCredentials;
      assert.match(created.suiteKey, /^suite[a-z0-9]{16}$/);
      assert.ok(created.suiteSecret.length >= 32);
      const authorized = JSON.parse(await run('suite', 'authorize', '--suite', created.suiteKey, '--org', 'tenant-one', '--json'));
      assert.deepEqual(authorized, { suiteKey: created.suiteKey, org: 'tenant-one', corpid: org.corpid });
      const ticket = (await run('suite', 'ticket', '--suite', created.suiteKey)).trim();
      assert.equal(JSON.parse(await run('suite', 'ticket', '--suite', created.suiteKey, '--json')).suiteTicket, ticket, 'same ticket within the period');
      const listed = JSON.parse(await run('suite', 'list', '--json')) as Array<{ suiteKey: string; orgs: string[] }>;
      assert.deepEqual(listed.find((s) => s.suiteKey === created.suiteKey)?.orgs, ['tenant-one']);

      const timestamp = String(Date.now());
      const signature = encodeURIComponent(createHmac('sha256', created.suiteSecret).update(`${timestamp}\n${ticket}`).digest('base64'));
      const res = await fetch(
        `${server.baseUrl}/service/get_corp_token?accessKey=${created.suiteKey}&timestamp=${timestamp}&suiteTicket=${ticket}&signature=${signature}`,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth_corpid: org.corpid }) },
      );
      const grant = (await res.json()) as { errcode: number; access_token: string };
      assert.equal(grant.errcode, 0, JSON.stringify(grant));

      const form = new FormData();
      form.append('media', new Blob([new Uint8Array(sample('png'))], { type: 'image/png' }), 'photo.png');
      const uploadUrl = `${server.baseUrl}/media/upload?access_token=${grant.access_token}&type=image`;
      assert.equal(((await (await fetch(uploadUrl, { method: 'POST', body: form })).json()) as { errcode: number }).errcode, 0);

      assert.match(await run('suite', 'revoke', '--suite', created.suiteKey, '--org', 'tenant-one'), /revoked/);
      const after = (await (await fetch(uploadUrl, { method: 'POST', body: form })).json()) as { errcode: number };
      assert.equal(after.errcode, 40014, 'revoked by the CLI while the server runs: refused at once');
      assert.deepEqual((JSON.parse(await run('suite', 'list', '--json')) as Array<{ suiteKey: string; orgs: string[] }>)
        .find((s) => s.suiteKey === created.suiteKey)?.orgs, []);

      const unknown = await cli(['suite', 'ticket', '--suite', 'suitedoesnotexist000', '--data', dataDir]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no suite with key/);
    } finally {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
