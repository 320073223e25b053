import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, DingTalkError } from '../src/index.ts';
import { startFakeDingTalk } from './helpers/fake-dingtalk.ts';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

test('50 concurrent calls with no token yet -> exactly one /gettoken, all 50 uploads succeed', async () => {
  const fake = await startFakeDingTalk({ tokenDelayMs: 50 });
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.media.upload(PNG, { type: 'image', filename: `p${i}.png` })));
    assert.equal(fake.count('/gettoken'), 1);
    assert.equal(fake.count('/media/upload'), 50);
    assert.equal(new Set(results.map((r) => r.mediaId)).size, 50);
  } finally {
    await fake.close();
  }
});

test('the token is fetched lazily and cached across calls', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    assert.equal(fake.count('/gettoken'), 0);
    const first = await client.getAccessToken();
    const second = await client.getAccessToken();
    await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
    assert.equal(first, second);
    assert.equal(fake.count('/gettoken'), 1);
    assert.equal(fake.requests.find((r) => r.path === '/media/upload')?.query.get('access_token'), first);
  } finally {
    await fake.close();
  }
});

test('a token is refreshed before expires_in runs out (within the last 5 minutes), not after every call', async () => {
  const fake = await startFakeDingTalk({ expiresIn: 7200 });
  let clock = 1_000_000;
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret, now: () => clock });
    await client.getAccessToken();
    clock += (7200 - 301) * 1000; // still more than 5 minutes left
    await client.getAccessToken();
    assert.equal(fake.count('/gettoken'), 1);
    clock += 2000; // now inside the refresh margin, but not expired
    await client.getAccessToken();
    assert.equal(fake.count('/gettoken'), 2);
  } finally {
    await fake.close();
  }
});

test('an upload answered 42001 (expired token) is resent once with a new token and succeeds', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    const oldToken = await client.getAccessToken();
    fake.expireTokens();
    const result = await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
    assert.deepEqual(fake.media.get(result.mediaId)?.bytes, PNG);
    assert.equal(fake.count('/gettoken'), 2);
    assert.equal(fake.count('/media/upload'), 2);
    assert.notEqual(await client.getAccessToken(), oldToken);
  } finally {
    await fake.close();
  }
});

test('50 concurrent calls that all fail with the same expired token -> one refresh, all succeed', async () => {
  const fake = await startFakeDingTalk({ tokenDelayMs: 20 });
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    await client.getAccessToken();
    fake.expireTokens();
    await Promise.all(Array.from({ length: 50 }, (_, i) => client.media.upload(PNG, { type: 'image', filename: `p${i}.png` })));
    assert.equal(fake.count('/gettoken'), 2);
    assert.equal(fake.media.size, 50);
  } finally {
    await fake.close();
  }
});

test('40014 is refreshed and retried once only: a second 40014 is thrown', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    fake.script('/media/downloadFile', { json: { errcode: 40014, errmsg: '不合法的access_token' } }, { json: { errcode: 40014, errmsg: '不合法的access_token' } });
    await assert.rejects(client.media.download('@whatever'), (e: unknown) => e instanceof DingTalkError && e.errcode === 40014);
    assert.equal(fake.count('/media/downloadFile'), 2);
    assert.equal(fake.count('/gettoken'), 2);
  } finally {
    await fake.close();
  }
});

test('other errcodes (40007) do not refresh the token nor retry', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    await assert.rejects(client.media.download('@nope'), (e: unknown) => e instanceof DingTalkError && e.errcode === 40007);
    assert.equal(fake.count('/media/downloadFile'), 1);
    assert.equal(fake.count('/gettoken'), 1);
  } finally {
    await fake.close();
  }
});

test('wrong app credentials -> DingTalkError 40096, the secret appears in no error message', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: 'wrong-secret-xyz' });
    await assert.rejects(client.media.upload(PNG, { type: 'image', filename: 'a.png' }), (e: unknown) => {
      assert.ok(e instanceof DingTalkError);
      assert.equal(e.errcode, 40096);
      assert.equal(e.errmsg, '不合法的appKey或appSecret');
      assert.ok(!e.message.includes('wrong-secret-xyz'));
      return true;
    });
    assert.equal(fake.count('/media/upload'), 0);
  } finally {
    await fake.close();
  }
});

test('a non-replayable stream answered 42001 is not resent: the 42001 is thrown, nothing empty is stored', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    await client.getAccessToken();
    fake.expireTokens();
    const { Readable } = await import('node:stream');
    await assert.rejects(
      client.media.upload(Readable.from([PNG]), { type: 'image', filename: 'a.png' }),
      (e: unknown) => e instanceof DingTalkError && e.errcode === 42001 && /cannot be replayed/.test(e.message),
    );
    assert.equal(fake.count('/media/upload'), 1);
    assert.equal(fake.media.size, 0);
    // The token was dropped: the next call refreshes and works.
    const again = await client.media.upload(Readable.from([PNG]), { type: 'image', filename: 'a.png' });
    assert.deepEqual(fake.media.get(again.mediaId)?.bytes, PNG);
    assert.equal(fake.count('/gettoken'), 2);
  } finally {
    await fake.close();
  }
});

test('a failed refresh inside the margin falls back to the still-valid token; after expiry it throws', async () => {
  const fake = await startFakeDingTalk({ expiresIn: 7200 });
  let clock = 1_000_000;
  try {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret, now: () => clock, retries: { limit: 1, baseDelayMs: 5 } });
    const token = await client.getAccessToken();
    clock += (7200 - 60) * 1000; // one minute left: refresh due
    const busy = { json: { errcode: -1, errmsg: '系统繁忙' } };
    fake.script('/gettoken', busy, busy);
    assert.equal(await client.getAccessToken(), token);
    assert.equal(fake.count('/gettoken'), 3);
    clock += 61 * 1000; // expired now
    fake.script('/gettoken', busy, busy);
    await assert.rejects(client.getAccessToken(), (e: unknown) => e instanceof DingTalkError && e.errcode === -1);
  } finally {
    await fake.close();
  }
});
