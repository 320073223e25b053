// X-Oapi-Hint: the mistakes platform users actually make, each named in plain words on the error
// answer (whose body stays exactly the wire's).

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, test } from 'node:test';
import { startEmulator, type Emulator } from '../src/emulator/index.ts';
import { sample } from './fixtures/samples.ts';
import { getToken, multipartBody, upload, type FormPart } from './helpers/e2e-http.ts';

let emu: Emulator;
let token: string;
before(async () => {
  emu = await startEmulator();
  token = await getToken(emu.baseUrl, emu.credentials.dingtalk.appkey, emu.credentials.dingtalk.appsecret);
});
after(async () => {
  await emu.close();
});

async function uploadForm(query: string, parts: FormPart[]): Promise<{ errcode: number; hint: string | null }> {
  const { contentType, body } = multipartBody(parts);
  const response = await fetch(`${emu.baseUrl}/media/upload?${query}`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) });
  return { errcode: ((await response.json()) as { errcode: number }).errcode, hint: response.headers.get('x-oapi-hint') };
}

test('a JSON body instead of multipart', async () => {
  const response = await fetch(`${emu.baseUrl}/media/upload?access_token=${token}&type=image`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ media: '/tmp/a.png' }) });
  assert.equal((await response.json() as { errcode: number }).errcode, 43008);
  assert.match(response.headers.get('x-oapi-hint')!, /^the body is JSON: uploads are multipart\/form-data/);
});

test('multipart without a boundary (a Content-Type set by hand)', async () => {
  const response = await fetch(`${emu.baseUrl}/media/upload?access_token=${token}&type=image`, { method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: 'whatever' });
  assert.notEqual((await response.json() as { errcode: number }).errcode, 0);
  assert.match(response.headers.get('x-oapi-hint')!, /has no boundary=: let your HTTP library write this header/);
});

test('a text field named media holding a file path instead of a file part (curl -F media=path without the @)', async () => {
  const answer = await uploadForm(`access_token=${token}&type=image`, [{ name: 'media', value: '/home/me/photo.png' }]);
  assert.notEqual(answer.errcode, 0);
  assert.equal(answer.hint, 'the media part is a text field holding "/home/me/photo.png", not a file: send the file\'s bytes as a file part (curl -F "media=@path", note the @)');
});

test('a refused file with no filename or extension to go by, an extension not of the type, or one that disagrees with the bytes', async () => {
  const noName = await uploadForm(`access_token=${token}&type=image`, [{ name: 'media', data: sample('pdf') }]);
  assert.equal(noName.errcode, 40005);
  assert.equal(noName.hint, 'the bytes are not a format of type image (jpg, gif, png, bmp), and the media part has no filename to go by: check type, and send filename="name.ext"');
  const noExtension = await uploadForm(`access_token=${token}&type=image`, [{ name: 'media', data: sample('pdf'), filename: 'scan' }]);
  assert.equal(noExtension.errcode, 40005);
  assert.match(noExtension.hint!, /and the media part is named "scan", without an extension, to go by/);
  const webp = await uploadForm(`access_token=${token}&type=image`, [{ name: 'media', data: sample('png'), filename: 'a.webp' }]);
  assert.equal(webp.errcode, 40005);
  assert.equal(webp.hint, 'extension .webp is not a format of type image (image takes jpg, gif, png, bmp)');
  const disagree = await uploadForm(`access_token=${token}&type=image`, [{ name: 'media', data: sample('pdf'), filename: 'a.png' }]);
  assert.equal(disagree.errcode, 40005);
  assert.equal(disagree.hint, 'the bytes are not a png file, as the name "a.png" says: the content and the extension must agree');
});

test('Feishu: a file upload without file_name', async () => {
  const feishu = ((await (await fetch(`${emu.baseUrl}/open-apis/auth/v3/tenant_access_token/internal`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ app_id: 'cli_oapiemulator', app_secret: 'oapi-media-emulator-secret' }),
  })).json()) as { tenant_access_token: string }).tenant_access_token;
  for (const [fields, hint] of [
    [[{ name: 'file_type', value: 'pdf' }], 'no file_name: Feishu\'s file upload needs the field file_name, with its extension'],
  ] as const) {
    const { contentType, body } = multipartBody([...fields, { name: 'file', data: sample('pdf'), filename: 'report.pdf' }]);
    const response = await fetch(`${emu.baseUrl}/open-apis/im/v1/files`, { method: 'POST', headers: { 'content-type': contentType, authorization: `Bearer ${feishu}` }, body: new Uint8Array(body) });
    const text = await response.text();
    assert.equal(response.status, 400, text);
    assert.equal((JSON.parse(text) as { code: number }).code, 234001);
    assert.equal(response.headers.get('x-oapi-hint'), hint);
  }
});

test('the file in a part of another name', async () => {
  const answer = await uploadForm(`access_token=${token}&type=image`, [{ name: 'file', data: sample('png'), filename: 'a.png' }]);
  assert.notEqual(answer.errcode, 0);
  assert.equal(answer.hint, 'the file part is named "file": this call reads the part named "media"');
});

test('no type anywhere (a client that dropped the field after the file)', async () => {
  const answer = await uploadForm(`access_token=${token}`, [{ name: 'media', data: sample('png'), filename: 'a.png' }]);
  assert.notEqual(answer.errcode, 0);
  assert.match(answer.hint!, /^no type: pass it in the query \(\?type=image\); some clients drop form fields that come after the file part/);
});

test('an id of another wire or kind', async () => {
  const wecomId = await fetch(`${emu.baseUrl}/media/downloadFile?access_token=${token}&media_id=1G6nrLmr5EC3MMb_-zK1dDdzmd0p7cNliYu9V5w7o8K0`);
  assert.equal((await wecomId.json() as { errcode: number }).errcode, 40007);
  assert.equal(wecomId.headers.get('x-oapi-hint'), 'this id is a WeCom media_id: download it with GET /cgi-bin/media/get?access_token=&media_id= and a WeCom token');
  const tokenAsId = await fetch(`${emu.baseUrl}/media/downloadFile?access_token=${token}&media_id=${token}`);
  assert.equal((await tokenAsId.json() as { errcode: number }).errcode, 40007);
  assert.equal(tokenAsId.headers.get('x-oapi-hint'), 'media_id holds an access_token, not a media_id');
  const { media_id: mediaId } = await upload(emu.baseUrl, token, 'image', sample('png'), 'a.png');
  const idAsToken = await fetch(`${emu.baseUrl}/media/downloadFile?access_token=${encodeURIComponent(mediaId!)}&media_id=${encodeURIComponent(mediaId!)}`);
  assert.equal((await idAsToken.json() as { errcode: number }).errcode, 40014);
  assert.match(idAsToken.headers.get('x-oapi-hint')!, /^access_token holds a DingTalk media_id, not a token: get one from GET \/gettoken/);
});

test('a token of another wire, and of another organization', async () => {
  const wecom = ((await (await fetch(`${emu.baseUrl}/cgi-bin/gettoken?corpid=wwoapiemulator&corpsecret=oapi-media-emulator-secret`)).json()) as { access_token: string }).access_token;
  const crossed = await fetch(`${emu.baseUrl}/media/downloadFile?access_token=${wecom}&media_id=@aaaaaaaaaaaaaaaaaaaaaaaa`);
  assert.equal((await crossed.json() as { errcode: number }).errcode, 40014);
  assert.equal(crossed.headers.get('x-oapi-hint'), 'this access_token was issued on the WeCom wire; DingTalk calls need a token of GET /gettoken?appkey=&appsecret=');
  const other = await getToken(emu.baseUrl, emu.credentials.dingtalk2.appkey, emu.credentials.dingtalk2.appsecret);
  const { media_id: mediaId } = await upload(emu.baseUrl, token, 'image', sample('png'), 'a.png');
  const foreign = await fetch(`${emu.baseUrl}/media/downloadFile?access_token=${other}&media_id=${encodeURIComponent(mediaId!)}`);
  assert.equal((await foreign.json() as { errcode: number }).errcode, 40007);
  assert.match(foreign.headers.get('x-oapi-hint')!, /belongs to organization emulator; the token is of organization emulator2/);
});

test('a hint never changes the answer, is ASCII on the wire (a Chinese file name escaped) and is in the journal as written', async () => {
  emu.requests.clear();
  const answer = await uploadForm(`access_token=${token}&type=image`, [{ name: 'media', data: sample('pdf'), filename: '照片.png' }]);
  assert.equal(answer.errcode, 40005);
  assert.equal(answer.hint, 'the bytes are not a png file, as the name "\\u7167\\u7247.png" says: the content and the extension must agree');
  assert.equal(emu.requests.last()!.answer.hint, 'the bytes are not a png file, as the name "照片.png" says: the content and the extension must agree');
  // A success carries none.
  const ok = await fetch(`${emu.baseUrl}/gettoken?appkey=dingoapiemulator&appsecret=oapi-media-emulator-secret`);
  assert.equal(ok.headers.get('x-oapi-hint'), null);
  // A raw request works too (node:http, no fetch): the hint is a plain header.
  const hint = await new Promise<string | undefined>((resolve, reject) => {
    httpRequest(`${emu.baseUrl}/media/upload?access_token=${token}&type=image`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      response.resume();
      resolve(response.headers['x-oapi-hint'] as string | undefined);
    }).on('error', reject).end('{}');
  });
  assert.match(hint!, /^the body is JSON/);
});
