// The emulator's state as a user's test suite relies on it: the well-known credentials on every
// wire, tenancy between its two organizations, the clock, seeds, resets, id lookup, fixtures, and
// the control plane existing only in emulator mode.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startEmulator, type Emulator } from '../src/emulator/index.ts';
import { sample } from './fixtures/samples.ts';
import { downloadBytes, getToken, multipartBody, sha256, upload } from './helpers/e2e-http.ts';
import { pino } from 'pino';
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/server.ts';

let emu: Emulator;
before(async () => {
  emu = await startEmulator();
});
after(async () => {
  await emu.close();
});

async function wecomToken(baseUrl: string, corpid: string, corpsecret: string): Promise<string> {
  const body = await (await fetch(`${baseUrl}/cgi-bin/gettoken?corpid=${corpid}&corpsecret=${corpsecret}`)).json() as { access_token: string };
  return body.access_token;
}

async function wecomUpload(baseUrl: string, token: string, bytes: Buffer): Promise<{ errcode: number; media_id: string }> {
  const { contentType, body } = multipartBody([{ name: 'media', data: bytes, filename: 'a.png' }]);
  return (await fetch(`${baseUrl}/cgi-bin/media/upload?access_token=${token}&type=image`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) })).json() as Promise<{ errcode: number; media_id: string }>;
}

async function feishuToken(baseUrl: string, appId: string, appSecret: string): Promise<{ code: number; tenant_access_token?: string }> {
  return (await fetch(`${baseUrl}/open-apis/auth/v3/tenant_access_token/internal`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ app_id: appId, app_secret: appSecret }) })).json() as Promise<{ code: number; tenant_access_token?: string }>;
}

test('the well-known credentials work on every wire, and nowhere else', async () => {
  const c = emu.credentials;
  assert.deepEqual(c.dingtalk, { org: 'emulator', appkey: 'dingoapiemulator', appsecret: 'oapi-media-emulator-secret' });
  assert.deepEqual(c.dingtalk2, { org: 'emulator2', appkey: 'dingoapiemulator2', appsecret: 'oapi-media-emulator-secret-2' });
  assert.match(await getToken(emu.baseUrl, c.dingtalk2.appkey, c.dingtalk2.appsecret), /^[A-Za-z0-9_-]{43}$/);
  assert.match(await wecomToken(emu.baseUrl, c.wecom.corpid, c.wecom.corpsecret), /^[A-Za-z0-9_-]{43}$/);
  assert.equal((await feishuToken(emu.baseUrl, c.feishu2.app_id, c.feishu2.app_secret)).code, 0);
  // A wire's app is no app of another wire; a wrong secret is refused as the platform does.
  const crossed = await fetch(`${emu.baseUrl}/gettoken?appkey=${c.wecom.corpid}&appsecret=${c.wecom.corpsecret}`);
  assert.equal((await crossed.json() as { errcode: number }).errcode, 40096);
  assert.match(crossed.headers.get('x-oapi-hint') ?? '', /wwoapiemulator is the emulator's WeCom app/);
  const wrong = await fetch(`${emu.baseUrl}/gettoken?appkey=${c.dingtalk.appkey}&appsecret=nope`);
  assert.equal((await wrong.json() as { errcode: number }).errcode, 40096);
  assert.equal(wrong.headers.get('x-oapi-hint'), 'wrong secret for dingoapiemulator: the emulator\'s well-known secret for it is oapi-media-emulator-secret');
  const served = await (await fetch(`${emu.baseUrl}/__oapi/credentials`)).json();
  assert.deepEqual(served, JSON.parse(JSON.stringify(c)));
});

test('organizations never see each other\'s media, and the hint says whose it is', async () => {
  const first = await getToken(emu.baseUrl, emu.credentials.dingtalk.appkey, emu.credentials.dingtalk.appsecret);
  const second = await getToken(emu.baseUrl, emu.credentials.dingtalk2.appkey, emu.credentials.dingtalk2.appsecret);
  const { media_id: mediaId } = await upload(emu.baseUrl, first, 'image', sample('png'), 'a.png');
  const refused = await fetch(`${emu.baseUrl}/media/downloadFile?access_token=${second}&media_id=${encodeURIComponent(mediaId!)}`);
  assert.equal((await refused.json() as { errcode: number }).errcode, 40007);
  assert.equal(refused.headers.get('x-oapi-hint'), 'this media belongs to organization emulator; the token is of organization emulator2 (an organization sees only its own media)');
});

test('the clock: a token expires (42001) and a WeCom media passes its 3 days, without waiting', async () => {
  const one = await startEmulator();
  try {
    const token = await getToken(one.baseUrl, one.credentials.dingtalk.appkey, one.credentials.dingtalk.appsecret);
    const wecom = await wecomToken(one.baseUrl, one.credentials.wecom.corpid, one.credentials.wecom.corpsecret);
    const { media_id: wecomMedia } = await wecomUpload(one.baseUrl, wecom, sample('png'));
    const advanced = await (await fetch(`${one.baseUrl}/__oapi/clock`, { method: 'POST', body: JSON.stringify({ advanceMs: 7_200_000 }) })).json() as { offsetMs: number; now: number };
    assert.equal(advanced.offsetMs, 7_200_000);
    assert.ok(advanced.now - Date.now() > 7_190_000);
    const expired = await fetch(`${one.baseUrl}/media/downloadFile?access_token=${token}&media_id=@aaaaaaaaaaaaaaaaaaaaaaaa`);
    assert.equal((await expired.json() as { errcode: number }).errcode, 42001);
    assert.match(expired.headers.get('x-oapi-hint') ?? '', /past its 7200 s/);

    const fresh = await wecomToken(one.baseUrl, one.credentials.wecom.corpid, one.credentials.wecom.corpsecret);
    const stillThere = await fetch(`${one.baseUrl}/cgi-bin/media/get?access_token=${fresh}&media_id=${wecomMedia}`);
    assert.equal(stillThere.status, 200, 'under 3 days');
    await stillThere.arrayBuffer();
    await one.clock.advance(3 * 24 * 3600_000);
    const later = await wecomToken(one.baseUrl, one.credentials.wecom.corpid, one.credentials.wecom.corpsecret);
    const gone = await fetch(`${one.baseUrl}/cgi-bin/media/get?access_token=${later}&media_id=${wecomMedia}`);
    assert.equal((await gone.json() as { errcode: number }).errcode, 40007);
    assert.match(gone.headers.get('x-oapi-hint') ?? '', /WeCom's temporary media last 3 days/);
    assert.equal((await fetch(`${one.baseUrl}/__oapi/clock`, { method: 'POST', body: '{"advanceMs":-5}' })).status, 400, 'the clock only moves forward');
  } finally {
    await one.close();
  }
});

test('the same seed and the same calls give the same tokens, media_ids and journal ids, shaped like the platform\'s', async () => {
  const run = async (seed: number) => {
    const one = await startEmulator({ seed });
    try {
      const token = await getToken(one.baseUrl, one.credentials.dingtalk.appkey, one.credentials.dingtalk.appsecret);
      const ids = [];
      for (const format of ['png', 'jpg'] as const) ids.push((await upload(one.baseUrl, token, 'image', sample(format), `a.${format}`)).media_id!);
      const wecom = await wecomToken(one.baseUrl, one.credentials.wecom.corpid, one.credentials.wecom.corpsecret);
      ids.push((await wecomUpload(one.baseUrl, wecom, sample('png'))).media_id);
      return { token, wecom, ids, journal: one.requests.list().map((e) => e.id) };
    } finally {
      await one.close();
    }
  };
  const first = await run(42);
  assert.deepEqual(await run(42), first);
  assert.match(first.ids[0]!, /^@[A-Za-z0-9_-]{24,}$/);
  assert.match(first.ids[2]!, /^[1-9][A-Za-z0-9_-]{43}$/, 'a WeCom media_id');
  assert.deepEqual(first.journal, [1, 2, 3, 4, 5]);
  const other = await run(43);
  assert.notEqual(other.token, first.token);
  assert.notDeepEqual(other.ids, first.ids);
});

test('reset puts everything back to the well-known credentials; a scope resets only its part', async () => {
  const one = await startEmulator({ seed: 5 });
  try {
    const token = await getToken(one.baseUrl, one.credentials.dingtalk.appkey, one.credentials.dingtalk.appsecret);
    const { media_id: mediaId } = await upload(one.baseUrl, token, 'image', sample('png'), 'a.png');
    await one.services.admin.createApp('emulator', 'made-in-a-test');
    one.faults.add({ path: '/nowhere', errcode: 1 });

    // tokens: the token goes, the media stays.
    assert.deepEqual(await (await fetch(`${one.baseUrl}/__oapi/reset?scope=tokens`, { method: 'POST' })).json(), { reset: 'tokens' });
    assert.equal((await (await fetch(`${one.baseUrl}/media/downloadFile?access_token=${token}&media_id=${encodeURIComponent(mediaId!)}`)).json() as { errcode: number }).errcode, 40014);
    const again = await getToken(one.baseUrl, one.credentials.dingtalk.appkey, one.credentials.dingtalk.appsecret);
    assert.equal((await downloadBytes(one.baseUrl, again, mediaId!)).bytes.length, sample('png').length);
    // media: the media goes, the token stays.
    await fetch(`${one.baseUrl}/__oapi/reset`, { method: 'POST', body: JSON.stringify({ scope: 'media' }) });
    assert.equal((await (await fetch(`${one.baseUrl}/media/downloadFile?access_token=${again}&media_id=${encodeURIComponent(mediaId!)}`)).json() as { errcode: number }).errcode, 40007);
    assert.equal(one.faults.list().length, 1, 'faults untouched');
    assert.ok(one.requests.list().length > 0, 'journal untouched');
    assert.equal((await fetch(`${one.baseUrl}/__oapi/reset?scope=everything`, { method: 'POST' })).status, 400);

    // all: over HTTP, answered by the old state, then a fresh one with the seed's first ids again.
    assert.deepEqual(await (await fetch(`${one.baseUrl}/__oapi/reset`, { method: 'POST' })).json(), { reset: 'all' });
    assert.equal(one.faults.list().length, 0);
    assert.deepEqual(one.requests.list(), []);
    assert.equal((await one.services.admin.listApps('emulator')).some((app) => app.app === 'made-in-a-test'), false);
    assert.equal(await getToken(one.baseUrl, one.credentials.dingtalk.appkey, one.credentials.dingtalk.appsecret), token, 'the seed starts over');
    assert.equal(one.requests.list()[0]!.id, 1);
  } finally {
    await one.close();
  }
});

test('GET /__oapi/ids/:id says what an id is, and what an unknown one looks like', async () => {
  const token = await getToken(emu.baseUrl, emu.credentials.dingtalk.appkey, emu.credentials.dingtalk.appsecret);
  const png = sample('png');
  const { media_id: mediaId } = await upload(emu.baseUrl, token, 'image', png, 'a.png');
  const lookup = async (id: string) => {
    const response = await fetch(`${emu.baseUrl}/__oapi/ids/${encodeURIComponent(id)}`);
    return { status: response.status, body: await response.json() as { kind: string; wire: string | null; org: string | null; description: string; details: Record<string, unknown> } };
  };
  const media = await lookup(mediaId!);
  assert.equal(media.status, 200);
  assert.equal(media.body.kind, 'media');
  assert.equal(media.body.wire, 'dingtalk');
  assert.equal(media.body.org, 'emulator');
  assert.equal(media.body.details.sha256, sha256(png));
  assert.equal(media.body.details.uploadedBy, 'dingoapiemulator');
  const ofToken = await lookup(token);
  assert.deepEqual([ofToken.body.kind, ofToken.body.wire, ofToken.body.org, ofToken.body.details.app], ['access_token', 'dingtalk', 'emulator', 'dingoapiemulator']);
  const app = await lookup('wwoapiemulator2');
  assert.deepEqual([app.body.kind, app.body.wire, app.body.org], ['app', 'wecom', 'emulator2']);
  const unknown = await lookup('1G6nrLmr5EC3MMb_-zK1dDdzmd0p7cNliYu9V5w7o8K0');
  assert.equal(unknown.status, 404);
  assert.deepEqual([unknown.body.kind, unknown.body.wire], ['unknown', 'wecom']);
  assert.match(unknown.body.description, /shaped like a WeCom media_id/);
  const session = await (await fetch(`${emu.baseUrl}/file/upload/transaction?access_token=${token}&agent_id=1&file_size=200000&chunk_numbers=2`)).json() as { upload_id: string };
  const ofSession = await lookup(session.upload_id);
  assert.deepEqual([ofSession.body.kind, ofSession.body.details.fileSize], ['upload_session', 200000]);
  assert.equal((await emu.lookup(mediaId!)).kind, 'media');
});

test('--init fixtures: organizations with limits, apps with given credentials, and media uploaded through the wire\'s checks', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-media-fixtures-'));
  try {
    await writeFile(join(dir, 'logo.png'), sample('png'));
    const fixtures = {
      organizations: [
        { name: 'acme', quotaBytes: 1_000_000, apps: [{ name: 'web', key: 'dingacmeweb', secret: 'acme-secret' }, { name: 'wx', wire: 'wecom', key: 'wwacme', secret: 'acme-wx' }],
          media: [{ app: 'web', type: 'image', fileName: 'logo.png', path: 'logo.png' }, { app: 'wx', type: 'file', fileName: 'a.pdf', base64: sample('pdf').toString('base64') }] },
        { name: 'emulator', media: [{ type: 'image', fileName: 'well-known.png', path: 'logo.png' }] },
      ],
    };
    await writeFile(join(dir, 'fixtures.json'), JSON.stringify(fixtures));
    const seeded = async () => {
      const one = await startEmulator({ seed: 9, init: join(dir, 'fixtures.json') });
      try {
        assert.deepEqual(one.media.map((m) => [m.org, m.wire, m.fileName]), [['acme', 'dingtalk', 'logo.png'], ['acme', 'wecom', 'a.pdf'], ['emulator', 'dingtalk', 'well-known.png']]);
        const token = await getToken(one.baseUrl, 'dingacmeweb', 'acme-secret');
        const { bytes } = await downloadBytes(one.baseUrl, token, one.media[0]!.mediaId);
        assert.equal(sha256(bytes), sha256(sample('png')));
        assert.equal((await one.services.admin.orgSummary('acme')).quotaBytes, 1_000_000);
        assert.deepEqual(one.requests.list().map((e) => e.path), ['/gettoken', '/media/downloadFile'], 'seeding is not journaled');
        const beforeReset = one.media.map((m) => m.mediaId);
        await one.reset();
        assert.deepEqual(one.media.map((m) => m.mediaId), beforeReset, 'the seed gives the fixtures the same ids after a reset');
        const afterReset = await getToken(one.baseUrl, 'dingacmeweb', 'acme-secret');
        assert.equal((await downloadBytes(one.baseUrl, afterReset, one.media[0]!.mediaId)).bytes.length, sample('png').length, 'a reset seeds the fixtures again');
        return one.media.map((m) => m.mediaId);
      } finally {
        await one.close();
      }
    };
    assert.deepEqual(await seeded(), await seeded(), 'a seed gives fixtures the same ids too');
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ organizations: [{ name: 'x', apps: [{ name: 'a' }], media: [{ type: 'image', fileName: 'a.png', base64: Buffer.from('not an image').toString('base64') }] }] }));
    await assert.rejects(startEmulator({ init: join(dir, 'bad.json') }), /fixtures: a\.png was refused: .*"errcode":40005/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('outside emulator mode /__oapi/ is an unknown path like any other, and no X-Oapi-Hint is sent', async () => {
  // The server itself, started here (test-server.ts would start an emulator under TEST_SERVER=emulator).
  const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-not-emulator-'));
  const server = await startServer(loadConfig({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent', shutdownGraceMs: 2_000 }, {}), { logger: pino({ level: 'silent' }) });
  const baseUrl = server.url;
  try {
    const response = await fetch(`${baseUrl}/__oapi/requests`);
    assert.equal(response.status, 404);
    assert.equal((await response.json() as { errcode: number }).errcode, 404);
    const faulted = await fetch(`${baseUrl}/gettoken?appkey=a&appsecret=b`, { headers: { 'x-oapi-fault': 'errcode=1' } });
    assert.equal((await faulted.json() as { errcode: number }).errcode, 40096, 'X-Oapi-Fault means nothing to the server');
    assert.equal(faulted.headers.get('x-oapi-hint'), null);
    const document = await (await fetch(`${baseUrl}/openapi.json`)).json() as { paths: Record<string, unknown> };
    assert.equal(Object.keys(document.paths).some((path) => path.startsWith('/__oapi')), false);
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  const document = await (await fetch(`${emu.baseUrl}/openapi.json`)).json() as { paths: Record<string, unknown>; tags: { name: string }[] };
  for (const path of ['/__oapi/reset', '/__oapi/requests', '/__oapi/faults', '/__oapi/faults/{id}', '/__oapi/clock', '/__oapi/ids/{id}']) {
    assert.ok(document.paths[path], `${path} in the emulator's OpenAPI document`);
  }
  assert.ok(document.tags.some((tag) => tag.name === 'Emulator'));
});
