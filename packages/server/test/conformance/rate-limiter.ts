// The RateLimiter conformance suite: what a caller sees must not depend on whether the counters
// live in memory (one node) or in Redis (a cluster). The factory returns a limiter whose keys are
// its own (a fresh instance, or a Redis key prefix of its own run); the suite shares it.
//
// Redis reads its own clock, so the suite runs on real time. Every assertion is bounded by what
// the clock measured around the calls (how many tokens could have refilled meanwhile), never by
// how long a sleep was meant to take, so a loaded machine widens the bounds instead of failing.
// The tests use distinct keys and run concurrently: the whole suite waits about 3 s.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { RateLimiter } from '../../src/service/rate-limit.ts';

/**
 * `clock`: the limiter's own clock in ms (Redis: TIME), read around each burst. Bounds then hold
 * on whichever of it and performance.now() measured more time: a wall clock stepped by a few ms
 * during a burst (seen once on a loaded CI VM) refills a few more tokens and is no bug.
 */
export type RateLimiterFactory = () => Promise<{ limiter: RateLimiter; cleanup(): Promise<void>; clock?: () => Promise<number> }>;

interface Burst {
  admitted: number;
  /** performance.now() before the first take was sent and after the last one answered. */
  startedAt: number;
  endedAt: number;
  /** The limiter's clock at the same two moments (performance.now() when it has none of its own). */
  clockStartedAt: number;
  clockEndedAt: number;
}

/** A limiter under test and its own clock, if it has one. */
interface Subject {
  limiter: RateLimiter;
  clock?: (() => Promise<number>) | undefined;
}

/**
 * At most this many takes in flight: a thousand at once would queue on one Redis connection past
 * its command timeout on a loaded machine, and the limiter would (rightly) fall back to memory.
 */
const IN_FLIGHT = 50;

/** `requests` takes of `key`, as fast as they go: at once, or in waves of IN_FLIGHT. */
async function burst({ limiter, clock }: Subject, key: string, perSecond: number, requests: number): Promise<Burst> {
  const startedAt = performance.now();
  const clockStartedAt = clock === undefined ? startedAt : await clock();
  let admitted = 0;
  for (let sent = 0; sent < requests; sent += IN_FLIGHT) {
    const wave = Math.min(IN_FLIGHT, requests - sent);
    const answers = await Promise.all(Array.from({ length: wave }, () => limiter.take(key, perSecond)));
    admitted += answers.filter(Boolean).length;
  }
  const clockEndedAt = clock === undefined ? undefined : await clock();
  const endedAt = performance.now();
  return { admitted, startedAt, endedAt, clockStartedAt, clockEndedAt: clockEndedAt ?? endedAt };
}

/**
 * How far the limiter's clock may read apart from performance.now() over one measurement:
 * MemoryRateLimiter runs on Date.now(), whole milliseconds.
 */
const CLOCK_SLACK_MS = 5;

/** Seconds from the start of burst `from` to the end of `to` on the clock that measured more, widened by the slack. */
const atMostSeconds = (from: Burst, to: Burst = from): number =>
  (Math.max(to.endedAt - from.startedAt, to.clockEndedAt - from.clockStartedAt) + CLOCK_SLACK_MS) / 1000;
/** Seconds from the end of burst `from` to the start of `to` on the clock that measured less, narrowed by the slack. */
const atLeastSeconds = (from: Burst, to: Burst): number =>
  Math.max(0, Math.min(to.startedAt - from.endedAt, to.clockStartedAt - from.clockEndedAt) - CLOCK_SLACK_MS) / 1000;

/**
 * A burst on a full bucket admits one second's allowance (at least one call), and at most what
 * refilled while it ran on top of that.
 */
function assertFromFull(perSecond: number, b: Burst, what: string): void {
  const least = Math.floor(Math.max(perSecond, 1));
  const most = Math.floor(Math.max(perSecond, 1) + atMostSeconds(b) * perSecond);
  assert.ok(b.admitted >= least && b.admitted <= most, `${what}: admitted ${b.admitted}, expected ${least}..${most}`);
}

/**
 * The call right after a burst is refused, unless so much time has passed since the burst began
 * that a token more could have refilled (only on a badly stalled machine).
 */
async function assertRefusedRightAfter({ limiter, clock }: Subject, key: string, perSecond: number, b: Burst): Promise<void> {
  const admitted = await limiter.take(key, perSecond);
  const clockNow = clock === undefined ? undefined : await clock();
  const now = performance.now();
  const most = Math.floor(Math.max(perSecond, 1) + atMostSeconds(b, { ...b, endedAt: now, clockEndedAt: clockNow ?? now }) * perSecond);
  assert.ok(!admitted || b.admitted + 1 <= most, `admitted right after a burst that admitted ${b.admitted}`);
}

export function describeRateLimiter(name: string, factory: RateLimiterFactory): void {
  describe(`RateLimiter conformance: ${name}`, { concurrency: true }, () => {
    let limiter: RateLimiter;
    let cleanup: () => Promise<void>;
    const subject: Subject = { limiter: undefined as unknown as RateLimiter };

    before(async () => {
      let clock: (() => Promise<number>) | undefined;
      ({ limiter, cleanup, clock } = await factory());
      Object.assign(subject, { limiter, clock });
    });
    after(async () => {
      await cleanup?.();
    });

    test('a burst of one second\'s allowance: 5/s, 20 calls at once -> 5 admitted, the other 15 refused', async () => {
      const b = await burst(subject, 'org/burst', 5, 20);
      assertFromFull(5, b, '5/s, 20 at once');
      await assertRefusedRightAfter(subject, 'org/burst', 5, b);
    });

    test('the allowance refills continuously: drained at 10/s, ~300 ms later about 3 more, not none and not all 10', async () => {
      const drained = await burst(subject, 'org/refill', 10, 30);
      assertFromFull(10, drained, 'the drain');
      await sleep(300);
      const refilled = await burst(subject, 'org/refill', 10, 30);
      // The bucket was empty (less than one token) when the drain's last take answered, and gains
      // a token per 100 ms from then on; a fixed one-second window would give 0 or 10 here.
      const least = Math.min(10, Math.floor(atLeastSeconds(drained, refilled) * 10));
      const most = Math.min(10, Math.floor(1 + atMostSeconds(drained, refilled) * 10));
      assert.ok(refilled.admitted >= least && refilled.admitted <= most, `refilled ${refilled.admitted}, expected ${least}..${most}`);
    });

    test('below one per second: 0.5/s admits one call, refuses the next, and admits one again 3 s later (1.5 × its 2 s)', async () => {
      assert.equal(await limiter.take('org/half', 0.5), true, 'the first call of a fresh key is admitted');
      assert.equal(await limiter.take('org/half', 0.5), false, 'refused right after');
      await sleep(3_000);
      assert.equal(await limiter.take('org/half', 0.5), true, 'admitted again once 2 s have passed');
      assert.equal(await limiter.take('org/half', 0.5), false, 'and refused right after again: the allowance holds one call');
    });

    test('2.5/s: a burst of 2 (not 3), refused right after; 1.5 s later the bucket is full again: 2 more', async () => {
      const first = await burst(subject, 'org/two-and-a-half', 2.5, 10);
      assertFromFull(2.5, first, 'first burst');
      await assertRefusedRightAfter(subject, 'org/two-and-a-half', 2.5, first);
      await sleep(1_500);
      const again = await burst(subject, 'org/two-and-a-half', 2.5, 10);
      assertFromFull(2.5, again, 'after 1.5 s');
    });

    test('keys are apart: one app using up its allowance leaves another its own; windows of the same name too', async () => {
      const a = await burst(subject, 'org/app-a', 3, 10);
      const b = await burst(subject, 'org/app-b', 3, 10);
      assertFromFull(3, a, 'app-a');
      assertFromFull(3, b, 'app-b, after app-a used up its own');
      // A counting window and a bucket that share a name do not touch each other.
      assert.equal(await limiter.count('org/app-c', 10_000), 1);
      assert.equal(await limiter.take('org/app-c', 1), true);
      assert.equal(await limiter.peek('org/app-c'), 1);
    });

    test('large rates: 1,000/s admits 1,000 of 1,500 in a burst (plus what refilled); 1,000,000/s admits all of 1,000', async () => {
      const thousand = await burst(subject, 'org/thousand', 1_000, 1_500);
      assertFromFull(1_000, thousand, '1,000/s');
      assert.equal((await burst(subject, 'org/million', 1_000_000, 1_000)).admitted, 1_000);
    });

    test('a counting window opens at its first event and lasts windowMs; peek of an unknown key is 0 and opens none', async () => {
      const key = 'auth-failures/10.0.0.9';
      assert.equal(await limiter.peek(key), 0, 'unknown key');
      assert.equal(await limiter.count(key, 2_000), 1, 'the peek opened no window');
      const openedBy = performance.now(); // the window opened before this, so it ends before openedBy + 2 s
      await sleep(500);
      assert.equal(await limiter.count(key, 2_000), 2);
      assert.equal(await limiter.peek(key), 2, 'within the window (1.5 s of it left)');
      // 400 ms past the first event's window, while one counted from the last event (2 s from
      // +500 ms or later) would still be open.
      await sleep(Math.max(0, openedBy + 2_400 - performance.now()));
      assert.equal(await limiter.peek(key), 0, 'the window has passed');
      assert.equal(await limiter.count(key, 2_000), 1, 'a new window opens');
      assert.equal(await limiter.peek(key), 1);
    });
  });
}
