// The README's WeCom section promises a copy-paste curl for each call: these run exactly as printed
// there (through sh, with the real curl binary), only the placeholders replaced by what the calls
// before them answered (CORPID, CORPSECRET, ACCESS_TOKEN, MEDIA_ID, the image URL) and the host by
// the test server's.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP, through curl, and the README).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { sample, sampleOfSize } from './fixtures/samples.ts';
import { sha256 } from './helpers/e2e-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const run = promisify(execFile);
const hasCurl = await run('curl', ['--version']).then(() => true, () => false);
if (!hasCurl && process.env.CI === 'true') throw new Error('curl is required in CI for wecom-readme-curl.test.ts');

/** The curl lines of the README's WeCom section, in order. */
async function readmeCurls(): Promise<string[]> {
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('\n## WeCom (`/cgi-bin`)\n');
  assert.ok(start >= 0, 'the README has a WeCom section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) => block[1]!.split('\n')).filter((line) => line.startsWith('curl '));
}

let server: TestServer;
let workDir: string;

before(async () => {
  server = await startTestServer();
  workDir = await mkdtemp(join(tmpdir(), 'oapi-wecom-curl-'));
});
after(async () => {
  await server?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

test('every WeCom curl of the README runs as printed and answers as the README says', { skip: hasCurl ? false : 'curl is not installed' }, async () => {
  const curls = await readmeCurls();
  assert.deepEqual(curls.map((line) => /\/cgi-bin\/[a-z/]+/.exec(line)?.[0]), [
    '/cgi-bin/gettoken', '/cgi-bin/media/upload', '/cgi-bin/media/get', '/cgi-bin/media/get', '/cgi-bin/media/uploadimg', '/cgi-bin/media/img/',
  ]);
  const photo = sampleOfSize('png', 70_000);
  const logo = sample('png');
  await writeFile(join(workDir, 'photo.png'), photo);
  await writeFile(join(workDir, 'logo.png'), logo);
  const wecom = await server.createApp('default', 'wecom');
  const values: Record<string, string> = { CORPID: wecom.appKey, CORPSECRET: wecom.appSecret };
  const sh = async (line: string): Promise<string> => {
    let command = line.replaceAll('http://127.0.0.1:8080', server.baseUrl);
    for (const [name, value] of Object.entries(values)) command = command.replaceAll(name, value);
    command = command.replace(/\/cgi-bin\/media\/img\/Qm7\.\.\./, `/cgi-bin/media/img/${values.IMAGE_KEY}`);
    return (await run('sh', ['-c', command], { cwd: workDir })).stdout;
  };
  const [gettoken, upload, download, ranged, uploadimg, image] = curls as [string, string, string, string, string, string];

  const token = JSON.parse(await sh(gettoken)) as { errcode: number; access_token: string };
  assert.equal(token.errcode, 0);
  values.ACCESS_TOKEN = token.access_token;
  const uploaded = JSON.parse(await sh(upload)) as { errcode: number; type: string; media_id: string; created_at: string };
  assert.deepEqual([uploaded.errcode, uploaded.type, typeof uploaded.created_at], [0, 'image', 'string']);
  values.MEDIA_ID = uploaded.media_id;
  await rm(join(workDir, 'photo.png')); // curl -J does not overwrite a file
  await sh(download);
  assert.equal(sha256(new Uint8Array(await readFile(join(workDir, 'photo.png')))), sha256(photo), '-OJ saved the file under its uploaded name');
  await sh(ranged);
  assert.deepEqual(await readFile(join(workDir, 'head.bin')), photo.subarray(0, 1024));
  const published = JSON.parse(await sh(uploadimg)) as { errcode: number; url: string };
  assert.equal(published.errcode, 0);
  values.IMAGE_KEY = published.url.split('/').pop()!;
  await rm(join(workDir, 'logo.png'));
  await sh(image);
  assert.equal(sha256(new Uint8Array(await readFile(join(workDir, 'logo.png')))), sha256(logo));
});
