// The operator CLI, run as real processes beside a running server on the same data folder.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { sample } from './fixtures/samples.ts';
import { cli, defaultAppCredentials, serve, type ServeProcess } from './helpers/cli.ts';

let dataDir: string;
let server: ServeProcess;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-cli-'));
  server = await serve(['--data', dataDir]);
});
after(async () => {
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const token = async (appkey: string, appsecret: string) =>
  (await (await fetch(`${server.url}/gettoken?appkey=${appkey}&appsecret=${appsecret}`)).json()).access_token as string;

test('a first start on a pipe names the default app and how to get its secret; app rotate-secret gives one that works', async () => {
  assert.equal(server.firstStart, true);
  const appkey = /\(appkey (ding[0-9a-f]{20})\)/.exec(server.banner)![1]!;
  assert.match(server.banner, /^First start: created organization "default" with app "default" \(appkey ding[0-9a-f]{20}\); its appsecret is shown only on a terminal \(stderr is not one\): get one with: npx oapi-media app rotate-secret --org default --app default --data \S+$/m);
  const { appKey, appSecret } = await defaultAppCredentials(dataDir);
  assert.equal(appKey, appkey);
  assert.match(await token(appKey, appSecret), /^[A-Za-z0-9_-]{43}$/);
});

test('org create, app create --json, and the new app gets a token from the running server', async () => {
  const org = await cli(['org', 'create', 'acme', '--data', dataDir]);
  assert.equal(org.code, 0, org.stderr);
  assert.match(org.stdout, /created organization acme \(corpid ding[0-9a-f]{32}\)/);
  const app = await cli(['app', 'create', '--org', 'acme', '--name', 'uploader', '--json', '--data', dataDir]);
  assert.equal(app.code, 0, app.stderr);
  const creds = JSON.parse(app.stdout);
  assert.deepEqual(Object.keys(creds), ['org', 'app', 'wire', 'appkey', 'appsecret']);
  assert.deepEqual([creds.org, creds.app], ['acme', 'uploader']);
  assert.match(await token(creds.appkey, creds.appsecret), /^[A-Za-z0-9_-]{43}$/);
});

test('org limits --max-chunked-bytes: shown in --json and org list; a chunked or tus upload above it -> 40006, at it -> 0; none returns to 4 GiB', async () => {
  const creds = JSON.parse((await cli(['app', 'create', '--org', 'acme', '--name', 'chunker', '--json', '--data', dataDir])).stdout);
  const tok = await token(creds.appkey, creds.appsecret);
  const cap = 300_000;
  const openTransaction = async (fileSize: number) => (await (await fetch(
    `${server.url}/file/upload/transaction?${new URLSearchParams({ access_token: tok, agent_id: '1', file_size: String(fileSize), chunk_numbers: '1' })}`,
  )).json()).errcode as number;
  const tusCreate = (length: number) => fetch(`${server.url}/tus/files`, {
    method: 'POST', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${tok}`, 'upload-length': String(length) },
  });

  const set = await cli(['org', 'limits', 'acme', '--max-chunked-bytes', String(cap), '--json', '--data', dataDir]);
  assert.equal(set.code, 0, set.stderr);
  assert.equal(JSON.parse(set.stdout).maxChunkedBytes, cap);
  const listed = JSON.parse((await cli(['org', 'list', '--json', '--data', dataDir])).stdout) as { org: string; maxChunkedBytes: number }[];
  assert.deepEqual(listed.map((o) => [o.org, o.maxChunkedBytes]), [['default', 4 * 1024 ** 3], ['acme', cap]], 'the default org keeps the default cap');
  const shown = await cli(['org', 'limits', 'acme', '--data', dataDir]);
  assert.match(shown.stdout, /^acme\tquota none\trate default\tchunked file 300000 bytes\n$/);

  assert.equal(await openTransaction(cap + 1), 40006, 'one byte over the cap');
  assert.equal(await openTransaction(cap), 0, 'exactly at the cap');
  const refused = await tusCreate(cap + 1);
  assert.equal(refused.status, 413);
  assert.equal((await refused.json()).errcode, 40006);
  assert.equal((await tusCreate(cap)).status, 201);

  const bad = await cli(['org', 'limits', 'acme', '--max-chunked-bytes', '1.5', '--data', dataDir]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid max-chunked-bytes "1\.5": a whole number >= 1, or none/);

  const reset = await cli(['org', 'limits', 'acme', '--max-chunked-bytes', 'none', '--json', '--data', dataDir]);
  assert.equal(reset.code, 0, reset.stderr);
  assert.equal(JSON.parse(reset.stdout).maxChunkedBytes, 4 * 1024 ** 3);
  assert.equal(await openTransaction(cap + 1), 0, 'back to the default cap');
  assert.equal((await tusCreate(4 * 1024 ** 3 + 1)).status, 413, 'the default cap holds');
});

test('errors are clear and exit non-zero: duplicate org, app in a missing org', async () => {
  const again = await cli(['org', 'create', 'acme', '--data', dataDir]);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /organization acme already exists/);
  const missing = await cli(['app', 'create', '--org', 'nowhere', '--name', 'x', '--data', dataDir]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no organization named nowhere/);
  assert.doesNotMatch(missing.stderr, /at .*\.ts:\d+/, 'no stack trace for an operator mistake');
});

test('media list --json shows what was uploaded; media delete removes it (row and bytes)', async () => {
  const creds = JSON.parse((await cli(['app', 'create', '--org', 'acme', '--name', 'lister', '--json', '--data', dataDir])).stdout);
  const tok = await token(creds.appkey, creds.appsecret);
  const form = new FormData();
  form.append('media', new Blob([new Uint8Array(sample('pdf'))]), 'doc.pdf');
  const up = await (await fetch(`${server.url}/media/upload?access_token=${tok}&type=file`, { method: 'POST', body: form })).json();
  assert.equal(up.errcode, 0);

  const listed = JSON.parse((await cli(['media', 'list', '--org', 'acme', '--json', '--data', dataDir])).stdout);
  assert.equal(listed.length, 1);
  assert.deepEqual([listed[0].media_id, listed[0].type, listed[0].format, listed[0].file_name], [up.media_id, 'file', 'pdf', 'doc.pdf']);
  assert.deepEqual([listed[0].wire, listed[0].expires_at], ['dingtalk', null], 'a DingTalk media is permanent');
  const defaultList = JSON.parse((await cli(['media', 'list', '--org', 'default', '--json', '--data', dataDir])).stdout);
  assert.equal(defaultList.length, 0, 'another org lists nothing of acme');

  const deleted = await cli(['media', 'delete', up.media_id, '--data', dataDir]);
  assert.equal(deleted.code, 0, deleted.stderr);
  const dl = await (await fetch(`${server.url}/media/downloadFile?access_token=${tok}&media_id=${up.media_id}`)).json();
  assert.equal(dl.errcode, 40007);
  assert.equal(JSON.parse((await cli(['media', 'list', '--org', 'acme', '--json', '--data', dataDir])).stdout).length, 0);
  const again = await cli(['media', 'delete', up.media_id, '--data', dataDir]);
  assert.notEqual(again.code, 0);
});

test('a second server on the same data folder is refused while the first runs', async () => {
  const second = await cli(['serve', '--port', '0', '--data', dataDir]);
  assert.notEqual(second.code, 0);
  assert.match(second.stderr, /data folder .* is in use by another oapi-media server \(pid \d+\)/);
});

test('a restart on the same data folder does not create credentials again', async () => {
  await server.stop();
  server = await serve(['--data', dataDir]);
  assert.equal(server.firstStart, false);
  assert.doesNotMatch(server.banner, /appsecret:/);
  assert.match(server.banner, /^Get an access_token: curl 'http:\/\/127\.0\.0\.1:\d+\/gettoken\?appkey=APPKEY&appsecret=APPSECRET' {2}\(replace both; /m);
});

test('serve refuses a bad port with a clear message', async () => {
  const bad = await cli(['serve', '--port', '99999', '--data', dataDir]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid port: 99999/);
});


test('the CLI obeys the server\'s config rules: DATABASE_URL without the shared key is refused, and nothing is written', async () => {
  const fresh = await mkdtemp(join(tmpdir(), 'oapi-media-cli-rules-'));
  try {
    // Nothing listens there: the rule must refuse before any connection is tried.
    const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none', OAPI_MEDIA_SECRET_KEY: '' };
    for (const args of [['suite', 'create', '--name', 'isv'], ['org', 'create', 'acme'], ['serve', '--port', '0']]) {
      const refused = await cli([...args, '--data', fresh], env);
      assert.equal(refused.code, 2, `a configuration mistake exits 2: ${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, /^oapi-media: DATABASE_URL is set but OAPI_MEDIA_SECRET_KEY is not/, args.join(' '));
    }
    assert.deepEqual(await readdir(fresh), [], 'no secret.key (a key of its own would seal secrets no node can open), no folders');
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
});

test('a database-only command creates no blob or staging folder', async () => {
  const fresh = await mkdtemp(join(tmpdir(), 'oapi-media-cli-layout-'));
  try {
    const created = await cli(['org', 'create', 'acme', '--data', fresh]);
    assert.equal(created.code, 0, created.stderr);
    const entries = (await readdir(fresh)).filter((name) => !/^meta\.sqlite(-wal|-shm)?$/.test(name)).sort();
    assert.deepEqual(entries, ['secret.key']);
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
});

test('a first start on a busy port says so in one line and creates nothing; the next start shows the credentials', async () => {
  const fresh = await mkdtemp(join(tmpdir(), 'oapi-media-cli-busy-'));
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as { port: number }).port;
  try {
    const busy = await cli(['serve', '--port', String(port), '--data', fresh]);
    assert.equal(busy.code, 1);
    assert.equal(busy.stderr, `oapi-media: port ${port} is in use (127.0.0.1:${port}): pass --port or PORT\n`);
    const orgs = JSON.parse((await cli(['org', 'list', '--json', '--data', fresh])).stdout) as unknown[];
    assert.deepEqual(orgs, [], 'no default organization or app was created by the start that could not listen');
    const next = await serve(['--data', fresh]);
    try {
      assert.equal(next.firstStart, true, next.banner);
      assert.match(next.banner, /^First start: created organization "default" with app "default" \(appkey ding[0-9a-f]{20}\)/m);
    } finally {
      await next.stop();
    }
  } finally {
    squatter.close();
    await rm(fresh, { recursive: true, force: true });
  }
});

test('--version prints the package version; a usage mistake exits 2; help exits 0', async () => {
  const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const printed = await cli(['--version']);
  assert.deepEqual([printed.code, printed.stdout], [0, `${version}\n`]);
  const unknown = await cli(['org', 'list', '--no-such-flag']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option '--no-such-flag'/);
  assert.equal((await cli(['org', 'create'])).code, 2, 'a missing argument is a usage mistake');
  assert.equal((await cli(['--help'])).code, 0);
});

test('an operator command on a data folder that does not exist refuses, and creates nothing', async () => {
  const typo = join(dataDir, '..', `no-such-folder-${process.pid}`);
  for (const args of [['org', 'list'], ['app', 'create', '--org', 'default', '--name', 'x'], ['media', 'list', '--org', 'default']]) {
    const refused = await cli([...args, '--data', typo]);
    assert.equal(refused.code, 1, args.join(' '));
    assert.match(refused.stderr, /^oapi-media: no data folder at .*no-such-folder-\d+: pass the server's --data/, args.join(' '));
  }
  await assert.rejects(stat(typo), { code: 'ENOENT' });
});
