import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { sample, sampleOfSize } from '../../server/test/fixtures/samples.ts';
import { callsTo, clientOf, requestsArrived, storedMedia, withEmulator } from './helpers/emulator.ts';

const PNG = sample('png');
const isReason = (reason: unknown) => (e: unknown) => e === reason;

test('abort mid-upload: rejects with the signal reason, the source is destroyed, nothing stored', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    await client.getAccessToken();
    const controller = new AbortController();
    let sent = 0;
    const slow = new Readable({
      read() {
        sent++;
        setTimeout(() => this.push(sent === 1 ? PNG : Buffer.alloc(16 * 1024)), 5);
      },
    });
    let passed64KiB!: () => void;
    const sent64KiB = new Promise<void>((resolve) => { passed64KiB = resolve; });
    const upload = client.media.upload(slow, {
      type: 'image', filename: 'slow.png', signal: controller.signal,
      onProgress: ({ loaded }) => { if (loaded >= 64 * 1024) passed64KiB(); },
    });
    await Promise.all([requestsArrived(emu, '/media/upload'), sent64KiB]);
    const reason = new Error('user cancelled');
    controller.abort(reason);
    await assert.rejects(upload, isReason(reason));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(slow.destroyed);
    assert.deepEqual(await storedMedia(emu), []);
    // The upload reached the server and was never answered.
    assert.deepEqual(emu.requests.list({ path: '/media/upload' }).map((r) => [r.answer.status, r.answer.mediaId]), [[null, null]]);
  });
});

test('an already-aborted signal sends nothing', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    const reason = new Error('too late');
    await assert.rejects(client.media.upload(PNG, { type: 'image', filename: 'a.png', signal: AbortSignal.abort(reason) }), isReason(reason));
    await assert.rejects(client.media.download('@x', { signal: AbortSignal.abort(reason) }), isReason(reason));
    assert.deepEqual(emu.requests.list(), []);
  });
});

test('abort during a backoff wait ends the wait at once', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu, { retries: { limit: 3, baseDelayMs: 20_000, maxDelayMs: 20_000 } });
    await client.getAccessToken();
    emu.faults.add({ path: '/media/downloadFile', errcode: -1, times: 1 });
    const started = performance.now();
    const signal = AbortSignal.timeout(100);
    await assert.rejects(client.media.download('@x', { signal }), (e: unknown) => e === signal.reason);
    assert.ok(performance.now() - started < 2000);
    assert.equal(callsTo(emu, '/media/downloadFile'), 1);
  });
});

test('abort while waiting for a shared token refresh ends that wait only; the others get the token', async () => {
  await withEmulator(async (emu) => {
    emu.faults.add({ path: '/gettoken', delayMs: 500 }); // a slow /gettoken that every caller waits for
    const client = clientOf(emu);
    const controller = new AbortController();
    const impatient = client.getAccessToken({ signal: controller.signal });
    const patient = client.getAccessToken();
    const uploading = client.media.upload(PNG, { type: 'image', filename: 'a.png', signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    await assert.rejects(impatient, { name: 'AbortError' });
    await assert.rejects(uploading, { name: 'AbortError' });
    assert.ok(performance.now() - started < 400, 'the abort did not wait for /gettoken');
    assert.equal((await emu.lookup(await patient)).kind, 'access_token');
    assert.equal(callsTo(emu, '/gettoken'), 1);
    assert.equal(callsTo(emu, '/media/upload'), 0);
  });
});

test('abort while reading a download body rejects with the reason', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    const big = sampleOfSize('zip', 8 * 1024 * 1024);
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
