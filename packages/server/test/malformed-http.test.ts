// HTTP that never became a request (Node's parser refused it) is answered like every other error:
// DingTalk's JSON shape, errcode = the HTTP status, a request id in the body and in x-request-id,
// then the connection closes (issue 15 item 7; before, fastify's own {"error":...} without an id).
// And a part header past busboy's limit sent in small pieces is still told apart (45013).
// TEST_SERVER=bundle: runs through the bundle too (only HTTP).

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { DINGTALK_ERRORS } from '@oapi-media/core';
import { sample } from './fixtures/samples.ts';
import { assertNothingStored, storedState } from './helpers/data-folder.ts';
import { multipartBody, tokenOf } from './helpers/e2e-http.ts';
import { openSocket, readResponse } from './helpers/raw-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

let server: TestServer;

before(async () => {
  server = await startTestServer();
});
after(async () => server?.close());

/** Resolves once the server has closed `socket`. */
const closed = (socket: Socket): Promise<void> => new Promise((resolve) => {
  if (socket.destroyed) resolve();
  socket.once('close', () => resolve());
});

/** Sends `bytes` on a fresh connection; the one answer, checked to be `kind` in DingTalk's shape, and the close. */
async function assertMalformed(bytes: string | Buffer, kind: keyof typeof DINGTALK_ERRORS, status: number): Promise<void> {
  const socket = await openSocket(server.baseUrl);
  socket.on('error', () => {});
  const response = readResponse(socket);
  socket.write(bytes);
  const { status: answered, headers, body } = await response;
  const { errcode, zh } = DINGTALK_ERRORS[kind];
  const requestId = headers['x-request-id'];
  assert.equal(answered, status);
  assert.match(requestId ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(headers.connection, 'close');
  assert.equal(body.toString('utf8'), JSON.stringify({ errcode, errmsg: zh, request_id: requestId }));
  await closed(socket);
}

test('a request line that is not HTTP -> 400 {"errcode":400,"errmsg":"请求格式错误","request_id"}', async () => {
  await assertMalformed('NOT HTTP AT ALL\r\n\r\n', 'malformedHttpRequest', 400);
  await assertMalformed('GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'malformedHttpRequest', 400);
});

test('headers past 16 KiB -> 431 in DingTalk\'s shape', async () => {
  await assertMalformed(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 'requestHeadersTooLarge', 431);
});

test('chunk extensions past Node\'s limit -> 413 in DingTalk\'s shape', async () => {
  const head = 'POST /media/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n\r\n';
  await assertMalformed(`${head}1;${'e'.repeat(20_000)}\r\nx\r\n`, 'requestTooLarge', 413);
});

test('the server goes on serving after each refusal', async () => {
  assert.equal((await fetch(`${server.baseUrl}/healthz`)).status, 200);
});

test('a 30 KB part header sent in 512-byte pieces -> 45013, nothing stored', async () => {
  const before = await storedState(server);
  const token = await tokenOf(server);
  const { contentType, body } = multipartBody([{ name: 'media', data: sample('png'), filename: `${'n'.repeat(30_000)}.png`, contentType: 'image/png' }]);
  const socket = await openSocket(server.baseUrl);
  const response = readResponse(socket);
  socket.write(`POST /media/upload?access_token=${token}&type=image HTTP/1.1\r\nHost: x\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`);
  for (let at = 0; at < body.length && !socket.destroyed; at += 512) {
    socket.write(body.subarray(at, at + 512));
    await new Promise((resolve) => setTimeout(resolve, 1)); // separate TCP segments, separate chunks
  }
  const { status, headers, body: answer } = await response;
  socket.destroy();
  assert.equal(status, 200);
  const { errcode, zh } = DINGTALK_ERRORS.partHeaderTooLarge;
  assert.equal(answer.toString('utf8'), JSON.stringify({ errcode, errmsg: zh, request_id: headers['x-request-id'] }));
  await assertNothingStored(server, before);
});
