// DingTalk's own curl example (seed/000_b83e897a24139eb5.txt, "Request example"), run with the real
// curl binary against a real listening server: what a user copies from DingTalk's page must work.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP, through curl).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { sample } from './fixtures/samples.ts';
import { downloadUrl, sha256, type UploadAnswer } from './helpers/e2e-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const run = promisify(execFile);

async function curlAvailable(): Promise<boolean> {
  try {
    await run('curl', ['--version']);
    return true;
  } catch {
    return false;
  }
}

// Missing curl skips the file on a developer machine, but fails in CI where it must be present.
const hasCurl = await curlAvailable();
if (!hasCurl && process.env.CI === 'true') throw new Error('curl is required in CI for e2e-curl.test.ts');
const skip = hasCurl ? false : 'curl is not installed';

let server: TestServer;
let workDir: string;
let pngPath: string;
const png = sample('png');

/** Runs curl with `args`; -sS: no progress meter, but errors on stderr; fails on a transport error. */
async function curl(...args: string[]): Promise<string> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '30', ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

async function curlToken(): Promise<string> {
  const answer = JSON.parse(await curl(`${server.baseUrl}/gettoken?appkey=${server.appKey}&appsecret=${server.appSecret}`)) as { errcode: number; access_token: string };
  assert.equal(answer.errcode, 0);
  return answer.access_token;
}

/** curl -v: the request headers it sent come on stderr as lines starting with "> ". */
async function curlVerbose(...args: string[]): Promise<{ stdout: string; sentHeaders: string[] }> {
  const { stdout, stderr } = await run('curl', ['-sS', '-v', '--max-time', '30', ...args], { maxBuffer: 64 * 1024 * 1024 });
  const sentHeaders = stderr.split(/\r?\n/).filter((line) => line.startsWith('> ')).map((line) => line.slice(2).toLowerCase());
  return { stdout, sentHeaders };
}

/** Downloads with curl into a file and returns its bytes. */
async function curlDownload(token: string, mediaId: string): Promise<Buffer> {
  const out = join(workDir, `download-${Math.random().toString(36).slice(2)}`);
  await curl('-o', out, downloadUrl(server.baseUrl, token, mediaId));
  return readFile(out);
}

before(async () => {
  if (skip) return;
  server = await startTestServer();
  workDir = await mkdtemp(join(tmpdir(), 'oapi-media-curl-'));
  pngPath = join(workDir, '222.png');
  await writeFile(pngPath, png);
});
after(async () => {
  if (skip) return;
  await server.close();
  await rm(workDir, { recursive: true, force: true });
});

test('curl /gettoken?appkey=&appsecret= -> errcode 0, errmsg ok, an access_token and expires_in 7200', { skip }, async () => {
  const answer = JSON.parse(await curl(`${server.baseUrl}/gettoken?appkey=${server.appKey}&appsecret=${server.appSecret}`));
  assert.equal(answer.errcode, 0);
  assert.equal(answer.errmsg, 'ok');
  assert.equal(answer.expires_in, 7200);
  assert.match(answer.access_token, /^[A-Za-z0-9_-]+$/);
});

test('DingTalk\'s curl example verbatim (-H Content-Type:multipart/form-data;charset=utf-8, -F access_token, -F type=image, -F media=@"…/222.png") -> errcode 0, download byte-equal', { skip }, async () => {
  const token = await curlToken();
  const answer = JSON.parse(await curl(
    '-X', 'POST', `${server.baseUrl}/media/upload`,
    '-H', 'Content-Type:multipart/form-data;charset=utf-8',
    '-F', `access_token=${token}`,
    '-F', 'type=image',
    '-F', `media=@"${pngPath}"`,
  )) as UploadAnswer;
  assert.equal(answer.errcode, 0, JSON.stringify(answer));
  assert.equal(answer.errmsg, 'ok');
  assert.equal(answer.type, 'image');
  assert.match(answer.media_id!, /^@[A-Za-z0-9_-]+$/);
  assert.equal(sha256(await curlDownload(token, answer.media_id!)), sha256(png));
});

test('the same curl with -H \'Transfer-Encoding: chunked\' -> errcode 0, download byte-equal', { skip }, async () => {
  const token = await curlToken();
  const { stdout, sentHeaders } = await curlVerbose(
    '-X', 'POST', `${server.baseUrl}/media/upload`,
    '-H', 'Content-Type:multipart/form-data;charset=utf-8',
    '-H', 'Transfer-Encoding: chunked',
    '-F', `access_token=${token}`,
    '-F', 'type=image',
    '-F', `media=@"${pngPath}"`,
  );
  assert.ok(sentHeaders.includes('transfer-encoding: chunked'), `curl sent the body chunked: ${sentHeaders.join(' | ')}`);
  assert.ok(!sentHeaders.some((h) => h.startsWith('content-length:')), 'and without a Content-Length');
  const answer = JSON.parse(stdout) as UploadAnswer;
  assert.equal(answer.errcode, 0, JSON.stringify(answer));
  assert.equal(sha256(await curlDownload(token, answer.media_id!)), sha256(png));
});

test('curl with access_token and type in the query (how most SDKs send them) -> errcode 0, download byte-equal', { skip }, async () => {
  const token = await curlToken();
  const answer = JSON.parse(await curl('-F', `media=@${pngPath}`, `${server.baseUrl}/media/upload?access_token=${token}&type=image`)) as UploadAnswer;
  assert.equal(answer.errcode, 0, JSON.stringify(answer));
  assert.equal(sha256(await curlDownload(token, answer.media_id!)), sha256(png));
});

test('DingTalk\'s curl example with an HTML file named 222.png -> 40005', { skip }, async () => {
  const token = await curlToken();
  const htmlPath = join(workDir, 'spoof', '222.png');
  await rm(join(workDir, 'spoof'), { recursive: true, force: true });
  await mkdir(join(workDir, 'spoof'));
  await writeFile(htmlPath, '<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n');
  const answer = JSON.parse(await curl(
    '-X', 'POST', `${server.baseUrl}/media/upload`,
    '-H', 'Content-Type:multipart/form-data;charset=utf-8',
    '-F', `access_token=${token}`,
    '-F', 'type=image',
    '-F', `media=@"${htmlPath}"`,
  )) as UploadAnswer;
  assert.equal(answer.errcode, 40005, JSON.stringify(answer));
});
