// Credential brute force (issues 5 and 14): failed /gettoken attempts are limited per client address
// and appkey, unknown tokens per address (20 per minute by default -> 45009 with the lockout's own
// text until the window passes), valid tokens never refused for it; and a wrong appsecret
// costs the same time whether the appkey exists or not, and whatever part of the secret is right.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { startTestServer } from '../helpers/test-server.ts';
import { recordFigures } from './helpers/figures.ts';
import { mannWhitneyZ, median } from './helpers/statistics.ts';

/** GET from a chosen loopback source address (the server sees it as the client IP). */
async function getFrom(localAddress: string, url: string): Promise<{ errcode: number; ms: number }> {
  const { errcode, ms } = await getJson(localAddress, url);
  return { errcode, ms };
}

function getJson(localAddress: string, url: string): Promise<{ errcode: number; errmsg: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = request(url, { localAddress, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => {
        const { errcode, errmsg } = JSON.parse(body) as { errcode: number; errmsg: string };
        resolve({ errcode, errmsg, ms: Number(process.hrtime.bigint() - started) / 1e6 });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('20 failed checks of one appkey from one address, then that pair is locked out for the window; other apps, other addresses and valid tokens are not', async () => {
  const clock = { now: Date.UTC(2026, 0, 1) };
  const server = await startTestServer({ now: () => clock.now });
  try {
    const base = server.baseUrl;
    const other = await server.createApp('default'); // another app behind the same address (NAT)
    const right = `${base}/gettoken?appkey=${server.appKey}&appsecret=${server.appSecret}`;
    const token = ((await (await fetch(right)).json()) as { access_token: string }).access_token;
    const codes: number[] = [];
    for (let i = 0; i < 15; i++) codes.push((await getFrom('127.0.0.1', `${base}/gettoken?appkey=${server.appKey}&appsecret=wrong${i}`)).errcode);
    // Not guesses, not counted: a missing token, a missing parameter.
    for (let i = 0; i < 5; i++) {
      assert.equal((await getFrom('127.0.0.1', `${base}/media/downloadFile?media_id=@x`)).errcode, 41001);
      assert.equal((await getFrom('127.0.0.1', `${base}/gettoken?appkey=${server.appKey}`)).errcode, 40035);
    }
    for (let i = 0; i < 5; i++) codes.push((await getFrom('127.0.0.1', `${base}/gettoken?corpid=${server.appKey}&corpsecret=wrong${i}`)).errcode);
    assert.deepEqual(codes, [...Array(15).fill(40096), ...Array(5).fill(40089)]);

    const lockedOut = await getJson('127.0.0.1', `${base}/gettoken?appkey=${server.appKey}&appsecret=wrong-21`);
    assert.deepEqual([lockedOut.errcode, lockedOut.errmsg], [45009, '认证失败次数过多，请稍后再试'], 'the lockout has its own text, apart from an app\'s request rate');
    const blocked = [lockedOut.errcode, (await getFrom('127.0.0.1', right)).errcode];
    assert.deepEqual(blocked, [45009, 45009], '21st guess and the right secret of that appkey from that address: locked (a hit would tell the guesser)');
    const unaffected = {
      validToken: (await getFrom('127.0.0.1', `${base}/media/downloadFile?access_token=${token}&media_id=@x`)).errcode,
      otherApp: (await getFrom('127.0.0.1', `${base}/gettoken?appkey=${other.appKey}&appsecret=${other.appSecret}`)).errcode,
      otherIp: (await getFrom('127.0.0.2', right)).errcode,
    };
    assert.deepEqual(unaffected, { validToken: 40007, otherApp: 0, otherIp: 0 }, 'a valid token, another app behind the same address, another address');

    // Unknown tokens: counted per address; past the limit the lockout answers them, never a valid token.
    const tokenCodes: number[] = [];
    for (let i = 0; i < 21; i++) {
      tokenCodes.push((await getFrom('127.0.0.3', `${base}/media/downloadFile?access_token=${randomBytes(32).toString('base64url').slice(0, 43)}&media_id=@x`)).errcode);
    }
    assert.deepEqual(tokenCodes, [...Array(20).fill(40014), 45009]);
    assert.equal((await getFrom('127.0.0.3', `${base}/media/downloadFile?access_token=${token}&media_id=@x`)).errcode, 40007, 'a valid token from a locked-out address');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^oapi_media_auth_lockouts_total 3$/m, 'each refusal of the lockout counted (2 gettoken, 1 token)');

    clock.now += 59_999;
    assert.equal((await getFrom('127.0.0.1', right)).errcode, 45009, 'still within the minute');
    clock.now += 1;
    assert.equal((await getFrom('127.0.0.1', right)).errcode, 0, 'the window has passed');
    await recordFigures({
      id: 'security/credential-guessing-limit', section: 'Tenancy and security',
      title: 'credential brute force is locked out per client address and appkey; valid tokens and other apps are never refused for it', variant: 'default',
      summary: '20 failures of one appkey (15 wrong appsecret, 5 wrong corpsecret) -> 21st call and the right secret 45009 (own errmsg) from that address; ' +
        'a valid token 40007 (served), another app behind the same address 0, another address 0; 20 unknown tokens 40014 then 45009, a valid token still served; ' +
        'still 45009 at 59,999 ms, 0 at 60,000 ms (OAPI_MEDIA_AUTH_FAILURE_LIMIT=20, _WINDOW_MS=60000)',
      figures: { limit: 20, windowMs: 60_000, blockedAnswers: blocked.join(' '), ...unaffected },
    });
  } finally {
    await server.close();
  }
});

test('a wrong appsecret costs the same time for a known and an unknown appkey, and for a near-miss secret (2,000 samples each)', { timeout: 120_000 }, async (t) => {
  const server = await startTestServer({ config: { authFailureLimit: 0 } });
  try {
    const base = server.baseUrl;
    const SAMPLES = 2000;
    const unknownKey = `ding${randomBytes(10).toString('hex')}`;
    const nearMiss = server.appSecret.slice(0, -1) + (server.appSecret.endsWith('A') ? 'B' : 'A');
    // Every class sends a string never sent before: a near-miss repeated byte for byte ran faster
    // through the caches of the HTTP stack (z = -4.1 in CI) although the check itself is constant.
    const freshNearMiss = (): string => {
      for (;;) {
        const candidate = server.appSecret.slice(0, -3) + randomBytes(3).toString('base64url').slice(0, 3);
        if (candidate !== server.appSecret) return candidate;
      }
    };
    const classes = {
      unknownAppkey: () => `${base}/gettoken?appkey=${unknownKey}&appsecret=${randomBytes(32).toString('base64url')}`,
      knownAppkeyWrongSecret: () => `${base}/gettoken?appkey=${server.appKey}&appsecret=${randomBytes(32).toString('base64url')}`,
      knownAppkeyNearMissSecret: () => `${base}/gettoken?appkey=${server.appKey}&appsecret=${freshNearMiss()}`,
    };
    const names = Object.keys(classes) as (keyof typeof classes)[];
    const timings: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let i = 0; i < 200; i++) await getFrom('127.0.0.1', classes[names[i % 3]!]()); // warm-up
    // Interleaved, so that drift of the machine (other work, GC) spreads over all classes alike.
    for (let i = 0; i < SAMPLES; i++) {
      for (const name of [...names].sort(() => Math.random() - 0.5)) {
        const { errcode, ms } = await getFrom('127.0.0.1', classes[name]());
        assert.equal(errcode, 40096);
        timings[name]!.push(ms);
      }
    }
    // The right secret, at the service (the HTTP answer also issues a token: different work by design).
    const service = server.server.services.tokens;
    const right: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      for (const [secret, into] of (i % 2 ? [[server.appSecret, right], [nearMiss, wrong]] : [[nearMiss, wrong], [server.appSecret, right]]) as [string, number[]][]) {
        const started = process.hrtime.bigint();
        await service.authenticateApp(server.appKey, secret, 'dingtalk');
        into.push(Number(process.hrtime.bigint() - started) / 1e3);
      }
    }
    const zUnknown = mannWhitneyZ(timings.unknownAppkey!, timings.knownAppkeyWrongSecret!);
    const zNearMiss = mannWhitneyZ(timings.knownAppkeyNearMissSecret!, timings.knownAppkeyWrongSecret!);
    const zRight = mannWhitneyZ(right, wrong);
    const med = (xs: number[]) => median(xs).toFixed(3);
    t.diagnostic(`HTTP medians ms: unknown ${med(timings.unknownAppkey!)}, wrong ${med(timings.knownAppkeyWrongSecret!)}, near-miss ${med(timings.knownAppkeyNearMissSecret!)}; z ${zUnknown.toFixed(2)} / ${zNearMiss.toFixed(2)}`);
    t.diagnostic(`service medians µs: right ${med(right)}, wrong ${med(wrong)}; z ${zRight.toFixed(2)}`);
    assert.ok(Math.abs(zUnknown) < 4, `unknown vs known appkey distinguishable: z = ${zUnknown.toFixed(2)}`);
    assert.ok(Math.abs(zNearMiss) < 4, `near-miss vs wrong secret distinguishable: z = ${zNearMiss.toFixed(2)}`);
    assert.ok(Math.abs(zRight) < 4, `right vs wrong secret distinguishable at the service: z = ${zRight.toFixed(2)}`);
    await recordFigures({
      id: 'security/constant-time-secret', section: 'Tenancy and security',
      title: 'a wrong appsecret costs constant time (Mann–Whitney U over interleaved samples, |z| < 4)', variant: 'default',
      summary: `${SAMPLES} /gettoken each: median ${med(timings.unknownAppkey!)} ms unknown appkey vs ${med(timings.knownAppkeyWrongSecret!)} ms known appkey ` +
        `(z = ${zUnknown.toFixed(2)}) vs ${med(timings.knownAppkeyNearMissSecret!)} ms near-miss secret (z = ${zNearMiss.toFixed(2)}); ` +
        `secret check right vs wrong ${med(right)} vs ${med(wrong)} µs (z = ${zRight.toFixed(2)})`,
      figures: { samples: SAMPLES, zUnknownVsKnown: zUnknown, zNearMissVsWrong: zNearMiss, zRightVsWrong: zRight },
    });
  } finally {
    await server.close();
  }
});
