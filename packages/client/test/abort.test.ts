import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createClient } from '../src/index.ts';
import { startFakeDingTalk, type FakeDingTalk } from './helpers/fake-dingtalk.ts';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
const isReason = (reason: unknown) => (e: unknown) => e === reason;

async function withFake(options: Parameters<typeof startFakeDingTalk>[0], run: (fake: FakeDingTalk) => Promise<void>) {
  const fake = await startFakeDingTalk(options);
  try {
    await run(fake);
  } finally {
    await fake.close();
  }
}

test('abort mid-upload: rejects with the signal reason, the source is destroyed, nothing stored', async () => {
  await withFake({}, async (fake) => {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    await client.getAccessToken();
    const controller = new AbortController();
    let sent = 0;
    const slow = new Readable({
      read() {
        sent++;
        setTimeout(() => this.push(sent === 1 ? PNG : Buffer.alloc(16 * 1024)), 5);
      },
    });
    const upload = client.media.upload(slow, { type: 'image', filename: 'slow.png', signal: controller.signal });
    await fake.receivedBytes('/media/upload', 64 * 1024);
    const reason = new Error('user cancelled');
    controller.abort(reason);
    await assert.rejects(upload, isReason(reason));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(slow.destroyed);
    assert.equal(fake.media.size, 0);
    const request = fake.requests.find((r) => r.path === '/media/upload');
    assert.equal(request?.complete, false);
  });
});

test('an already-aborted signal sends nothing', async () => {
  await withFake({}, async (fake) => {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    const reason = new Error('too late');
    await assert.rejects(client.media.upload(PNG, { type: 'image', filename: 'a.png', signal: AbortSignal.abort(reason) }), isReason(reason));
    await assert.rejects(client.media.download('@x', { signal: AbortSignal.abort(reason) }), isReason(reason));
    assert.equal(fake.requests.length, 0);
  });
});

test('abort during a backoff wait ends the wait at once', async () => {
  await withFake({}, async (fake) => {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret, retries: { limit: 3, baseDelayMs: 20_000, maxDelayMs: 20_000 } });
    await client.getAccessToken();
    fake.script('/media/downloadFile', { json: { errcode: -1, errmsg: '系统繁忙' } });
    const started = performance.now();
    const signal = AbortSignal.timeout(100);
    await assert.rejects(client.media.download('@x', { signal }), (e: unknown) => e === signal.reason);
    assert.ok(performance.now() - started < 2000);
    assert.equal(fake.count('/media/downloadFile'), 1);
  });
});

test('abort while waiting for a shared token refresh ends that wait only; the others get the token', async () => {
  await withFake({ tokenDelayMs: 500 }, async (fake) => {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    const controller = new AbortController();
    const impatient = client.getAccessToken({ signal: controller.signal });
    const patient = client.getAccessToken();
    const uploading = client.media.upload(PNG, { type: 'image', filename: 'a.png', signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    await assert.rejects(impatient, { name: 'AbortError' });
    await assert.rejects(uploading, { name: 'AbortError' });
    assert.ok(performance.now() - started < 400, 'the abort did not wait for /gettoken');
    assert.match(await patient, /^[0-9a-f]{32}$/);
    assert.equal(fake.count('/gettoken'), 1);
    assert.equal(fake.count('/media/upload'), 0);
  });
});

test('abort while reading a download body rejects with the reason', async () => {
  await withFake({}, async (fake) => {
    const client = createClient({ baseUrl: fake.baseUrl, appKey: fake.appKey, appSecret: fake.appSecret });
    const big = Buffer.alloc(8 * 1024 * 1024, 3);
    const { mediaId } = await client.media.upload(big, { type: 'file', filename: 'big.zip' });
    const controller = new AbortController();
    const media = await client.media.download(mediaId, { signal: controller.signal });
    const reader = media.stream().getReader();
    await reader.read();
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(async () => {
      for (;;) if ((await reader.read()).done) break;
    }, isReason(reason));
  });
});
