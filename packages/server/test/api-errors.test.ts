// Every row of api.md's error table, route by route (fastify inject, no network), and for every
// refused upload: nothing stored, nothing staged.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DINGTALK_ERRORS } from '@oapi-media/core';
import { sample, sampleOfSize, spoofs } from './fixtures/samples.ts';
import { injectApp, type InjectApp } from './helpers/inject-app.ts';
import { multipart, type Part } from './helpers/multipart.ts';

let t: InjectApp;
let token: string;

before(async () => {
  t = await injectApp();
  token = await t.token();
});
after(async () => t.close());

async function upload(query: string, parts: Part[]) {
  const { body, contentType } = multipart(parts);
  return t.app.inject({ method: 'POST', url: `/media/upload${query}`, headers: { 'content-type': contentType }, payload: body });
}

const png = () => ({ name: 'media', filename: 'photo.png', data: sample('png'), contentType: 'image/png' });

async function assertRefused(res: { statusCode: number; json(): any; headers: Record<string, unknown> }, errcode: number) {
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.equal(body.errcode, errcode, JSON.stringify(body));
  assert.equal(typeof body.errmsg, 'string');
  assert.equal(body.request_id, res.headers['x-request-id']);
  assert.deepEqual(await t.files(), { blobs: 0, staged: 0 }, 'a refused upload leaves nothing behind');
}

describe('api.md error table, upload', () => {
  test('upload without access_token -> 41001', async () => {
    await assertRefused(await upload('?type=image', [png()]), 41001);
  });
  test('upload with an unknown access_token -> 40014', async () => {
    await assertRefused(await upload(`?type=image&access_token=${'x'.repeat(43)}`, [png()]), 40014);
  });
  test('upload with a malformed access_token -> 40014', async () => {
    await assertRefused(await upload('?type=image&access_token=../../etc', [png()]), 40014);
  });
  test('upload without type -> 40004', async () => {
    await assertRefused(await upload(`?access_token=${token}`, [png()]), 40004);
  });
  test('upload with type=audio -> 40004', async () => {
    await assertRefused(await upload(`?access_token=${token}&type=audio`, [png()]), 40004);
  });
  test('upload with type=bogus as a form field -> 40004', async () => {
    await assertRefused(await upload('', [{ name: 'access_token', value: token }, { name: 'type', value: 'bogus' }, png()]), 40004);
  });
  test('HTML named x.png as image -> 40005', async () => {
    await assertRefused(await upload(`?access_token=${token}&type=image`, [{ name: 'media', filename: 'x.png', data: spoofs.html }]), 40005);
  });
  test('a real PNG as type=voice -> 40005', async () => {
    await assertRefused(await upload(`?access_token=${token}&type=voice`, [png()]), 40005);
  });
  test('an exe named report.pdf as file -> 40005', async () => {
    await assertRefused(await upload(`?access_token=${token}&type=file`, [{ name: 'media', filename: 'report.pdf', data: spoofs.exe }]), 40005);
  });
  test('upload of a 2,097,153-byte mp3 as voice -> 40006, nothing stored', async () => {
    const mp3 = sampleOfSize('mp3', 2 * 1024 * 1024 + 1);
    await assertRefused(await upload(`?access_token=${token}&type=voice`, [{ name: 'media', filename: 'a.mp3', data: mp3 }]), 40006);
  });
  test('upload without a media part -> 41005', async () => {
    await assertRefused(await upload(`?access_token=${token}&type=image`, [{ name: 'other', value: 'x' }]), 41005);
  });
  test('upload of an empty media part -> 44001 (never a stored empty media)', async () => {
    await assertRefused(await upload(`?access_token=${token}&type=image`, [{ name: 'media', filename: 'x.png', data: Buffer.alloc(0) }]), 44001);
  });
  test('upload that is not multipart/form-data -> 43008', async () => {
    const res = await t.app.inject({
      method: 'POST', url: `/media/upload?access_token=${token}&type=image`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'media=abc',
    });
    await assertRefused(res, 43008);
  });
  test('upload with a multipart type but no boundary -> 43008', async () => {
    const res = await t.app.inject({
      method: 'POST', url: `/media/upload?access_token=${token}&type=image`,
      headers: { 'content-type': 'multipart/form-data' }, payload: 'garbage',
    });
    await assertRefused(res, 43008);
  });
  test('GET /media/upload -> HTTP 405, 43002', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/media/upload' });
    assert.equal(res.statusCode, 405);
    assert.equal(res.json().errcode, 43002);
  });
  test('a valid upload then answers errcode 0 (the table is not all there is)', async () => {
    const res = await upload(`?access_token=${token}&type=image`, [png()]);
    assert.equal(res.json().errcode, 0, res.body);
    assert.match(res.json().media_id, /^@[A-Za-z0-9_-]{22,}$/);
    const removed = await t.services.admin.deleteMedia(res.json().media_id);
    assert.equal(removed.mediaId, res.json().media_id);
  });
});

describe('api.md "Form limits": a refused form says what was wrong (45012, 45013, 40098), nothing stored', () => {
  const fields = (count: number, name = 'extra') => Array.from({ length: count }, (_, i) => ({ name: `${name}${i}`, value: 'v' }));
  /** The exact answer of `kind`, with the request id of the answer, and nothing stored. */
  async function assertAnswer(res: Awaited<ReturnType<typeof upload>>, kind: keyof typeof DINGTALK_ERRORS) {
    const { errcode, zh } = DINGTALK_ERRORS[kind];
    assert.deepEqual(res.json(), { errcode, errmsg: zh, request_id: res.headers['x-request-id'] });
    await assertRefused(res, errcode);
  }

  test('a media part after 40 fields -> 45012 (not 41005)', async () => {
    await assertAnswer(await upload(`?access_token=${token}&type=image`, [...fields(40), { name: 'media', value: sample('png').toString('latin1') }]), 'tooManyFormParts');
  });
  test('a media file after 1,000 parts -> 45012 (not 41005)', async () => {
    const parts: Part[] = [...fields(1000).map((part, i) => (i % 2 ? part : { name: part.name, filename: 'x.bin', data: Buffer.from('x') })), png()];
    await assertAnswer(await upload(`?access_token=${token}&type=image`, parts), 'tooManyFormParts');
  });
  test('the access_token field past the 32-field limit -> 45012 (not 41001)', async () => {
    await assertAnswer(await upload('?type=image', [png(), ...fields(32), { name: 'access_token', value: token }]), 'tooManyFormParts');
  });
  test('a form whose media, token and type came before the limit is still stored', async () => {
    const res = await upload(`?access_token=${token}&type=image`, [png(), ...fields(60)]);
    assert.equal(res.json().errcode, 0, res.body);
    await t.services.admin.deleteMedia(res.json().media_id); // the next tests count what is stored
  });
  test('a 100 KB part header -> 45013 (not 43008)', async () => {
    await assertAnswer(await upload(`?access_token=${token}&type=image`, [{ ...png(), filename: `${'a'.repeat(100_000)}.png` }]), 'partHeaderTooLarge');
  });
  test('a part header block of 16,382 bytes -> 45013; one of 16,381 is read', async () => {
    // The block: Content-Disposition: form-data; name="media"; filename="..." CRLF Content-Type: image/png CRLF CRLF
    const fixed = 'Content-Disposition: form-data; name="media"; filename=""\r\nContent-Type: image/png\r\n\r\n'.length;
    const named = (headerBytes: number) => ({ ...png(), filename: `${'a'.repeat(headerBytes - fixed - 4)}.png` });
    await assertAnswer(await upload(`?access_token=${token}&type=image`, [named(16_382)]), 'partHeaderTooLarge');
    const read = (await upload(`?access_token=${token}&type=image`, [named(16_381)])).json();
    assert.equal(read.errcode, 0, JSON.stringify(read));
    await t.services.admin.deleteMedia(read.media_id);
  });
  test('a NUL or another control byte in a raw file name -> 40098 (not 43008)', async () => {
    for (const filename of ['a\u0000b.png', 'report\u0001.png', '\u001b[31mred.png']) {
      await assertAnswer(await upload(`?access_token=${token}&type=image`, [{ ...png(), filename }]), 'invalidFileName');
    }
  });
  test('a control byte elsewhere in a part header stays 43008', async () => {
    await assertAnswer(await upload(`?access_token=${token}&type=image`, [{ ...png(), contentType: 'image/\u0000png' }]), 'multipartRequired');
  });
});

describe('api.md error table, tokens', () => {
  test('/gettoken without appsecret -> 40035', async () => {
    const res = await t.app.inject({ url: `/gettoken?appkey=${t.appKey}` });
    assert.equal(res.json().errcode, 40035);
  });
  test('/gettoken without any parameter -> 40035', async () => {
    assert.equal((await t.app.inject({ url: '/gettoken' })).json().errcode, 40035);
  });
  test('/gettoken with a wrong appsecret -> 40096', async () => {
    const res = await t.app.inject({ url: `/gettoken?appkey=${t.appKey}&appsecret=wrong` });
    assert.equal(res.json().errcode, 40096);
    assert.equal(res.json().access_token, undefined);
  });
  test('/gettoken with an unknown appkey -> 40096', async () => {
    assert.equal((await t.app.inject({ url: '/gettoken?appkey=nobody&appsecret=x' })).json().errcode, 40096);
  });
  test('/gettoken?corpid=&corpsecret= with a wrong pair -> 40089', async () => {
    assert.equal((await t.app.inject({ url: `/gettoken?corpid=${t.appKey}&corpsecret=wrong` })).json().errcode, 40089);
  });
  test('/gettoken?corpid=&corpsecret= with the right pair -> the app token', async () => {
    const res = await t.app.inject({ url: `/gettoken?corpid=${t.appKey}&corpsecret=${t.appSecret}` });
    assert.equal(res.json().access_token, token);
  });
  test('POST /gettoken -> HTTP 405, 43001', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/gettoken' });
    assert.equal(res.statusCode, 405);
    assert.deepEqual([res.json().errcode, res.json().errmsg], [43001, DINGTALK_ERRORS.getRequired.zh]);
  });
});

describe('api.md error table, download', () => {
  test('download without media_id -> 41006', async () => {
    assert.equal((await t.app.inject({ url: `/media/downloadFile?access_token=${token}` })).json().errcode, 41006);
  });
  test('download of an unknown media_id -> 40007', async () => {
    const res = await t.app.inject({ url: `/media/downloadFile?access_token=${token}&media_id=@AAAAAAAAAAAAAAAAAAAAAAAA` });
    assert.equal(res.json().errcode, 40007);
  });
  test('download of a malformed media_id -> 40007', async () => {
    assert.equal((await t.app.inject({ url: `/media/downloadFile?access_token=${token}&media_id=../../x` })).json().errcode, 40007);
  });
  test('download of another organization\'s media_id -> 40007, like an unknown id', async () => {
    const uploaded = (await upload(`?access_token=${token}&type=image`, [png()])).json();
    await t.services.admin.createOrg('other');
    const other = await t.services.admin.createApp('other', 'spy');
    const otherToken = await t.token(other.appkey, other.appsecret);
    const res = await t.app.inject({ url: `/media/downloadFile?access_token=${otherToken}&media_id=${uploaded.media_id}` });
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(res.json().errcode, 40007);
    await t.services.admin.deleteMedia(uploaded.media_id);
  });
  test('download without access_token -> 41001', async () => {
    assert.equal((await t.app.inject({ url: '/media/downloadFile?media_id=@x' })).json().errcode, 41001);
  });
  test('DELETE /media/downloadFile -> HTTP 405, 43001', async () => {
    const res = await t.app.inject({ method: 'DELETE', url: '/media/downloadFile' });
    assert.deepEqual([res.statusCode, res.json().errcode], [405, 43001]);
  });
});

describe('api.md error table, what is not an API call', () => {
  test('an unknown path -> HTTP 404 {"errcode":404,"errmsg":"请求的URI地址不存在"}', async () => {
    const res = await t.app.inject({ url: '/no/such/path' });
    assert.equal(res.statusCode, 404);
    assert.deepEqual([res.json().errcode, res.json().errmsg], [404, '请求的URI地址不存在']);
  });
  test('every answer carries x-request-id, the caller\'s own when sent', async () => {
    const res = await t.app.inject({ url: '/gettoken', headers: { 'x-request-id': 'abc-123' } });
    assert.equal(res.headers['x-request-id'], 'abc-123');
    assert.equal(res.json().request_id, 'abc-123');
  });
});

describe('-1, 42001, 45009 (need their own app)', () => {
  test('access_token past its 7200 s -> 42001 (injected clock)', async () => {
    const a = await injectApp();
    try {
      const tok = await a.token();
      a.clock.now += 7199 * 1000;
      assert.equal((await a.app.inject({ url: `/media/downloadFile?access_token=${tok}` })).json().errcode, 41006, 'still valid at 7199 s');
      a.clock.now += 1000;
      assert.equal((await a.app.inject({ url: `/media/downloadFile?access_token=${tok}` })).json().errcode, 42001);
    } finally {
      await a.close();
    }
  });
  test('an app over its rate limit -> 45009', async () => {
    const a = await injectApp({ defaultRateLimitPerSecond: 3 });
    try {
      const tok = await a.token();
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await a.app.inject({ url: `/media/downloadFile?access_token=${tok}` })).json().errcode);
      assert.deepEqual(codes, [41006, 41006, 41006, 45009]);
      a.clock.now += 1000; // the allowance refills
      assert.equal((await a.app.inject({ url: `/media/downloadFile?access_token=${tok}` })).json().errcode, 41006);
    } finally {
      await a.close();
    }
  });
  test('database down -> -1 with HTTP 200, no internal detail', async () => {
    const a = await injectApp();
    try {
      await a.services.metadata.close();
      const res = await a.app.inject({ url: `/gettoken?appkey=${a.appKey}&appsecret=${a.appSecret}` });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(Object.keys(res.json()).sort(), ['errcode', 'errmsg', 'request_id']);
      assert.deepEqual([res.json().errcode, res.json().errmsg], [-1, '系统繁忙']);
      assert.equal((await a.app.inject({ url: '/readyz' })).statusCode, 503);
    } finally {
      await a.close();
    }
  });
  test('an unexpected crash -> HTTP 500, -1, no stack trace', async () => {
    const a = await injectApp();
    try {
      a.services.tokens.verify = async () => { throw new TypeError('boom at /secret/path.ts:12'); };
      const res = await a.app.inject({ url: '/media/downloadFile?access_token=x' });
      assert.equal(res.statusCode, 500);
      assert.equal(res.json().errcode, -1);
      assert.doesNotMatch(res.body, /boom|secret|\.ts/);
    } finally {
      await a.close();
    }
  });
  test('errmsg in English when the server is set to en', async () => {
    const a = await injectApp({ errmsgLanguage: 'en' });
    try {
      assert.equal((await a.app.inject({ url: '/gettoken' })).json().errmsg, 'missing parameter');
    } finally {
      await a.close();
    }
  });
});
