// Answers only real DingTalk gives (the oapi-media server cannot be made to), replayed by the fake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, DingTalkError } from '../src/index.ts';
import { startFakeDingTalk } from './helpers/fake-dingtalk.ts';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

test('an errcode the SDK has never heard of is passed through as is, not retried', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    // DingTalk's "app not authorized for this API" family; not in api.md's table.
    fake.script('/media/upload', { json: { errcode: 60011, errmsg: '没有调用该接口的权限', request_id: 'body-id-1' }, headers: {} });
    await assert.rejects(client.media.upload(PNG, { type: 'image', filename: 'a.png' }), (e: unknown) => {
      assert.ok(e instanceof DingTalkError);
      assert.equal(e.errcode, 60011);
      assert.equal(e.errmsg, '没有调用该接口的权限');
      assert.equal(e.body?.request_id, 'body-id-1');
      assert.match(e.message, /^60011 没有调用该接口的权限/);
      return true;
    });
    assert.equal(fake.count('/media/upload'), 1);
  } finally {
    await fake.close();
  }
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
  const fake = await startFakeDingTalk();
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret, retries: { baseDelayMs: 5 } });
    fake.script('/gettoken', { json: { errcode: 45009, errmsg: '接口调用超过限制' } });
    const { mediaId } = await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
    assert.equal(fake.count('/gettoken'), 2);
    assert.ok(fake.media.has(mediaId));
  } finally {
    await fake.close();
  }
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
