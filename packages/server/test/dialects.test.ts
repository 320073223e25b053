// Wires as dialect plugins: mounted where the config says, each answering in its own shape under
// its prefix; an unknown wire refused at start; post-commit hooks told of every stored media.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { mountedDialects } from '../src/dialects/index.ts';
import type { MediaRow } from '../src/stores/metadata/interface.ts';
import { sample } from './fixtures/samples.ts';
import { injectApp, type InjectApp } from './helpers/inject-app.ts';
import { multipart } from './helpers/multipart.ts';

describe('OAPI_MEDIA_DIALECTS: which wires are served, and where', () => {
  test('default: every wire at its own paths (DingTalk at the root, WeCom under /cgi-bin, Feishu under /open-apis)', () => {
    assert.deepEqual(loadConfig({}, {}).dialects, [{ name: 'dingtalk', prefix: '' }, { name: 'wecom', prefix: '' }, { name: 'feishu', prefix: '' }]);
    // Feishu's routes name their whole /open-apis paths (basePath ''); DingTalk, first, answers the root's unknown paths.
    assert.deepEqual(mountedDialects(loadConfig({}, {}).dialects).map(({ dialect, prefix }) => [dialect.name, prefix]), [['dingtalk', ''], ['wecom', '/cgi-bin'], ['feishu', '']]);
  });
  test('name=/prefix mounts a wire under a prefix; a list mounts several', () => {
    assert.deepEqual(loadConfig({}, { OAPI_MEDIA_DIALECTS: 'dingtalk, dingtalk=/dt/v2' }).dialects, [
      { name: 'dingtalk', prefix: '' },
      { name: 'dingtalk', prefix: '/dt/v2' },
    ]);
  });
  for (const bad of ['', ' , ', 'DingTalk', 'dingtalk=dt', 'dingtalk=/', 'dingtalk=/a=b', 'dingtalk,dingtalk']) {
    test(`${JSON.stringify(bad)} -> ConfigError naming what is wrong`, () => {
      assert.throws(() => loadConfig({}, { OAPI_MEDIA_DIALECTS: bad }), ConfigError);
    });
  }
  test('a wire the server does not speak -> ConfigError listing those it speaks', () => {
    assert.throws(() => mountedDialects(loadConfig({ dialects: 'slack' }, {}).dialects), /unknown dialect slack \(this server speaks: dingtalk, wecom, feishu\)/);
  });
});

describe('DingTalk mounted under /dt as well as at its own paths', () => {
  let t: InjectApp;
  before(async () => {
    t = await injectApp({ dialects: 'dingtalk,dingtalk=/dt' });
  });
  after(async () => t.close());

  test('a token from /dt/gettoken uploads through /dt/media/upload and downloads at the root path too (one product)', async () => {
    const got = (await t.app.inject({ url: `/dt/gettoken?appkey=${t.appKey}&appsecret=${t.appSecret}` })).json();
    assert.equal(got.errcode, 0);
    const { body, contentType } = multipart([{ name: 'media', filename: 'a.png', data: sample('png') }]);
    const up = await t.app.inject({
      method: 'POST', url: `/dt/media/upload?access_token=${got.access_token}&type=image`, headers: { 'content-type': contentType }, payload: body,
    });
    assert.equal(up.json().errcode, 0, up.body);
    const down = await t.app.inject({ url: `/media/downloadFile?access_token=${got.access_token}&media_id=${up.json().media_id}` });
    assert.equal(down.statusCode, 200);
    assert.ok(down.rawPayload.equals(sample('png')));
  });
  test('an unknown path under /dt -> DingTalk\'s 404 answer with the request id', async () => {
    const res = await t.app.inject({ url: '/dt/no/such/call' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().errcode, 404);
    assert.equal(res.json().request_id, res.headers['x-request-id']);
  });
  test('a wrong method under /dt -> 43001, as at the root', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/dt/gettoken' });
    assert.deepEqual([res.statusCode, res.json().errcode], [405, 43001]);
  });
  test('/healthz and /metrics stay wire-neutral, at the root only', async () => {
    assert.equal((await t.app.inject({ url: '/healthz' })).statusCode, 200);
    assert.equal((await t.app.inject({ url: '/dt/healthz' })).json().errcode, 404);
  });
});

describe('no wire at the root', () => {
  let t: InjectApp | undefined;
  after(async () => t?.close());
  test('unknown root paths get a plain JSON 404; the wire answers under its prefix', async () => {
    // injectApp bootstraps through the services, not the wire, so it works whatever is mounted.
    t = await injectApp({ dialects: 'dingtalk=/dingtalk' });
    const root = await t.app.inject({ url: '/gettoken' });
    assert.equal(root.statusCode, 404);
    assert.deepEqual(root.json(), { error: 'not found', request_id: root.headers['x-request-id'] });
    const wire = await t.app.inject({ url: `/dingtalk/gettoken?appkey=${t.appKey}&appsecret=${t.appSecret}` });
    assert.equal(wire.json().errcode, 0);
  });
});

describe('post-commit hooks (MediaService.onCommitted)', () => {
  let t: InjectApp;
  before(async () => {
    t = await injectApp();
  });
  after(async () => t.close());

  test('a hook is told of each stored media, after the answer; a refused upload tells it nothing; a failing hook fails no upload', async () => {
    const seen: MediaRow[] = [];
    const hookErrors: unknown[] = [];
    t.services.media.onCommitted((row) => void seen.push(row));
    t.services.media.onCommitted(() => { throw new Error('hook broke'); }, (error) => hookErrors.push(error));
    const token = await t.token();
    const send = async (type: string, data: Buffer) => {
      const { body, contentType } = multipart([{ name: 'media', filename: 'a.png', data }]);
      return (await t.app.inject({ method: 'POST', url: `/media/upload?access_token=${token}&type=${type}`, headers: { 'content-type': contentType }, payload: body })).json();
    };
    const stored = await send('image', sample('png'));
    assert.equal(stored.errcode, 0);
    assert.equal((await send('voice', sample('png'))).errcode, 40005);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen.map((row) => [row.mediaId, row.type, row.size]), [[stored.media_id, 'image', sample('png').length]]);
    assert.equal(hookErrors.length, 1);
  });
});
