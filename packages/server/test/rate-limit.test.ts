// The per-node rate limiter against the RateLimiter conformance suite (rate-limit-redis.test.ts
// runs the same suite on Redis), and the rates an operator gives the server, from the environment
// or per org, all the way to 45009.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { parseLimit } from '../src/service/admin.ts';
import { MemoryRateLimiter } from '../src/service/rate-limit.ts';
import { describeRateLimiter } from './conformance/rate-limiter.ts';
import { injectApp, type InjectApp } from './helpers/inject-app.ts';

describeRateLimiter('memory', async () => {
  const limiter = new MemoryRateLimiter(Date.now);
  return { limiter, cleanup: () => limiter.close() };
});

describe('MemoryRateLimiter on a settable clock', () => {
  test('forgetting idle buckets (past 100,000 keys) forgets only full ones: 0.01/s still refuses 61 s after its call', async () => {
    const clock = { now: 0 };
    const limiter = new MemoryRateLimiter(() => clock.now);
    assert.equal(await limiter.take('org/slow', 0.01), true);
    clock.now += 61_000; // a token takes 100 s at 0.01/s; Redis keeps the bucket that long too
    for (let i = 0; i <= 100_000; i++) await limiter.take(`org/crowd-${i}`, 1);
    assert.equal(await limiter.take('org/slow', 0.01), false, 'the half-empty bucket was kept');
    clock.now += 40_000;
    assert.equal(await limiter.take('org/slow', 0.01), true);
  });

  test('a clock that steps back takes no tokens away', async () => {
    const clock = { now: 10_000 };
    const limiter = new MemoryRateLimiter(() => clock.now);
    assert.equal(await limiter.take('org/a', 2), true);
    clock.now -= 5_000;
    assert.equal(await limiter.take('org/a', 2), true, 'the second of its 2 is still there');
    assert.equal(await limiter.take('org/a', 2), false);
  });
});

/** errcode of one call that needs an access token (40007: no such media, i.e. admitted). */
async function call(t: InjectApp, token: string): Promise<number> {
  return (await t.app.inject({ url: `/media/downloadFile?access_token=${token}&media_id=@nothing-here-at-all` })).json().errcode as number;
}

async function calls(t: InjectApp, token: string, n: number): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < n; i++) codes.push(await call(t, token));
  return codes;
}

describe('the rates an operator sets, through the app', () => {
  test('loadConfig keeps a fractional OAPI_MEDIA_RATE_LIMIT as it is', () => {
    assert.equal(loadConfig({}, { OAPI_MEDIA_RATE_LIMIT: '0.5' }).defaultRateLimitPerSecond, 0.5);
    assert.equal(loadConfig({}, { OAPI_MEDIA_RATE_LIMIT: '2.5' }).defaultRateLimitPerSecond, 2.5);
  });

  test('OAPI_MEDIA_RATE_LIMIT=0.5: one call admitted, the next 45009, admitted again 2 s later (not refused for ever)', async () => {
    const t = await injectApp({ defaultRateLimitPerSecond: '0.5' });
    try {
      const token = await t.token();
      assert.deepEqual(await calls(t, token, 2), [40007, 45009]);
      t.clock.now += 1_999;
      assert.equal(await call(t, token), 45009);
      t.clock.now += 1;
      assert.deepEqual(await calls(t, token, 2), [40007, 45009]);
    } finally {
      await t.close();
    }
  });

  test('OAPI_MEDIA_RATE_LIMIT=2.5: 2 at once, then one per 400 ms', async () => {
    const t = await injectApp({ defaultRateLimitPerSecond: '2.5' });
    try {
      const token = await t.token();
      assert.deepEqual(await calls(t, token, 3), [40007, 40007, 45009]);
      t.clock.now += 200; // the half token left over, plus 0.5
      assert.deepEqual(await calls(t, token, 2), [40007, 45009]);
      t.clock.now += 399;
      assert.equal(await call(t, token), 45009);
      t.clock.now += 1;
      assert.deepEqual(await calls(t, token, 2), [40007, 45009]);
    } finally {
      await t.close();
    }
  });

  test('a rate set per org (oapi-media org limits --rate) is admitted like the same default rate, and wins over it', async () => {
    const pattern = async (t: InjectApp): Promise<number[]> => {
      const token = await t.token();
      const codes = await calls(t, token, 4);
      t.clock.now += 500;
      return codes.concat(await calls(t, token, 3));
    };
    const byDefault = await injectApp({ defaultRateLimitPerSecond: '3' });
    const byOrg = await injectApp({ defaultRateLimitPerSecond: '0.5' });
    try {
      await byOrg.services.admin.setOrgLimits('default', { rateLimitPerSecond: parseLimit('rate', '3', 1) });
      const expected = [40007, 40007, 40007, 45009, 40007, 45009, 45009];
      assert.deepEqual(await pattern(byDefault), expected);
      assert.deepEqual(await pattern(byOrg), expected);
    } finally {
      await byDefault.close();
      await byOrg.close();
    }
  });
});
