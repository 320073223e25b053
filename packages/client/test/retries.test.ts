import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createClient, DingTalkError, NetworkError, type ClientOptions } from '../src/index.ts';
import { clientWith } from '../src/client.ts';
import { backoffDelay, DEFAULT_RETRY } from '../src/retry-policy.ts';
import { startFakeDingTalk, type FakeDingTalk } from './helpers/fake-dingtalk.ts';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
const busy = { json: { errcode: -1, errmsg: '系统繁忙' } };
const rateLimited = { json: { errcode: 45009, errmsg: '接口调用超过限制' } };

function clientOf(fake: FakeDingTalk, extra: Partial<ClientOptions> = {}) {
  return createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret, retries: { limit: 2, baseDelayMs: 40 }, ...extra });
}

async function uploadedDownload(fake: FakeDingTalk) {
  const client = clientOf(fake);
  const { mediaId } = await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
  return { client, mediaId };
}

test('backoff doubles per retry, is capped, and half of it is random', () => {
  const options = { limit: 5, baseDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(backoffDelay(0, options, () => 0), 50);
  assert.equal(backoffDelay(0, options, () => 1), 100);
  assert.equal(backoffDelay(2, options, () => 0), 200);
  assert.equal(backoffDelay(2, options, () => 1), 400);
  assert.equal(backoffDelay(10, options, () => 1), 1000);
  assert.equal(DEFAULT_RETRY.limit, 2);
});

test('a download answered -1 then 45009 is retried with backoff and succeeds on the third try', async () => {
  const fake = await startFakeDingTalk();
  try {
    const { client, mediaId } = await uploadedDownload(fake);
    fake.script('/media/downloadFile', busy, rateLimited);
    const started = performance.now();
    const media = await client.media.download(mediaId);
    const elapsed = performance.now() - started;
    assert.deepEqual(Buffer.from(await media.arrayBuffer()), PNG);
    assert.equal(fake.count('/media/downloadFile'), 3);
    assert.ok(elapsed >= 20 + 40, `waited ${elapsed} ms, at least 60 expected (20 + 40 minimum backoff)`);
  } finally {
    await fake.close();
  }
});

test('retries stop at the limit: three -1 answers with limit 2 -> DingTalkError -1 after 3 calls', async () => {
  const fake = await startFakeDingTalk();
  try {
    const { client, mediaId } = await uploadedDownload(fake);
    fake.script('/media/downloadFile', busy, busy, busy);
    await assert.rejects(client.media.download(mediaId), (e: unknown) => e instanceof DingTalkError && e.errcode === -1);
    assert.equal(fake.count('/media/downloadFile'), 3);
  } finally {
    await fake.close();
  }
});

test('retries: 0 turns retries off', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = clientOf(fake, { retries: 0 });
    fake.script('/gettoken', busy);
    await assert.rejects(client.getAccessToken(), (e: unknown) => e instanceof DingTalkError && e.errcode === -1);
    assert.equal(fake.count('/gettoken'), 1);
  } finally {
    await fake.close();
  }
});

test('a dropped connection on download is a NetworkError and is retried', async () => {
  const fake = await startFakeDingTalk();
  try {
    const { client, mediaId } = await uploadedDownload(fake);
    fake.script('/media/downloadFile', { reset: true });
    const media = await client.media.download(mediaId);
    assert.deepEqual(Buffer.from(await media.arrayBuffer()), PNG);
    assert.equal(fake.count('/media/downloadFile'), 2);
  } finally {
    await fake.close();
  }
});

test('a proxy 502 page (no JSON) counts as -1 and is retried; a 404 page is not', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = clientOf(fake);
    fake.script('/gettoken', { text: '<html>bad gateway</html>', status: 502 });
    await client.getAccessToken();
    assert.equal(fake.count('/gettoken'), 2);
    const other = clientOf(fake);
    fake.script('/gettoken', { text: 'not here', status: 404 });
    await assert.rejects(other.getAccessToken(), (e: unknown) => e instanceof DingTalkError && e.errcode === 404 && e.httpStatus === 404);
    assert.equal(fake.count('/gettoken'), 3);
  } finally {
    await fake.close();
  }
});

test('an upload answered -1 is NOT resent by default (it may have been stored)', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = clientOf(fake);
    await client.getAccessToken();
    fake.script('/media/upload', busy);
    await assert.rejects(client.media.upload(PNG, { type: 'image', filename: 'a.png' }), (e: unknown) => e instanceof DingTalkError && e.errcode === -1);
    assert.equal(fake.count('/media/upload'), 1);
  } finally {
    await fake.close();
  }
});

test('an upload whose connection drops after sending is NOT resent by default: NetworkError', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = clientOf(fake);
    fake.script('/media/upload', { reset: true });
    await assert.rejects(client.media.upload(PNG, { type: 'image', filename: 'a.png' }), (e: unknown) => {
      assert.ok(e instanceof NetworkError, String(e));
      assert.equal(e.mayHaveReachedServer, true);
      assert.ok(!e.message.includes('access_token'), e.message);
      return true;
    });
    assert.equal(fake.count('/media/upload'), 1);
  } finally {
    await fake.close();
  }
});

test('retryUploads: true resends a replayable upload after -1 and after a dropped connection', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = clientOf(fake, { retryUploads: true });
    fake.script('/media/upload', busy, { reset: true });
    const result = await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
    assert.deepEqual(fake.media.get(result.mediaId)?.bytes, PNG);
    assert.equal(fake.count('/media/upload'), 3);
  } finally {
    await fake.close();
  }
});

test('45009 is a refusal (nothing stored), so a replayable upload is resent even by default', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = clientOf(fake);
    fake.script('/media/upload', rateLimited);
    const result = await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
    assert.equal(fake.count('/media/upload'), 2);
    assert.equal(fake.media.size, 1);
    assert.equal(result.type, 'image');
  } finally {
    await fake.close();
  }
});

test('a stream upload is never resent, even with retryUploads: true', async () => {
  const fake = await startFakeDingTalk();
  try {
    const client = clientOf(fake, { retryUploads: true });
    fake.script('/media/upload', rateLimited);
    await assert.rejects(
      client.media.upload(Readable.from([PNG]), { type: 'image', filename: 'a.png' }),
      (e: unknown) => e instanceof DingTalkError && e.errcode === 45009,
    );
    assert.equal(fake.count('/media/upload'), 1);
  } finally {
    await fake.close();
  }
});

test('a refused connection is a NetworkError that provably sent nothing, so even an upload is retried', async () => {
  const fake = await startFakeDingTalk();
  const { baseUrl } = fake;
  await fake.close(); // nothing listens on that port any more
  const client = createClient({ baseUrl, appKey: 'k', appSecret: 's', retries: 0 });
  await assert.rejects(client.getAccessToken(), (e: unknown) => e instanceof NetworkError && e.code === 'ECONNREFUSED' && !e.mayHaveReachedServer);

  let calls = 0;
  const staticToken = { getToken: async () => 'token', invalidate: () => undefined };
  const withToken = clientWith(staticToken, {
    baseUrl, retry: { limit: 1, baseDelayMs: 5, maxDelayMs: 5 }, localChecks: true, retryUploads: false,
    fetch: (input, init) => { calls++; return fetch(input, init); },
  });
  await assert.rejects(withToken.media.upload(PNG, { type: 'image', filename: 'a.png' }), NetworkError);
  assert.equal(calls, 2);
  await assert.rejects(withToken.media.upload(Readable.from([PNG]), { type: 'image', filename: 'a.png' }), NetworkError);
  assert.equal(calls, 3, 'a stream is not resent');
});
