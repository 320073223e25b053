import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createClient, DingTalkError, NetworkError, type ClientOptions } from '../src/index.ts';
import { clientWith } from '../src/client.ts';
import { backoffDelay, DEFAULT_RETRY } from '../src/retry-policy.ts';
import { sample } from '../../server/test/fixtures/samples.ts';
import { callsTo, clientOf, sha256, startEmulator, storedMedia, withEmulator, type Emulator } from './helpers/emulator.ts';

const PNG = sample('png');
const retrying = (emu: Emulator, extra: Partial<ClientOptions> = {}) => clientOf(emu, { retries: { limit: 2, baseDelayMs: 40 }, ...extra });

async function uploadedDownload(emu: Emulator) {
  const client = retrying(emu);
  const { mediaId } = await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
  return { client, mediaId };
}

const errcodesOf = (emu: Emulator, path: string) => emu.requests.list({ path }).map((r) => r.answer.errcode);

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
  await withEmulator(async (emu) => {
    const { client, mediaId } = await uploadedDownload(emu);
    emu.faults.add({ path: '/media/downloadFile', errcode: -1, times: 1 });
    emu.faults.add({ path: '/media/downloadFile', errcode: 45009, times: 1 });
    const started = performance.now();
    const media = await client.media.download(mediaId);
    const elapsed = performance.now() - started;
    assert.equal(sha256(Buffer.from(await media.arrayBuffer())), sha256(PNG));
    assert.deepEqual(errcodesOf(emu, '/media/downloadFile'), [-1, 45009, 0]);
    assert.ok(elapsed >= 20 + 40, `waited ${elapsed} ms, at least 60 expected (20 + 40 minimum backoff)`);
  });
});

test('retries stop at the limit: three -1 answers with limit 2 -> DingTalkError -1 after 3 calls', async () => {
  await withEmulator(async (emu) => {
    const { client, mediaId } = await uploadedDownload(emu);
    emu.faults.add({ path: '/media/downloadFile', errcode: -1, times: 3 });
    await assert.rejects(client.media.download(mediaId), (e: unknown) => e instanceof DingTalkError && e.errcode === -1 && e.errmsg === '系统繁忙');
    assert.equal(callsTo(emu, '/media/downloadFile'), 3);
  });
});

test('retries: 0 turns retries off', async () => {
  await withEmulator(async (emu) => {
    const client = retrying(emu, { retries: 0 });
    emu.faults.add({ path: '/gettoken', errcode: -1, times: 1 });
    await assert.rejects(client.getAccessToken(), (e: unknown) => e instanceof DingTalkError && e.errcode === -1);
    assert.equal(callsTo(emu, '/gettoken'), 1);
  });
});

test('a dropped connection on download is a NetworkError and is retried', async () => {
  await withEmulator(async (emu) => {
    const { client, mediaId } = await uploadedDownload(emu);
    emu.faults.add({ path: '/media/downloadFile', kind: 'reset', times: 1 });
    const media = await client.media.download(mediaId);
    assert.equal(sha256(Buffer.from(await media.arrayBuffer())), sha256(PNG));
    assert.equal(callsTo(emu, '/media/downloadFile'), 2);
  });
});

test('a 502 with no JSON counts as -1 and is retried; the gateway\'s HTML 413 page is not', async () => {
  await withEmulator(async (emu) => {
    const client = retrying(emu);
    emu.faults.add({ path: '/gettoken', kind: 'empty', status: 502, times: 1 });
    await client.getAccessToken();
    assert.deepEqual(emu.requests.list({ path: '/gettoken' }).map((r) => r.answer.status), [502, 200]);
    const other = retrying(emu);
    emu.faults.add({ path: '/gettoken', kind: 'gateway413', times: 1 });
    await assert.rejects(other.getAccessToken(), (e: unknown) => e instanceof DingTalkError && e.errcode === 413 && e.httpStatus === 413);
    assert.equal(callsTo(emu, '/gettoken'), 3);
  });
});

test('an upload answered -1 is NOT resent by default (it may have been stored)', async () => {
  await withEmulator(async (emu) => {
    const client = retrying(emu);
    await client.getAccessToken();
    emu.faults.add({ path: '/media/upload', errcode: -1, times: 1 });
    await assert.rejects(client.media.upload(PNG, { type: 'image', filename: 'a.png' }), (e: unknown) => e instanceof DingTalkError && e.errcode === -1);
    assert.equal(callsTo(emu, '/media/upload'), 1);
  });
});

test('an upload whose answer is lost (stored, then the connection reset) is NOT resent by default: NetworkError', async () => {
  await withEmulator(async (emu) => {
    const client = retrying(emu);
    emu.faults.add({ path: '/media/upload', kind: 'reset', afterHandling: true, times: 1 });
    await assert.rejects(client.media.upload(PNG, { type: 'image', filename: 'a.png' }), (e: unknown) => {
      assert.ok(e instanceof NetworkError, String(e));
      assert.equal(e.mayHaveReachedServer, true);
      assert.ok(!e.message.includes('access_token'), e.message);
      return true;
    });
    assert.equal(callsTo(emu, '/media/upload'), 1);
    // Why it must not be resent: the server did store it.
    assert.deepEqual((await storedMedia(emu)).map((m) => m.sha256), [sha256(PNG)]);
  });
});

test('retryUploads: true resends a replayable upload after -1 and after a lost answer, which stores it twice (as documented)', async () => {
  await withEmulator(async (emu) => {
    const client = retrying(emu, { retryUploads: true });
    emu.faults.add({ path: '/media/upload', errcode: -1, times: 1 });
    emu.faults.add({ path: '/media/upload', kind: 'reset', afterHandling: true, times: 1 });
    const result = await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
    const uploads = emu.requests.list({ path: '/media/upload' });
    assert.deepEqual(uploads.map((r) => [r.fault, r.answer.errcode]), [['errcode=-1', -1], ['reset,after', 0], [null, 0]]);
    const lost = uploads[1]!.answer.mediaId;
    const stored = await storedMedia(emu);
    assert.deepEqual(stored.map((m) => m.media_id).sort(), [lost, result.mediaId].sort());
    assert.notEqual(lost, result.mediaId);
    for (const media of stored) assert.equal(media.sha256, sha256(PNG));
  });
});

test('45009 is a refusal (nothing stored), so a replayable upload is resent even by default', async () => {
  await withEmulator(async (emu) => {
    const client = retrying(emu);
    emu.faults.add({ path: '/media/upload', errcode: 45009, times: 1 });
    const result = await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
    assert.deepEqual(errcodesOf(emu, '/media/upload'), [45009, 0]);
    assert.deepEqual((await storedMedia(emu)).map((m) => m.media_id), [result.mediaId]);
    assert.equal(result.type, 'image');
  });
});

test('a stream upload is never resent, even with retryUploads: true', async () => {
  await withEmulator(async (emu) => {
    const client = retrying(emu, { retryUploads: true });
    emu.faults.add({ path: '/media/upload', errcode: 45009, times: 1 });
    await assert.rejects(
      client.media.upload(Readable.from([PNG]), { type: 'image', filename: 'a.png' }),
      (e: unknown) => e instanceof DingTalkError && e.errcode === 45009,
    );
    assert.equal(callsTo(emu, '/media/upload'), 1);
  });
});

test('a refused connection is a NetworkError that provably sent nothing, so even an upload is retried', async () => {
  const emu = await startEmulator();
  const { baseUrl } = emu;
  await emu.close(); // nothing listens on that port any more
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
