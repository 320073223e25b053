// WeCom's wire (/cgi-bin, issue 16) against a real listening server, byte for byte: gettoken,
// media/upload (created_at a string of seconds, WeCom's limits), media/get with Range, uploadimg
// and its public URL; WeCom's errcodes and errmsg suffix; each wire its own tokens and ids
// (cross-wire 40014/40007); organizations never see each other's media; refusals store nothing.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP and the operator CLI).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sample, sampleOfSize } from './fixtures/samples.ts';
import { downloadUrl, sha256, tokenOf, upload as dingtalkUpload } from './helpers/e2e-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';
import { withAnotherFirstCharacter } from './helpers/near-miss.ts';
import {
  assertWeComError, mediaPart, wecomGet, wecomGetError, wecomGettoken, wecomPost, wecomToken, wecomUpload,
} from './helpers/wecom-http.ts';

const MiB = 1024 * 1024;

let server: TestServer;
let wecom: { appKey: string; appSecret: string };
let token: string;
let dingtalkToken: string;

before(async () => {
  server = await startTestServer();
  wecom = await server.createApp('default', 'wecom');
  token = await wecomToken(server.baseUrl, wecom.appKey, wecom.appSecret);
  dingtalkToken = await tokenOf(server);
});
after(async () => {
  await server?.close();
});

/** Runs `attempt` and checks that the organization's stored media did not change. */
async function storesNothing(attempt: () => Promise<void>, org = 'default'): Promise<void> {
  const before = await server.mediaIds(org);
  await attempt();
  assert.deepEqual(await server.mediaIds(org), before, 'a refused call stored nothing');
}

describe('GET /cgi-bin/gettoken', () => {
  test('corpid + corpsecret -> {"errcode":0,"errmsg":"ok","access_token","expires_in":7200}, the same token again', async () => {
    assert.match(wecom.appKey, /^ww[0-9a-f]{16}$/);
    assert.match(wecom.appSecret, /^[A-Za-z0-9_-]{43}$/);
    const first = await wecomGettoken(server.baseUrl, { corpid: wecom.appKey, corpsecret: wecom.appSecret });
    assert.equal(first.status, 200);
    assert.match(first.raw, /^\{"errcode":0,"errmsg":"ok","access_token":"[A-Za-z0-9_-]{43}","expires_in":7200\}$/);
    const again = await wecomGettoken(server.baseUrl, { corpid: wecom.appKey, corpsecret: wecom.appSecret });
    assert.equal(again.raw, first.raw);
  });

  test('missing corpid 41002, missing corpsecret 41004, wrong secret or unknown corpid 40001', async () => {
    assertWeComError(await wecomGettoken(server.baseUrl, { corpsecret: wecom.appSecret }), 41002, 'corpid missing');
    assertWeComError(await wecomGettoken(server.baseUrl, { corpid: wecom.appKey }), 41004, 'corpsecret missing');
    assertWeComError(await wecomGettoken(server.baseUrl, { corpid: wecom.appKey, corpsecret: withAnotherFirstCharacter(wecom.appSecret) }), 40001, 'invalid credential');
    assertWeComError(await wecomGettoken(server.baseUrl, { corpid: 'ww0000000000000000', corpsecret: wecom.appSecret }), 40001, 'invalid credential');
  });

  test('credentials work on their own wire only: DingTalk\'s on /cgi-bin 40001, WeCom\'s on /gettoken 40096', async () => {
    assertWeComError(await wecomGettoken(server.baseUrl, { corpid: server.appKey, corpsecret: server.appSecret }), 40001, 'invalid credential');
    const onDingTalk = await (await fetch(`${server.baseUrl}/gettoken?appkey=${wecom.appKey}&appsecret=${wecom.appSecret}`)).json() as { errcode: number };
    assert.equal(onDingTalk.errcode, 40096);
  });
});

describe('POST /cgi-bin/media/upload and GET /cgi-bin/media/get', () => {
  test('an image: {"errcode":0,"errmsg":"","type":"image","media_id","created_at":"<seconds>"}; get returns the same bytes (sha256)', async () => {
    const png = sampleOfSize('png', 300_000);
    const before = Math.floor(Date.now() / 1000);
    const { mediaId, createdAt } = await wecomUpload(server.baseUrl, token, 'image', 'photo.png', png);
    assert.match(mediaId, /^[1-9][A-Za-z0-9_-]{43}$/);
    assert.match(createdAt, /^\d{10}$/);
    assert.ok(Number(createdAt) >= before - 1 && Number(createdAt) <= Math.floor(Date.now() / 1000) + 1, createdAt);
    const got = await wecomGet(server.baseUrl, token, mediaId);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    assert.equal(got.headers.get('content-length'), String(png.length));
    assert.equal(got.headers.get('accept-ranges'), 'bytes');
    assert.equal(got.headers.get('content-disposition'), 'attachment; filename="photo.png"; filename*=UTF-8\'\'photo.png');
    assert.equal(sha256(new Uint8Array(await got.arrayBuffer())), sha256(png));
  });

  test('Range: 206 with Content-Range and exactly those bytes; a suffix range; past the end 416', async () => {
    const amr = sample('amr');
    const { mediaId } = await wecomUpload(server.baseUrl, token, 'voice', 'note.amr', amr);
    const part = await wecomGet(server.baseUrl, token, mediaId, { range: 'bytes=2-9' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 2-9/${amr.length}`);
    assert.equal(part.headers.get('content-length'), '8');
    assert.equal(part.headers.get('content-type'), 'audio/amr');
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), amr.subarray(2, 10));
    const tail = await wecomGet(server.baseUrl, token, mediaId, { range: 'bytes=-4' });
    assert.equal(tail.status, 206);
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), amr.subarray(amr.length - 4));
    const beyond = await wecomGet(server.baseUrl, token, mediaId, { range: `bytes=${amr.length}-` });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get('content-range'), `bytes */${amr.length}`);
    await beyond.arrayBuffer();
  });

  test('a video (mp4) and a file of any format (WeCom\'s own example: wework.txt, 6 bytes, filelength in the part header)', async () => {
    const mp4 = sample('mp4');
    const video = await wecomUpload(server.baseUrl, token, 'video', 'clip.mp4', mp4);
    assert.equal(sha256(new Uint8Array(await (await wecomGet(server.baseUrl, token, video.mediaId)).arrayBuffer())), sha256(mp4));
    const text = Buffer.from('wework');
    const file = await wecomUpload(server.baseUrl, token, 'file', 'wework.txt', text);
    const got = await wecomGet(server.baseUrl, token, file.mediaId);
    assert.equal(got.headers.get('content-type'), 'application/octet-stream');
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), text);
    const pdf = sample('pdf');
    const asFile = await wecomUpload(server.baseUrl, token, 'file', 'report.pdf', pdf);
    assert.equal((await wecomGet(server.baseUrl, token, asFile.mediaId)).headers.get('content-type'), 'application/pdf');
  });

  test('WeCom\'s limits: every file > 5 bytes (5 -> 40006), empty 44001; image over 10 MB 45001, exactly 10 MB passes; voice over 2 MB 45001', async () => {
    await storesNothing(async () => {
      assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/upload', { access_token: token, type: 'file' }, mediaPart('five.txt', Buffer.from('12345'))), 40006, 'invalid file size');
      assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/upload', { access_token: token, type: 'file' }, mediaPart('empty.txt', Buffer.alloc(0))), 44001, 'empty media data');
      assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/upload', { access_token: token, type: 'image' }, mediaPart('big.png', sampleOfSize('png', 10 * MiB + 1))), 45001, 'media size out of limit');
      assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/upload', { access_token: token, type: 'voice' }, mediaPart('long.amr', sampleOfSize('amr', 2 * MiB + 1))), 45001, 'media size out of limit');
    });
    const sixBytes = await wecomUpload(server.baseUrl, token, 'file', 'six.txt', Buffer.from('123456'));
    assert.deepEqual(Buffer.from(await (await wecomGet(server.baseUrl, token, sixBytes.mediaId)).arrayBuffer()), Buffer.from('123456'));
    const exactly = sampleOfSize('png', 10 * MiB);
    const big = await wecomUpload(server.baseUrl, token, 'image', 'exact.png', exactly);
    assert.equal(sha256(new Uint8Array(await (await wecomGet(server.baseUrl, token, big.mediaId)).arrayBuffer())), sha256(exactly));
  });

  test('WeCom\'s formats: image jpg/png only (gif 40005), voice amr only (mp3 40005), video mp4 only; unknown or missing type 40004', async () => {
    await storesNothing(async () => {
      const refuse = async (type: string, name: string, data: Buffer, errcode: number, text: string) =>
        assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/upload', type === '' ? { access_token: token } : { access_token: token, type }, mediaPart(name, data)), errcode, text);
      await refuse('image', 'a.gif', sample('gif'), 40005, 'invalid file type');
      await refuse('image', 'a.png', sample('jpg'), 40005, 'invalid file type');
      await refuse('voice', 'a.mp3', sample('mp3'), 40005, 'invalid file type');
      await refuse('video', 'a.mp4', sample('png'), 40005, 'invalid file type');
      await refuse('sticker', 'a.png', sample('png'), 40004, 'invalid media type');
      await refuse('', 'a.png', sample('png'), 40004, 'invalid media type');
    });
    const jpg = await wecomUpload(server.baseUrl, token, 'image', 'a.jpg', sample('jpg'));
    assert.equal((await wecomGet(server.baseUrl, token, jpg.mediaId)).headers.get('content-type'), 'image/jpeg');
  });

  test('the request itself: no token 41001, a bad one 40014, not multipart 44001, no part media 41005 — all HTTP 200 JSON', async () => {
    await storesNothing(async () => {
      const png = sample('png');
      assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/upload', { type: 'image' }, mediaPart('a.png', png)), 41001, 'access_token missing');
      assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/upload', { access_token: 'A'.repeat(43), type: 'image' }, mediaPart('a.png', png)), 40014, 'invalid access_token');
      assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/upload', { access_token: token, type: 'image' }, { body: png, contentType: 'image/png' }), 44001, 'empty media data');
      assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/upload', { access_token: token, type: 'image' }, [{ name: 'file', filename: 'a.png', data: png }]), 41005, 'media data missing');
    });
    assertWeComError(await wecomGetError(server.baseUrl, token, ''), 41006, 'media_id missing');
    assertWeComError(await wecomGetError(server.baseUrl, token, '1'.repeat(44)), 40007, 'invalid media_id');
    assertWeComError(await wecomGetError(server.baseUrl, 'A'.repeat(43), '1'.repeat(44)), 40014, 'invalid access_token');
  });
});

describe('each wire its own tokens and ids; organizations apart', () => {
  test('a DingTalk token on /cgi-bin answers 40014, a WeCom token on DingTalk\'s paths 40014 (DingTalk\'s shape)', async () => {
    const { mediaId } = await wecomUpload(server.baseUrl, token, 'image', 'w.png', sample('png'));
    assertWeComError(await wecomGetError(server.baseUrl, dingtalkToken, mediaId), 40014, 'invalid access_token');
    await storesNothing(async () => {
      assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/upload', { access_token: dingtalkToken, type: 'image' }, mediaPart('a.png', sample('png'))), 40014, 'invalid access_token');
      const answer = await dingtalkUpload(server.baseUrl, token, 'image', sample('png'), 'a.png');
      assert.equal(answer.errcode, 40014);
    });
    const onDingTalk = await (await fetch(downloadUrl(server.baseUrl, token, '@nosuchmediaidnosuchmedia'))).json() as { errcode: number };
    assert.equal(onDingTalk.errcode, 40014);
  });

  test('a DingTalk media_id given to /cgi-bin/media/get answers 40007, and a WeCom media_id on DingTalk\'s download 40007 (same organization)', async () => {
    const dingtalkMedia = await dingtalkUpload(server.baseUrl, dingtalkToken, 'image', sample('png'), 'd.png');
    assert.equal(dingtalkMedia.errcode, 0);
    assertWeComError(await wecomGetError(server.baseUrl, token, dingtalkMedia.media_id!), 40007, 'invalid media_id');
    const { mediaId } = await wecomUpload(server.baseUrl, token, 'image', 'w.png', sample('png'));
    const crossed = await (await fetch(downloadUrl(server.baseUrl, dingtalkToken, mediaId))).json() as { errcode: number };
    assert.equal(crossed.errcode, 40007);
    // Both still there for their own wire.
    assert.equal((await wecomGet(server.baseUrl, token, mediaId)).status, 200);
    assert.equal((await fetch(downloadUrl(server.baseUrl, dingtalkToken, dingtalkMedia.media_id!))).status, 200);
  });

  test('another organization\'s WeCom app cannot read this one\'s media: 40007, exactly as an unknown media_id', async () => {
    const other = await server.createApp('wecom-other-org', 'wecom');
    const otherToken = await wecomToken(server.baseUrl, other.appKey, other.appSecret);
    const { mediaId } = await wecomUpload(server.baseUrl, token, 'file', 'secret.txt', Buffer.from('org A only'));
    const foreign = await wecomGetError(server.baseUrl, otherToken, mediaId);
    assertWeComError(foreign, 40007, 'invalid media_id');
    const unknown = await wecomGetError(server.baseUrl, otherToken, withAnotherFirstCharacter(mediaId, '98'));
    assert.equal(String(foreign.json.errmsg).split(', hint:')[0], String(unknown.json.errmsg).split(', hint:')[0]);
    assert.deepEqual(await server.mediaIds('wecom-other-org'), []);
    const own = await wecomUpload(server.baseUrl, otherToken, 'file', 'b.txt', Buffer.from('org B only'));
    assertWeComError(await wecomGetError(server.baseUrl, token, own.mediaId), 40007, 'invalid media_id');
    assert.deepEqual(await server.mediaIds('wecom-other-org'), [own.mediaId]);
  });
});

describe('POST /cgi-bin/media/uploadimg and its permanent URL', () => {
  test('{"errcode":0,"errmsg":"","url"}: the URL serves the image without a token, cacheable for good (ETag, immutable, 304)', async () => {
    const png = sampleOfSize('png', 120_000);
    const answer = await wecomPost(server.baseUrl, '/cgi-bin/media/uploadimg', { access_token: token }, mediaPart('logo.png', png));
    const url = String(answer.json.url);
    assert.equal(answer.raw, `{"errcode":0,"errmsg":"","url":"${url}"}`);
    assert.match(url, new RegExp(`^${server.baseUrl.replace(/[.]/g, '\\.')}/cgi-bin/media/img/[A-Za-z0-9_-]{43}$`));
    const got = await fetch(url);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    assert.equal(got.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(got.headers.get('etag'), `"${sha256(png)}"`);
    assert.equal(sha256(new Uint8Array(await got.arrayBuffer())), sha256(png));
    const cached = await fetch(url, { headers: { 'if-none-match': `"${sha256(png)}"` } });
    assert.equal(cached.status, 304);
    const range = await fetch(url, { headers: { range: 'bytes=0-7' } });
    assert.equal(range.status, 206);
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), png.subarray(0, 8));
  });

  test('a URL key that is not one: HTTP 404 with 40007; the image is no media_id; uploadimg\'s own limits (2 MB, jpg/png)', async () => {
    const key = 'A'.repeat(43);
    const missing = await fetch(`${server.baseUrl}/cgi-bin/media/img/${key}`);
    assert.equal(missing.status, 404);
    const body = JSON.parse(await missing.text()) as { errcode: number; errmsg: string };
    assert.equal(body.errcode, 40007);
    assert.equal((await fetch(`${server.baseUrl}/cgi-bin/media/img/short`)).status, 404);
    await storesNothing(async () => {
      const refuse = async (name: string, data: Buffer, errcode: number, text: string) =>
        assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/uploadimg', { access_token: token }, mediaPart(name, data)), errcode, text);
      await refuse('big.png', sampleOfSize('png', 2 * MiB + 1), 45001, 'media size out of limit');
      await refuse('a.gif', sample('gif'), 40005, 'invalid file type');
      await refuse('tiny.png', Buffer.from('\x89PNG'), 40006, 'invalid file size');
    });
    const exactly = await wecomPost(server.baseUrl, '/cgi-bin/media/uploadimg', { access_token: token }, mediaPart('max.png', sampleOfSize('png', 2 * MiB)));
    assert.equal(exactly.json.errcode, 0, exactly.raw);
    assertWeComError(await wecomPost(server.baseUrl, '/cgi-bin/media/uploadimg', {}, mediaPart('a.png', sample('png'))), 41001, 'access_token missing');
  });
});

describe('paths and methods', () => {
  test('an unknown /cgi-bin path: HTTP 404 in WeCom\'s shape; DingTalk still answers its own unknown paths', async () => {
    const answer = await fetch(`${server.baseUrl}/cgi-bin/no/such/call`);
    assert.equal(answer.status, 404);
    const body = JSON.parse(await answer.text()) as { errcode: number; errmsg: string };
    assert.deepEqual(Object.keys(body), ['errcode', 'errmsg']);
    assert.equal(body.errcode, 404);
    const dingtalk = await (await fetch(`${server.baseUrl}/no/such/call`)).json() as { errcode: number; request_id: string };
    assert.equal(dingtalk.errcode, 404);
    assert.ok(dingtalk.request_id);
  });

  test('a wrong method: 43001 (GET calls) and 43002 (POST calls)', async () => {
    const post = await fetch(`${server.baseUrl}/cgi-bin/gettoken`, { method: 'POST' });
    assert.deepEqual([post.status, ((await post.json()) as { errcode: number }).errcode], [405, 43001]);
    const get = await fetch(`${server.baseUrl}/cgi-bin/media/upload`);
    assert.deepEqual([get.status, ((await get.json()) as { errcode: number }).errcode], [405, 43002]);
    const getImg = await fetch(`${server.baseUrl}/cgi-bin/media/uploadimg`);
    assert.deepEqual([getImg.status, ((await getImg.json()) as { errcode: number }).errcode], [405, 43002]);
  });
});

test('the OpenAPI document describes the WeCom routes under the tag WeCom', async () => {
  const doc = (await (await fetch(`${server.baseUrl}/openapi.json`)).json()) as {
    tags: Array<{ name: string }>;
    paths: Record<string, Record<string, { tags: string[]; operationId: string }>>;
  };
  assert.ok(doc.tags.some((tag) => tag.name === 'WeCom'));
  const wecomOperations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).filter(([, op]) => op.tags?.includes('WeCom')).map(([method, op]) => `${method.toUpperCase()} ${path} ${op.operationId}`));
  assert.deepEqual(wecomOperations.sort(), [
    'GET /cgi-bin/gettoken wecomGetToken',
    'GET /cgi-bin/media/get wecomGetMedia',
    'GET /cgi-bin/media/img/{key} wecomPublishedImage',
    'POST /cgi-bin/media/upload wecomUploadMedia',
    'POST /cgi-bin/media/uploadimg wecomUploadImage',
  ]);
});
