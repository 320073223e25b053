// The official Feishu SDK, @larksuiteoapi/node-sdk, unchanged against oapi-media: only its `domain`
// option points at our base URL. It fetches and caches its own tenant_access_token
// (auth/v3/tenant_access_token/internal), uploads an image and a file and downloads both; the bytes
// come back sha256-equal.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP and the operator CLI).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import * as lark from '@larksuiteoapi/node-sdk';
import { sample } from './fixtures/samples.ts';
import { sha256 } from './helpers/e2e-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

let server: TestServer;
let client: lark.Client;
/** Every token request the SDK makes, seen on the wire. */
let tokenRequests = 0;

before(async () => {
  server = await startTestServer({ config: { dialects: 'dingtalk,feishu' } });
  const app = await server.createApp('default', 'feishu');
  client = new lark.Client({
    appId: app.appKey,
    appSecret: app.appSecret,
    appType: lark.AppType.SelfBuild,
    domain: server.baseUrl,
    loggerLevel: lark.LoggerLevel.fatal, // the refusal below is expected; its log line would be noise
  });
  // Counted by the SDK's own axios instance: what it sends, not what we think it sends.
  lark.defaultHttpInstance.interceptors.request.use((config) => {
    if (config.url?.endsWith('/open-apis/auth/v3/tenant_access_token/internal')) tokenRequests++;
    return config;
  });
});
after(async () => server?.close());

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

test('image: create then get through the SDK, sha256 equal; one token request for both', async () => {
  const png = sample('png');
  const created = await client.im.image.create({ data: { image_type: 'message', image: png } });
  assert.match(created?.image_key ?? '', /^img_v2_/);
  const got = await client.im.image.get({ path: { image_key: created!.image_key! } });
  assert.equal(sha256(await readAll(got.getReadableStream())), sha256(png));
  assert.equal(tokenRequests, 1, 'the SDK cached its tenant_access_token');
});

test('file: create (pdf, and stream of random bytes) then get through the SDK, sha256 equal', async () => {
  for (const [fileType, fileName, bytes] of [['pdf', 'report.pdf', sample('pdf')], ['stream', 'blob.bin', randomBytes(200_000)]] as const) {
    const created = await client.im.file.create({ data: { file_type: fileType, file_name: fileName, file: bytes } });
    assert.match(created?.file_key ?? '', /^file_v2_/);
    const got = await client.im.file.get({ path: { file_key: created!.file_key! } });
    assert.equal(sha256(await readAll(got.getReadableStream())), sha256(bytes), fileType);
  }
  assert.equal(tokenRequests, 1);
});

test('a refused upload reaches the SDK caller as Feishu\'s answer (HTTP 400, code 234011)', async () => {
  await assert.rejects(client.im.image.create({ data: { image_type: 'message', image: sample('pdf') } }), (error: unknown) => {
    const response = (error as { response?: { status: number; data: { code: number } } }).response;
    assert.equal(response?.status, 400);
    assert.equal(response?.data.code, 234011);
    return true;
  });
});
