// How the SDK reads DingTalk's answers: errcodes outside api.md's table (injected in the
// emulator), the request id in its two places, and rate limits on /gettoken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, DingTalkError } from '../src/index.ts';
import { sample } from '../../server/test/fixtures/samples.ts';
import { callsTo, clientOf, sha256, storedMedia, withEmulator } from './helpers/emulator.ts';

const PNG = sample('png');

test('an errcode the SDK has never heard of is passed through as is, not retried', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    // DingTalk's "app not authorized for this API" family; not in api.md's table (the emulator words it 系统错误).
    emu.faults.add({ path: '/media/upload', errcode: 60011 });
    await assert.rejects(client.media.upload(PNG, { type: 'image', filename: 'a.png' }), (e: unknown) => {
      assert.ok(e instanceof DingTalkError);
      assert.equal(e.errcode, 60011);
      assert.equal(e.errmsg, '系统错误');
      assert.equal(typeof e.requestId, 'string');
      assert.equal(e.body?.request_id, e.requestId);
      assert.match(e.message, /^60011 系统错误/);
      return true;
    });
    assert.equal(callsTo(emu, '/media/upload'), 1);
  });
});

test('the request id comes from the x-request-id header, else from the body request_id', async () => {
  const http = await import('node:http');
  const server = http.createServer((req, res) => {
    const headerless = req.url?.startsWith('/gettoken?appkey=nohdr');
    res.writeHead(200, { 'content-type': 'application/json', ...(headerless ? {} : { 'x-request-id': 'hdr-42' }) });
    res.end(JSON.stringify({ errcode: 40096, errmsg: '不合法的appKey或appSecret', request_id: 'body-7' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const baseUrl = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
    const withHeader = createClient({ baseUrl, appKey: 'k', appSecret: 's' });
    await assert.rejects(withHeader.getAccessToken(), (e: unknown) => e instanceof DingTalkError && e.requestId === 'hdr-42');
    const withoutHeader = createClient({ baseUrl, appKey: 'nohdr', appSecret: 's' });
    await assert.rejects(withoutHeader.getAccessToken(), (e: unknown) => e instanceof DingTalkError && e.requestId === 'body-7');
  } finally {
    server.close();
  }
});

test('DingTalk answers a rate limit (45009) on /gettoken: retried with backoff, then the token works', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu, { retries: { baseDelayMs: 5 } });
    emu.faults.add({ path: '/gettoken', errcode: 45009, times: 1 });
    const { mediaId } = await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
    assert.deepEqual(emu.requests.list({ path: '/gettoken' }).map((r) => r.answer.errcode), [45009, 0]);
    assert.deepEqual((await storedMedia(emu)).map((m) => [m.media_id, m.sha256]), [[mediaId, sha256(PNG)]]);
  });
});

test('a base URL with a path prefix (behind a proxy) keeps the prefix', async () => {
  let seen = '';
  const client = createClient({
    baseUrl: 'http://proxy.example/dingtalk/', appKey: 'k', appSecret: 's', retries: 0,
    fetch: async (input) => {
      seen = String(input);
      return new Response(JSON.stringify({ errcode: 0, errmsg: 'ok', access_token: 'tok', expires_in: 7200 }), { headers: { 'content-type': 'application/json' } });
    },
  });
  assert.equal(await client.getAccessToken(), 'tok');
  assert.equal(seen, 'http://proxy.example/dingtalk/gettoken?appkey=k&appsecret=s');
});

test('createClient refuses missing credentials and a malformed base URL at once', () => {
  assert.throws(() => createClient({ appKey: '', appSecret: 's' }), /appKey/);
  assert.throws(() => createClient({ appKey: 'k', appSecret: '' }), /appSecret/);
  assert.throws(() => createClient({ appKey: 'k', appSecret: 's', baseUrl: 'not a url' }), TypeError);
  assert.equal(createClient({ appKey: 'k', appSecret: 's' }).baseUrl, 'https://oapi.dingtalk.com');
});
