// Issue 15 item 6, in units: the upload slots shared fairly between organizations (no one holds
// more than its share while another waits; a freed slot goes to the one holding fewest), and the
// minimum body rate (a trickling body is cut; time this process kept the body paused is not
// counted against the client). The drill over real sockets is reliability/slow-tenants.test.ts.

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { ConfigError, DEFAULT_MIN_BODY_BYTES_PER_SECOND, DEFAULT_MIN_BODY_RATE_WINDOW_MS, DEFAULT_SHUTDOWN_GRACE_MS, loadConfig } from '../src/config.ts';
import { watchBodyRate } from '../src/http/body-rate.ts';
import { perTenantLimitOf, UploadSlots, type ReleaseSlot } from '../src/service/upload-slots.ts';
import { sampleOfSize } from './fixtures/samples.ts';
import { mediaIds, stagingFiles } from './helpers/data-folder.ts';
import { tokenOf } from './helpers/e2e-http.ts';
import { startTestServer } from './helpers/test-server.ts';
import { answerOf, pacedUpload } from './reliability/helpers/paced-upload.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('UploadSlots between organizations', () => {
  test('the share of one organization: all slots below 4, else all but a quarter', () => {
    assert.deepEqual([1, 2, 3, 4, 8, 16, 64].map(perTenantLimitOf), [1, 2, 3, 3, 6, 12, 48]);
  });

  test('16 slots: org A alone gets 12 and waits for the rest; org B then gets a slot at once', async () => {
    const slots = new UploadSlots(16, 60_000);
    const a: ReleaseSlot[] = [];
    for (let i = 0; i < 12; i++) a.push(await slots.acquire('A'));
    let aExtra: ReleaseSlot | undefined;
    void slots.acquire('A').then((release) => { aExtra = release; });
    await settle();
    assert.equal(aExtra, undefined, 'A got a 13th slot');
    assert.deepEqual([slots.active, slots.waiting, slots.heldBy('A')], [12, 1, 12]);
    const b: ReleaseSlot[] = [];
    for (let i = 0; i < 4; i++) b.push(await slots.acquire('B')); // resolves at once, or the test times out
    assert.deepEqual([slots.active, slots.heldBy('B')], [16, 4]);
    // A frees one: its own waiter takes it (A back at 12), B's slots untouched.
    a.pop()!();
    await settle();
    assert.ok(aExtra, 'A\'s waiter got A\'s freed slot');
    for (const release of [...a, aExtra!, ...b]) release();
    assert.deepEqual([slots.active, slots.waiting], [0, 0]);
  });

  test('a freed slot goes to the waiting organization holding the fewest, then in turn', async () => {
    const slots = new UploadSlots(4, 60_000); // share 3
    const held = [await slots.acquire('A'), await slots.acquire('A'), await slots.acquire('A'), await slots.acquire('B')];
    const order: string[] = [];
    const waiters: Array<Promise<ReleaseSlot>> = [];
    for (const tenant of ['A', 'A', 'B', 'C', 'C']) {
      waiters.push(slots.acquire(tenant).then((release) => { order.push(tenant); return release; }));
    }
    await settle();
    assert.equal(slots.waiting, 5);
    held[0]!(); // A frees: C holds 0, B 1, A 2 -> C
    await settle();
    held[1]!(); // A 1, B 1, C 1: a tie, in turn (C was just served: A, then B)
    await settle();
    held[2]!();
    await settle();
    assert.deepEqual(order, ['C', 'A', 'B'], 'fewest held first, ties in turn: every waiting organization got one of three freed slots');
    held[3]!();
    for (const waiter of waiters) (await waiter)();
    assert.deepEqual([slots.active, slots.waiting], [0, 0]);
    assert.deepEqual(order.slice().sort(), ['A', 'A', 'B', 'C', 'C']);
  });

  test('the bounded wait still holds per organization: a waiter at its share reads without a slot after maxWaitMs', async () => {
    const slots = new UploadSlots(4, 100);
    const held = [await slots.acquire('A'), await slots.acquire('A'), await slots.acquire('A')];
    const startedAt = performance.now();
    const unslotted = await slots.acquire('A');
    const waited = performance.now() - startedAt;
    assert.ok(waited >= 90, `resolved after ${waited} ms`);
    assert.deepEqual([slots.active, slots.waiting, slots.heldBy('A')], [3, 0, 3], 'read without a slot: nothing counted');
    unslotted();
    assert.equal(slots.active, 3, 'a slotless release frees nothing');
    for (const release of held) release();
    assert.deepEqual([slots.active, slots.waiting], [0, 0]);
  });
});

describe('watchBodyRate', () => {
  const rate = { bytesPerSecond: 1000, windowMs: 200 };

  test('a body trickling 10 B every 50 ms (200 B/s, minimum 1000 B/s) is cut after one window', async () => {
    const body = new PassThrough();
    body.resume();
    const startedAt = performance.now();
    const cut = new Promise<{ bytes: number; overMs: number; at: number }>((resolve) => {
      watchBodyRate(body, rate, (bytes, overMs) => resolve({ bytes, overMs, at: performance.now() - startedAt }));
    });
    const trickle = setInterval(() => body.write(Buffer.alloc(10)), 50);
    try {
      const { bytes, overMs, at } = await cut;
      assert.ok(bytes < 200, `cut with ${bytes} B over ${overMs} ms`);
      assert.ok(overMs >= rate.windowMs, `measured over ${overMs} ms`);
      assert.ok(at < rate.windowMs * 1.1 + 150, `cut after ${Math.round(at)} ms`);
    } finally {
      clearInterval(trickle);
    }
  });

  test('a body above the minimum is never cut, nor one this process keeps paused (backpressure)', async () => {
    // A longer window and a 10x margin than the other cases: the feeder and the watch share this
    // event loop, and on a loaded machine a timer can be late by a good part of a short window.
    const wide = { bytesPerSecond: 1000, windowMs: 1000 };
    for (const paused of [false, true]) {
      const body = new PassThrough();
      let cut = false;
      const stop = watchBodyRate(body, wide, () => { cut = true; });
      const feed = paused ? undefined : setInterval(() => body.write(Buffer.alloc(100)), 10); // 10,000 B/s
      if (paused) body.pause(); // a reader that cannot keep up: no byte flows, none is owed
      else body.resume();
      await sleep(wide.windowMs * 3);
      clearInterval(feed);
      stop();
      assert.equal(cut, false, paused ? 'a paused body was cut' : 'a body at 10,000 B/s was cut');
    }
  });

  test('an ended body stops the watch (no cut, no timer left)', async () => {
    const body = new PassThrough();
    body.resume();
    let cut = false;
    watchBodyRate(body, rate, () => { cut = true; });
    body.end(Buffer.alloc(10));
    await sleep(rate.windowMs * 2);
    assert.equal(cut, false);
  });
});

describe('a body trickled one byte just under the idle timeout', () => {
  test('idle timeout 1 s, a byte every 900 ms: cut with 45011 after one window (2 s), the connection closed, nothing stored', async () => {
    const server = await startTestServer({ config: { databaseUrl: undefined, storageUrl: undefined, requestIdleTimeoutMs: 1000, minBodyRateWindowMs: 2000 } });
    try {
      const token = await tokenOf(server);
      const before = await mediaIds(server);
      const trickle = await pacedUpload(server.baseUrl, { token, data: sampleOfSize('png', 8 * 1024), filename: 'trickle.png', bytesPerSecond: 1.1, tickMs: 900, answerWithinMs: 10_000 });
      const outcome = await trickle.outcome;
      assert.ok('response' in outcome, `no answer: ${'error' in outcome ? outcome.error.message : ''}`);
      assert.equal(answerOf(outcome.response).errcode, 45011);
      assert.equal(outcome.response.headers.connection, 'close');
      assert.ok(outcome.at >= 2000 && outcome.at < 4000, `answered after ${Math.round(outcome.at)} ms`);
      await new Promise<void>((resolve) => (trickle.socket.destroyed ? resolve() : trickle.socket.once('close', () => resolve())));
      assert.deepEqual(await stagingFiles(server.dataDir), []);
      assert.deepEqual(await mediaIds(server), before);
      assert.deepEqual([server.server.services.uploadSlots.active, server.server.services.uploadSlots.waiting], [0, 0], 'its slot was freed');
    } finally {
      await server.close();
    }
  });
});

describe('config of issue 15 items 4 and 6', () => {
  test('defaults: 1 KiB/s over 10 s, a 30 s grace, no drain delay', () => {
    const config = loadConfig({}, {});
    assert.deepEqual(
      [config.minBodyBytesPerSecond, config.minBodyRateWindowMs, config.shutdownGraceMs, config.shutdownDrainDelayMs],
      [1024, 10_000, 30_000, 0],
    );
    assert.deepEqual([DEFAULT_MIN_BODY_BYTES_PER_SECOND, DEFAULT_MIN_BODY_RATE_WINDOW_MS, DEFAULT_SHUTDOWN_GRACE_MS], [1024, 10_000, 30_000]);
  });

  test('a drain delay not below the grace, a zero grace or window, a negative rate are refused', () => {
    assert.throws(() => loadConfig({}, { OAPI_MEDIA_SHUTDOWN_GRACE_MS: '5000', OAPI_MEDIA_SHUTDOWN_DRAIN_DELAY_MS: '5000' }), ConfigError);
    assert.throws(() => loadConfig({}, { OAPI_MEDIA_SHUTDOWN_GRACE_MS: '0' }), ConfigError);
    assert.throws(() => loadConfig({}, { OAPI_MEDIA_MIN_BODY_RATE_WINDOW_MS: '0' }), ConfigError);
    assert.throws(() => loadConfig({}, { OAPI_MEDIA_MIN_BODY_BYTES_PER_SECOND: '-1' }), ConfigError);
    assert.equal(loadConfig({}, { OAPI_MEDIA_MIN_BODY_BYTES_PER_SECOND: '0' }).minBodyBytesPerSecond, 0, '0 = no minimum');
  });
});
