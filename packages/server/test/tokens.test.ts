// GET /gettoken as api.md describes it: 7200 s, the same token while valid (renewed), hashed at rest.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { postgresSchemaText } from './helpers/engines.ts';
import { injectApp, type InjectApp } from './helpers/inject-app.ts';

let t: InjectApp;
beforeEach(async () => { t = await injectApp(); });
afterEach(async () => t.close());

const gettoken = async () => (await t.app.inject({ url: `/gettoken?appkey=${t.appKey}&appsecret=${t.appSecret}` })).json();
const probe = async (token: string) => (await t.app.inject({ url: `/media/downloadFile?access_token=${token}` })).json().errcode;

test('gettoken answers errcode 0, a URL-safe token and expires_in 7200', async () => {
  const body = await gettoken();
  assert.deepEqual(Object.keys(body), ['errcode', 'errmsg', 'access_token', 'expires_in']);
  assert.deepEqual([body.errcode, body.errmsg, body.expires_in], [0, 'ok', 7200]);
  assert.match(body.access_token, /^[A-Za-z0-9_-]{43}$/);
});

test('asking again while valid returns the same token and renews it to a full 7200 s', async () => {
  const first = (await gettoken()).access_token;
  t.clock.now += 7000 * 1000;
  const second = await gettoken();
  assert.equal(second.access_token, first);
  assert.equal(second.expires_in, 7200);
  t.clock.now += 7199 * 1000; // 14,199 s after the first issue, 7,199 s after the renewal
  assert.equal(await probe(first), 41006, 'renewed token still valid');
  t.clock.now += 1000;
  assert.equal(await probe(first), 42001);
});

test('after expiry gettoken issues a new token; the old one stays expired (42001)', async () => {
  const first = (await gettoken()).access_token;
  t.clock.now += 7200 * 1000;
  const second = (await gettoken()).access_token;
  assert.notEqual(second, first);
  assert.equal(await probe(first), 42001);
  assert.equal(await probe(second), 41006);
});

test('two apps get different tokens; a token works only as itself', async () => {
  const other = await t.services.admin.createApp('default', 'second');
  const a = (await gettoken()).access_token;
  const b = await t.token(other.appkey, other.appsecret);
  assert.notEqual(a, b);
  assert.equal(await probe(`${a.slice(0, -1)}${a.endsWith('A') ? 'B' : 'A'}`), 40014);
});

test('neither appsecrets nor tokens are stored in clear: the database file does not contain them', async () => {
  const token = (await gettoken()).access_token;
  const { databaseUrl } = t.config;
  let bytes: Buffer;
  if (databaseUrl !== undefined) {
    bytes = Buffer.from(await postgresSchemaText(databaseUrl));
  } else {
    await t.services.metadata.close(); // flush the WAL into the main file
    bytes = Buffer.concat(
      await Promise.all(['meta.sqlite', 'meta.sqlite-wal'].map((f) => readFile(join(t.dataDir, f)).catch(() => Buffer.alloc(0)))),
    );
    await t.services.metadata.init();
  }
  assert.ok(bytes.length > 0);
  assert.equal(bytes.includes(t.appSecret), false, 'appsecret in the database');
  assert.equal(bytes.includes(token), false, 'token in the database');
  assert.equal(bytes.includes(t.appKey), true, 'the appkey (not a secret) is there: the check reads the right file');
});

test('a restarted server derives the same token again (the key lives outside the database)', async () => {
  const first = (await gettoken()).access_token;
  // A second node on the same data folder and engines (a pool once ended cannot be reopened).
  const { openServices } = await import('../src/composition-root.ts');
  const { loadConfig } = await import('../src/config.ts');
  const again = await openServices(loadConfig({ ...t.config, now: () => t.clock.now }, {}));
  try {
    const app = await again.tokens.authenticateApp(t.appKey, t.appSecret, 'dingtalk');
    assert.ok(app);
    const grant = await again.tokens.issue(`app:${app.id}`, app.orgId, app.wire);
    assert.equal(grant.accessToken, first);
  } finally {
    await again.close();
  }
});
