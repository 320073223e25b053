// The Feishu wire (/open-apis, issue 16) against a real listening server, byte for byte: the token
// call, image and file upload and download (Range), Feishu's errors (HTTP 400/404/405, code, msg,
// error.log_id = X-Tt-Logid = x-request-id), nothing stored by a refused upload, tenancy and the
// wires' separate id namespaces.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP, the operator CLI and the data folder).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { sample, sampleOfSize } from './fixtures/samples.ts';
import { assertNothingStored, storedState } from './helpers/data-folder.ts';
import { downloadUrl, sha256, tokenOf, upload } from './helpers/e2e-http.ts';
import { multipart, type Part } from './helpers/multipart.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const MiB = 1024 * 1024;
const KEY = (kind: 'img' | 'file') => new RegExp(`^${kind}_v2_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`);

let server: TestServer;
let app: { appKey: string; appSecret: string };
let token: string;

async function post(path: string, body: Buffer | string, headers: Record<string, string>): Promise<{ response: Response; json: Record<string, unknown> }> {
  const response = await fetch(`${server.baseUrl}${path}`, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers });
  return { response, json: (await response.json()) as Record<string, unknown> };
}

function tokenCall(credentials: unknown, path = '/open-apis/auth/v3/tenant_access_token/internal') {
  return post(path, JSON.stringify(credentials), { 'content-type': 'application/json; charset=utf-8' });
}

function uploadForm(path: string, parts: Part[], bearer = token) {
  const { body, contentType } = multipart(parts);
  return post(path, body, { 'content-type': contentType, authorization: `Bearer ${bearer}` });
}

const uploadImage = (data: Buffer, imageType = 'message', bearer = token) =>
  uploadForm('/open-apis/im/v1/images', [{ name: 'image_type', value: imageType }, { name: 'image', data }], bearer);

const uploadFile = (data: Buffer, fileType: string, fileName: string, extra: Part[] = []) =>
  uploadForm('/open-apis/im/v1/files', [{ name: 'file_type', value: fileType }, { name: 'file_name', value: fileName }, ...extra, { name: 'file', data, filename: fileName }]);

const download = (path: string, headers: Record<string, string> = {}, bearer = token) =>
  fetch(`${server.baseUrl}${path}`, { headers: { authorization: `Bearer ${bearer}`, ...headers } });

/** Feishu's error answer exactly: the status, {code, msg, error: {log_id}}, log_id = X-Tt-Logid = x-request-id. */
function assertFeishuError(answer: { response: Response; json: Record<string, unknown> }, status: number, code: number, msg: string): void {
  const { response, json } = answer;
  assert.equal(response.status, status, JSON.stringify(json));
  const logId = response.headers.get('x-tt-logid');
  assert.ok(logId, 'X-Tt-Logid header');
  assert.equal(response.headers.get('x-request-id'), logId);
  assert.deepEqual(json, { code, msg, error: { log_id: logId } });
}

async function errorOf(response: Response) {
  return { response, json: (await response.json()) as Record<string, unknown> };
}

before(async () => {
  server = await startTestServer({ config: { dialects: 'dingtalk,feishu' } });
  app = await server.createApp('default', 'feishu');
  const { json } = await tokenCall({ app_id: app.appKey, app_secret: app.appSecret });
  token = json.tenant_access_token as string;
});
after(async () => server?.close());

describe('the token call', () => {
  test('tenant_access_token/internal answers code 0, msg ok, a t- token and expire 7200; again the same token', async () => {
    assert.match(app.appKey, /^cli_[0-9a-f]{16}$/);
    const other = await server.createApp('default', 'feishu');
    const { response, json } = await tokenCall({ app_id: other.appKey, app_secret: other.appSecret });
    assert.equal(response.status, 200);
    assert.deepEqual(Object.keys(json), ['code', 'msg', 'tenant_access_token', 'expire']);
    assert.deepEqual([json.code, json.msg, json.expire], [0, 'ok', 7200]);
    assert.match(json.tenant_access_token as string, /^t-[A-Za-z0-9_-]{43}$/);
    const again = await tokenCall({ app_id: other.appKey, app_secret: other.appSecret });
    assert.equal(again.json.tenant_access_token, json.tenant_access_token);
  });

  test('app_access_token/internal answers the same token under both names', async () => {
    const { response, json } = await tokenCall({ app_id: app.appKey, app_secret: app.appSecret }, '/open-apis/auth/v3/app_access_token/internal');
    assert.equal(response.status, 200);
    assert.deepEqual(Object.keys(json), ['code', 'msg', 'app_access_token', 'tenant_access_token', 'expire']);
    assert.equal(json.app_access_token, token);
    assert.equal(json.tenant_access_token, token);
  });

  test('a wrong secret, an unknown app_id and another wire\'s app: 400 10014; a missing field: 400 10003', async () => {
    assertFeishuError(await tokenCall({ app_id: app.appKey, app_secret: `${app.appSecret}x` }), 400, 10014, 'app secret invalid');
    assertFeishuError(await tokenCall({ app_id: 'cli_0000000000000000', app_secret: app.appSecret }), 400, 10014, 'app secret invalid');
    assertFeishuError(await tokenCall({ app_id: server.appKey, app_secret: server.appSecret }), 400, 10014, 'app secret invalid');
    assertFeishuError(await tokenCall({ app_id: app.appKey }), 400, 10003, 'invalid param');
    assertFeishuError(await post('/open-apis/auth/v3/tenant_access_token/internal', 'not json', { 'content-type': 'application/json' }), 400, 10003, 'invalid param');
  });
});

describe('images', () => {
  test('a PNG uploads ({code 0, msg success, data.image_key img_v2_…}) and downloads byte-exact', async () => {
    const png = sample('png');
    const { response, json } = await uploadImage(png);
    assert.equal(response.status, 200);
    assert.deepEqual(Object.keys(json), ['code', 'msg', 'data']);
    assert.deepEqual([json.code, json.msg], [0, 'success']);
    const key = (json.data as { image_key: string }).image_key;
    assert.deepEqual(Object.keys(json.data as object), ['image_key']);
    assert.match(key, KEY('img'));
    const got = await download(`/open-apis/im/v1/images/${key}`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(png));
  });

  for (const format of ['jpg', 'gif', 'bmp', 'webp', 'ico', 'tiff', 'heic'] as const) {
    test(`a ${format} is an image Feishu takes`, async () => {
      const bytes = sample(format);
      const { response, json } = await uploadImage(bytes);
      assert.equal(response.status, 200, JSON.stringify(json));
      const got = await download(`/open-apis/im/v1/images/${(json.data as { image_key: string }).image_key}`);
      assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(bytes));
    });
  }

  test('exactly 10 MiB passes; 10 MiB + 1 is 234006 and leaves nothing', async () => {
    assert.equal((await uploadImage(sampleOfSize('png', 10 * MiB))).response.status, 200);
    const before = await storedState(server);
    assertFeishuError(await uploadImage(sampleOfSize('png', 10 * MiB + 1)), 400, 234006, 'The file size exceed the max value.');
    await assertNothingStored(server, before);
  });

  test('refusals change nothing: not an image 234011, empty 234010, a wrong image_type or no image 234001', async () => {
    const before = await storedState(server);
    assertFeishuError(await uploadImage(sample('pdf')), 400, 234011, 'Can\'t regonnize the image format.');
    assertFeishuError(await uploadImage(Buffer.alloc(0)), 400, 234010, 'File\'s size can\'t be 0.');
    assertFeishuError(await uploadImage(sample('png'), 'banner'), 400, 234001, 'Invalid request param.');
    assertFeishuError(await uploadForm('/open-apis/im/v1/images', [{ name: 'image_type', value: 'message' }]), 400, 234001, 'Invalid request param.');
    assertFeishuError(await post('/open-apis/im/v1/images', '{}', { 'content-type': 'application/json', authorization: `Bearer ${token}` }), 400, 234001, 'Invalid request param.');
    await assertNothingStored(server, before);
  });

  test('resolution: a GIF 2000 wide passes, 2001 is 234039; a PNG 4097 wide passes as a message, not as an avatar', async () => {
    const gifOfWidth = (width: number) => {
      const gif = Buffer.from(sample('gif'));
      gif.writeUInt16LE(width, 6); // the logical screen width
      return gif;
    };
    const pngOfWidth = (width: number) => {
      const png = Buffer.from(sample('png'));
      png.writeUInt32BE(width, 16);
      png.writeUInt32BE(crc32(png.subarray(12, 29)), 29); // IHDR's CRC
      return png;
    };
    assert.equal((await uploadImage(gifOfWidth(2000))).response.status, 200);
    assert.equal((await uploadImage(pngOfWidth(4097))).response.status, 200);
    assert.equal((await uploadImage(pngOfWidth(4096), 'avatar')).response.status, 200);
    const before = await storedState(server);
    assertFeishuError(await uploadImage(gifOfWidth(2001)), 400, 234039, 'Image resolution exceeds limit.');
    assertFeishuError(await uploadImage(pngOfWidth(4097), 'avatar'), 400, 234039, 'Image resolution exceeds limit.');
    assertFeishuError(await uploadImage(pngOfWidth(12001)), 400, 234039, 'Image resolution exceeds limit.');
    await assertNothingStored(server, before);
  });
});

describe('files', () => {
  const kinds = [['pdf', 'pdf', 'report.pdf'], ['doc', 'docx', 'notes.docx'], ['doc', 'doc', 'old.doc'], ['xls', 'xlsx', 'sheet.xlsx'], ['ppt', 'pptx', 'slides.pptx'], ['mp4', 'mp4', 'clip.mp4'], ['opus', 'opus', 'voice.opus']] as const;
  for (const [fileType, format, fileName] of kinds) {
    test(`file_type ${fileType} takes a ${format}: file_key file_v2_…, downloaded byte-exact with its name`, async () => {
      const bytes = sample(format);
      const { response, json } = await uploadFile(bytes, fileType, fileName, [{ name: 'duration', value: fileType === 'opus' || fileType === 'mp4' ? '3000' : '' }]);
      assert.equal(response.status, 200, JSON.stringify(json));
      assert.deepEqual(json, { code: 0, msg: 'success', data: { file_key: (json.data as { file_key: string }).file_key } });
      const key = (json.data as { file_key: string }).file_key;
      assert.match(key, KEY('file'));
      const got = await download(`/open-apis/im/v1/files/${key}`);
      assert.equal(got.status, 200);
      assert.equal(sha256(Buffer.from(await got.arrayBuffer())), sha256(bytes));
      assert.match(got.headers.get('content-disposition') ?? '', new RegExp(`filename="${fileName.replace('.', '\\.')}"`));
    });
  }

  test('stream takes any bytes; a Range answers 206 with exactly those bytes, past the end 416', async () => {
    const bytes = randomBytes(100_000);
    const { json } = await uploadFile(bytes, 'stream', 'blob.bin');
    const key = (json.data as { file_key: string }).file_key;
    const part = await download(`/open-apis/im/v1/files/${key}`, { range: 'bytes=1000-1999' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 1000-1999/100000');
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(1000, 2000));
    const tail = await download(`/open-apis/im/v1/files/${key}`, { range: 'bytes=-10' });
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), bytes.subarray(-10));
    const past = await download(`/open-apis/im/v1/files/${key}`, { range: 'bytes=100000-' });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), 'bytes */100000');
  });

  test('exactly 30 MiB passes; 30 MiB + 1 is 234006', async () => {
    assert.equal((await uploadFile(sampleOfSize('pdf', 30 * MiB), 'pdf', 'big.pdf')).response.status, 200);
    const before = await storedState(server);
    assertFeishuError(await uploadFile(sampleOfSize('pdf', 30 * MiB + 1), 'pdf', 'big.pdf'), 400, 234006, 'The file size exceed the max value.');
    await assertNothingStored(server, before);
  });

  test('refusals change nothing: bytes other than file_type, a wrong file_type, no file_name, a bad duration 234001; empty 234010', async () => {
    const before = await storedState(server);
    const BAD = [400, 234001, 'Invalid request param.'] as const;
    assertFeishuError(await uploadFile(sample('png'), 'pdf', 'image.pdf'), ...BAD);
    assertFeishuError(await uploadFile(sample('pdf'), 'opus', 'voice.opus'), ...BAD);
    assertFeishuError(await uploadFile(sample('mp3'), 'opus', 'voice.opus'), ...BAD);
    assertFeishuError(await uploadFile(sample('pdf'), 'zip', 'a.pdf'), ...BAD);
    assertFeishuError(await uploadForm('/open-apis/im/v1/files', [{ name: 'file_type', value: 'pdf' }, { name: 'file', data: sample('pdf'), filename: 'a.pdf' }]), ...BAD);
    assertFeishuError(await uploadFile(sample('mp4'), 'mp4', 'clip.mp4', [{ name: 'duration', value: '3s' }]), ...BAD);
    assertFeishuError(await uploadFile(Buffer.alloc(0), 'stream', 'empty.bin'), 400, 234010, 'File\'s size can\'t be 0.');
    await assertNothingStored(server, before);
  });
});

describe('tokens, tenancy and namespaces', () => {
  test('no token 99991661; a bad one, or another wire\'s, 99991663 (HTTP 400)', async () => {
    const png = sample('png');
    const { body, contentType } = multipart([{ name: 'image_type', value: 'message' }, { name: 'image', data: png }]);
    assertFeishuError(await post('/open-apis/im/v1/images', body, { 'content-type': contentType }), 400, 99991661,
      'Missing access token for authorization. Please make a request with token attached.');
    const INVALID = [400, 99991663, 'Invalid access token for authorization. Please make a request with token attached.'] as const;
    assertFeishuError(await uploadImage(png, 'message', 't-nonsense'), ...INVALID);
    assertFeishuError(await uploadImage(png, 'message', token.slice(2)), ...INVALID); // without its t-
    const dingtalkToken = await tokenOf(server);
    assertFeishuError(await uploadImage(png, 'message', `t-${dingtalkToken}`), ...INVALID);
    assertFeishuError(await errorOf(await download('/open-apis/im/v1/images/img_v2_x', {}, 'u-x')), ...INVALID);
  });

  test('another tenant\'s key, another wire\'s id, an image_key on the files route: 234001; a Feishu key on DingTalk: 40007', async () => {
    const BAD = [400, 234001, 'Invalid request param.'] as const;
    const imageKey = ((await uploadImage(sample('png'))).json.data as { image_key: string }).image_key;
    const fileKey = ((await uploadFile(sample('pdf'), 'pdf', 'a.pdf')).json.data as { file_key: string }).file_key;
    const stranger = await server.createApp('other-org', 'feishu');
    const strangerToken = (await tokenCall({ app_id: stranger.appKey, app_secret: stranger.appSecret })).json.tenant_access_token as string;
    assertFeishuError(await errorOf(await download(`/open-apis/im/v1/images/${imageKey}`, {}, strangerToken)), ...BAD);
    assertFeishuError(await errorOf(await download(`/open-apis/im/v1/files/${fileKey}`, {}, strangerToken)), ...BAD);
    assertFeishuError(await errorOf(await download(`/open-apis/im/v1/files/${imageKey}`)), ...BAD);
    assertFeishuError(await errorOf(await download(`/open-apis/im/v1/images/${fileKey}`)), ...BAD);
    assertFeishuError(await errorOf(await download('/open-apis/im/v1/files/file_v2_00000000-0000-0000-0000-000000000000')), ...BAD);
    const dingtalkToken = await tokenOf(server);
    const dingtalkMedia = (await upload(server.baseUrl, dingtalkToken, 'image', sample('png'), 'a.png')).media_id!;
    assertFeishuError(await errorOf(await download(`/open-apis/im/v1/images/${encodeURIComponent(dingtalkMedia)}`)), ...BAD);
    const onDingTalk = await fetch(downloadUrl(server.baseUrl, dingtalkToken, imageKey));
    assert.equal(((await onDingTalk.json()) as { errcode: number }).errcode, 40007);
  });

  test('unknown /open-apis paths answer 404 and wrong methods 405, in Feishu\'s shape', async () => {
    assertFeishuError(await errorOf(await download('/open-apis/im/v1/nothing')), 404, 404, '404 page not found');
    assertFeishuError(await errorOf(await download('/open-apis/im/v1/images')), 405, 405, 'method not allowed: POST required');
    assertFeishuError(await post('/open-apis/im/v1/files/file_v2_x', '', {}), 405, 405, 'method not allowed: GET required');
  });
});
