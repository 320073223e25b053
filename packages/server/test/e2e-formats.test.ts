// End to end against a real listening server: every format of api.md round-trips byte for byte,
// spoofed or mismatched content is refused with 40005 (nothing stored), and the request shapes
// real clients send (fields after the file, query and form both, no filename, chunked) work.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP, the operator CLI and the data folder).

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { FORMAT_CONTENT_TYPES, DINGTALK_MEDIA_LIMITS, MEDIA_TYPES, type MediaFormat, type MediaType } from '@oapi-media/core';
import { sample, spoofs } from './fixtures/samples.ts';
import { assertNothingStored, mediaIds, storedState, stagingFiles } from './helpers/data-folder.ts';
import { downloadBytes, jsonAnswerOf, sha256, tokenOf, upload, uploadParts, type UploadAnswer } from './helpers/e2e-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const MEDIA_ID = /^@[A-Za-z0-9_-]+$/;

let server: TestServer;
let token: string;

before(async () => {
  server = await startTestServer();
  token = await tokenOf(server);
});
after(async () => {
  await server.close();
});

/** Uploads `data`, checks the success answer of api.md, downloads it and checks bytes and Content-Type. */
async function assertRoundTrip(answer: UploadAnswer, type: MediaType, format: MediaFormat, data: Buffer): Promise<void> {
  assert.equal(answer.errcode, 0, `upload answered ${JSON.stringify(answer)}`);
  assert.equal(answer.errmsg, 'ok');
  assert.equal(answer.type, type);
  assert.match(answer.media_id ?? '', MEDIA_ID);
  assert.ok(Number.isSafeInteger(answer.created_at), 'created_at is an integer');
  assert.ok(Math.abs(answer.created_at! - Date.now()) < 60_000, `created_at ${answer.created_at} is epoch ms near now`);
  const { response, bytes } = await downloadBytes(server.baseUrl, token, answer.media_id!);
  assert.equal(response.headers.get('content-type'), FORMAT_CONTENT_TYPES[format]);
  assert.equal(bytes.length, data.length);
  assert.equal(sha256(bytes), sha256(data));
  assert.deepEqual(await stagingFiles(server.dataDir), [], 'staging folder empty after a stored upload');
}

describe('every format of api.md round-trips (download sha256 == upload sha256)', () => {
  for (const type of MEDIA_TYPES) {
    for (const format of DINGTALK_MEDIA_LIMITS[type].formats) {
      test(`a ${format} named report.${format} uploaded as ${type} -> errcode 0, downloads byte-equal as ${FORMAT_CONTENT_TYPES[format]}`, async () => {
        const data = sample(format);
        await assertRoundTrip(await upload(server.baseUrl, token, type, data, `report.${format}`), type, format, data);
      });
    }
  }

  test('a jpg named photo.jpeg uploaded as image -> errcode 0, image/jpeg', async () => {
    const data = sample('jpg');
    await assertRoundTrip(await upload(server.baseUrl, token, 'image', data, 'photo.jpeg'), 'image', 'jpg', data);
  });

  test('a png named X.PNG (upper-case extension) uploaded as image -> errcode 0', async () => {
    const data = sample('png');
    await assertRoundTrip(await upload(server.baseUrl, token, 'image', data, 'X.PNG'), 'image', 'png', data);
  });

  test('the same bytes uploaded twice -> two different media_ids, both downloadable', async () => {
    const data = sample('gif');
    const first = await upload(server.baseUrl, token, 'image', data, 'a.gif');
    const second = await upload(server.baseUrl, token, 'image', data, 'a.gif');
    await assertRoundTrip(first, 'image', 'gif', data);
    await assertRoundTrip(second, 'image', 'gif', data);
    assert.notEqual(first.media_id, second.media_id);
  });
});

describe('content that does not match type or extension -> 40005, nothing stored', () => {
  const mismatches: Array<{ title: string; type: MediaType; data: () => Buffer; filename: string }> = [
    { title: 'a real PNG uploaded as voice', type: 'voice', data: () => sample('png'), filename: 'x.png' },
    { title: 'a real mp3 uploaded as image', type: 'image', data: () => sample('mp3'), filename: 'x.mp3' },
    { title: 'a real docx named .doc', type: 'file', data: () => sample('docx'), filename: 'x.doc' },
    { title: 'a plain zip named .docx', type: 'file', data: () => sample('zip'), filename: 'x.docx' },
    { title: 'HTML named x.png as image', type: 'image', data: () => spoofs.html, filename: 'x.png' },
    { title: 'an exe named x.pdf as file', type: 'file', data: () => spoofs.exe, filename: 'x.pdf' },
    { title: 'plain text named x.pdf as file', type: 'file', data: () => spoofs.text, filename: 'x.pdf' },
    { title: 'a real PNG named x.gif as image', type: 'image', data: () => sample('png'), filename: 'x.gif' },
    { title: 'a real PNG named x.exe as image', type: 'image', data: () => sample('png'), filename: 'x.exe' },
  ];
  for (const { title, type, data, filename } of mismatches) {
    test(`${title} -> 40005, no blob, no row, tmp empty`, async () => {
      const before = await storedState(server);
      const answer = await upload(server.baseUrl, token, type, data(), filename);
      assert.equal(answer.errcode, 40005, JSON.stringify(answer));
      assert.equal(answer.media_id, undefined);
      await assertNothingStored(server, before);
    });
  }
});

test('an empty media part (0 bytes) named x.png as image -> 44001, nothing stored', async () => {
  const before = await storedState(server);
  const answer = await upload(server.baseUrl, token, 'image', Buffer.alloc(0), 'x.png');
  assert.equal(answer.errcode, 44001, JSON.stringify(answer));
  await assertNothingStored(server, before);
});

describe('request shapes of real clients', () => {
  test('access_token and type sent as form fields AFTER the media part -> errcode 0, round-trips', async () => {
    const data = sample('png');
    const answer = await uploadParts(server.baseUrl, {}, [
      { name: 'media', data, filename: 'after.png', contentType: 'image/png' },
      { name: 'access_token', value: token },
      { name: 'type', value: 'image' },
    ]);
    await assertRoundTrip(answer, 'image', 'png', data);
  });

  test('access_token and type sent as form fields BEFORE the media part (the seed\'s curl) -> errcode 0', async () => {
    const data = sample('amr');
    const answer = await uploadParts(server.baseUrl, {}, [
      { name: 'access_token', value: token },
      { name: 'type', value: 'voice' },
      { name: 'media', data, filename: 'hello.amr' },
    ]);
    await assertRoundTrip(answer, 'voice', 'amr', data);
  });

  test('type in the query wins over a different type in the form: query image + form voice + PNG -> stored as image', async () => {
    const data = sample('png');
    const answer = await uploadParts(server.baseUrl, { access_token: token, type: 'image' }, [
      { name: 'type', value: 'voice' },
      { name: 'media', data, filename: 'q.png' },
    ]);
    await assertRoundTrip(answer, 'image', 'png', data);
  });

  test('type in the query wins over a form type placed after the file: query voice + form image + PNG -> 40005', async () => {
    const before = await storedState(server);
    const answer = await uploadParts(server.baseUrl, { access_token: token, type: 'voice' }, [
      { name: 'media', data: sample('png'), filename: 'q.png' },
      { name: 'type', value: 'image' },
    ]);
    assert.equal(answer.errcode, 40005, JSON.stringify(answer));
    await assertNothingStored(server, before);
  });

  test('access_token in the query wins over a bad one in the form -> errcode 0', async () => {
    const data = sample('bmp');
    const answer = await uploadParts(server.baseUrl, { access_token: token, type: 'image' }, [
      { name: 'access_token', value: 'not-a-token' },
      { name: 'media', data, filename: 'b.bmp' },
    ]);
    await assertRoundTrip(answer, 'image', 'bmp', data);
  });

  test('a bad access_token in the query is not rescued by a good one in the form -> 40014, nothing stored', async () => {
    const before = await storedState(server);
    const answer = await uploadParts(server.baseUrl, { access_token: 'not-a-token', type: 'image' }, [
      { name: 'access_token', value: token },
      { name: 'media', data: sample('png'), filename: 'b.png' },
    ]);
    assert.equal(answer.errcode, 40014, JSON.stringify(answer));
    await assertNothingStored(server, before);
  });

  test('a media part without a filename (octet-stream) -> judged by its bytes, errcode 0, round-trips', async () => {
    const data = sample('png');
    const answer = await uploadParts(server.baseUrl, { access_token: token, type: 'image' }, [
      { name: 'media', data, contentType: 'application/octet-stream' },
    ]);
    await assertRoundTrip(answer, 'image', 'png', data);
  });

  test('a media part with neither filename nor Content-Type (a plain form field) -> judged by its bytes, round-trips', async () => {
    const data = sample('wav');
    await assertRoundTrip(await uploadRawTextPart(data), 'voice', 'wav', data);
  });

  test('chunked upload (Transfer-Encoding: chunked, no Content-Length) of a pdf -> errcode 0, round-trips', async () => {
    const data = sample('pdf');
    const answer = await chunkedUpload({ access_token: token, type: 'file' }, data, 'chunked.pdf');
    await assertRoundTrip(answer, 'file', 'pdf', data);
  });

  test('chunked upload of HTML named x.png -> 40005, nothing stored', async () => {
    const before = await storedState(server);
    const answer = await chunkedUpload({ access_token: token, type: 'image' }, spoofs.html, 'x.png');
    assert.equal(answer.errcode, 40005, JSON.stringify(answer));
    await assertNothingStored(server, before);
  });
});

test('every stored upload of this file is listed as a row of org default', async () => {
  const ids = await mediaIds(server);
  assert.ok(ids.length >= 17, `at least the 17 formats are stored, found ${ids.length}`);
  for (const id of ids) assert.match(id, MEDIA_ID);
});

/** A `media` part with no filename and no Content-Type whose body is `data` byte for byte. */
async function uploadRawTextPart(data: Buffer): Promise<UploadAnswer> {
  const boundary = 'oapi-media-text-part-boundary';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="media"\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const response = await fetch(`${server.baseUrl}/media/upload?${new URLSearchParams({ access_token: token, type: 'voice' })}`, {
    method: 'POST',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: new Uint8Array(body),
  });
  return (await response.json()) as UploadAnswer;
}

/** POST with Transfer-Encoding: chunked through node:http (no Content-Length), written in small pieces. */
function chunkedUpload(query: Record<string, string>, data: Buffer, filename: string): Promise<UploadAnswer> {
  const boundary = 'oapi-media-chunked-boundary';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const url = new URL(`${server.baseUrl}/media/upload?${new URLSearchParams(query)}`);
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
    }, (response) => jsonAnswerOf(response).then(resolve, reject));
    request.on('error', reject);
    request.write(head);
    for (let at = 0; at < data.length; at += 100) request.write(data.subarray(at, at + 100));
    request.end(tail);
  });
}
