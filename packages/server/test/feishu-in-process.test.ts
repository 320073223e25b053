// The Feishu wire where the in-process app is needed (issue 16). Its tenant_access_token rule, on the
// injectable clock: 7200 s; asked again with 30 minutes or more left, the same token, unrenewed,
// with the seconds it has left; with less, a new token while the old one stays valid to its own
// end (DingTalk's renewal unchanged). Its rate limit answer (99991400, HTTP 429, x-ogw-ratelimit-*),
// and its calls in the OpenAPI document (tag Feishu, Redocly's recommended rules).

import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { injectApp, type InjectApp } from './helpers/inject-app.ts';

let t: InjectApp;
let app: { appkey: string; appsecret: string };
beforeEach(async () => {
  t = await injectApp({ dialects: 'dingtalk,feishu' });
  app = await t.services.admin.createApp('default', 'feishu-app', 'feishu');
});
afterEach(async () => t.close());

const SECOND = 1000;
const MINUTE = 60 * SECOND;

async function tenantToken(): Promise<{ token: string; expire: number }> {
  const res = await t.app.inject({
    method: 'POST', url: '/open-apis/auth/v3/tenant_access_token/internal',
    headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ app_id: app.appkey, app_secret: app.appsecret }),
  });
  const body = res.json();
  assert.equal(body.code, 0, res.body);
  return { token: body.tenant_access_token, expire: body.expire };
}

/** The code a download of an unknown key answers with `token`: 234001 once the token is accepted, 99991663 if not. */
async function probe(token: string): Promise<number> {
  const res = await t.app.inject({ url: '/open-apis/im/v1/files/file_v2_00000000-0000-0000-0000-000000000000', headers: { authorization: `Bearer ${token}` } });
  return res.json().code;
}

test('with 30 minutes or more left: the same token, unrenewed, expire = the seconds it has left', async () => {
  const first = await tenantToken();
  assert.equal(first.expire, 7200);
  t.clock.now += 90 * MINUTE; // 30 minutes left, exactly
  const second = await tenantToken();
  assert.deepEqual(second, { token: first.token, expire: 30 * 60 });
  t.clock.now += 30 * MINUTE - SECOND;
  assert.equal(await probe(first.token), 234001, 'valid one second before its end');
  t.clock.now += SECOND;
  assert.equal(await probe(first.token), 99991663, 'not renewed: expired at 7200 s');
});

test('with under 30 minutes left: a new 7200 s token, and the old one stays valid to its end', async () => {
  const first = await tenantToken();
  t.clock.now += 90 * MINUTE + SECOND; // 29:59 left
  const second = await tenantToken();
  assert.notEqual(second.token, first.token);
  assert.equal(second.expire, 7200);
  assert.equal(await probe(first.token), 234001);
  assert.equal(await probe(second.token), 234001);
  // Asked again now: the newest token, not the old one.
  assert.deepEqual(await tenantToken(), { token: second.token, expire: 7200 });
  t.clock.now += 30 * MINUTE - 2 * SECOND; // 7199 s after the first issue: the old one's last second
  assert.equal(await probe(first.token), 234001);
  t.clock.now += SECOND;
  assert.equal(await probe(first.token), 99991663);
  assert.equal(await probe(second.token), 234001);
});

test('past its end a new token; DingTalk\'s gettoken still renews to a full 7200 s', async () => {
  const first = await tenantToken();
  t.clock.now += 7200 * SECOND;
  const second = await tenantToken();
  assert.notEqual(second.token, first.token);
  assert.equal(second.expire, 7200);
  const dingtalk = await t.token();
  t.clock.now += 7000 * SECOND;
  const renewed = (await t.app.inject({ url: `/gettoken?appkey=${t.appKey}&appsecret=${t.appSecret}` })).json();
  assert.deepEqual([renewed.access_token, renewed.expires_in], [dingtalk, 7200]);
});

test('over the org\'s rate: HTTP 429, 99991400 with x-ogw-ratelimit-limit and -reset, X-Tt-Logid = log_id', async () => {
  await t.services.admin.setOrgLimits('default', { rateLimitPerSecond: 2 });
  const { token } = await tenantToken();
  const codes: number[] = [];
  let limited;
  for (let i = 0; i < 3; i++) {
    const res = await t.app.inject({ url: '/open-apis/im/v1/files/file_v2_00000000-0000-0000-0000-000000000000', headers: { authorization: `Bearer ${token}` } });
    codes.push(res.json().code);
    if (res.statusCode === 429) limited = res;
  }
  assert.deepEqual(codes, [234001, 234001, 99991400]);
  assert.ok(limited);
  assert.equal(limited.headers['x-ogw-ratelimit-limit'], '2');
  assert.equal(limited.headers['x-ogw-ratelimit-reset'], '1');
  assert.deepEqual(limited.json(), { code: 99991400, msg: 'request trigger frequency limit', error: { log_id: limited.headers['x-tt-logid'] } });
});

test('the OpenAPI document describes Feishu\'s calls under the tag Feishu and passes Redocly\'s recommended rules', async () => {
  const source = (await t.app.inject({ url: '/openapi.json' })).body;
  const doc = JSON.parse(source);
  assert.ok(doc.tags.some((tag: { name: string }) => tag.name === 'Feishu'));
  const feishuOperations = Object.entries(doc.paths as Record<string, Record<string, { tags: string[]; operationId: string }>>)
    .filter(([path]) => path.startsWith('/open-apis/'))
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => `${method} ${path} ${op.tags.join()}`));
  assert.deepEqual(feishuOperations.sort(), [
    'get /open-apis/im/v1/files/{file_key} Feishu', 'get /open-apis/im/v1/images/{image_key} Feishu',
    'post /open-apis/auth/v3/app_access_token/internal Feishu', 'post /open-apis/auth/v3/tenant_access_token/internal Feishu',
    'post /open-apis/im/v1/files Feishu', 'post /open-apis/im/v1/images Feishu',
  ]);
  const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config: await createConfig({ extends: ['recommended'] }) });
  assert.deepEqual(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`), []);
});
