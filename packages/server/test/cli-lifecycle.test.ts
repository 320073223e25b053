// App and organization lifecycle and token revocation through the operator CLI (real processes),
// beside a running server on the same data folder: app list, app rotate-secret, app delete,
// org delete, token revoke. A revoked token must answer exactly like one never issued.

import assert from 'node:assert/strict';
import { readdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sampleOfSize } from './fixtures/samples.ts';
import { cli, serve, type ServeProcess } from './helpers/cli.ts';

let dataDir: string;
let server: ServeProcess;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-lifecycle-'));
  server = await serve(['--data', dataDir]);
});
after(async () => {
  await server?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** `oapi-media ARGS --data DIR`, expecting success; its stdout parsed as JSON when `--json` is among ARGS. */
async function ok(...args: string[]): Promise<any> {
  const result = await cli([...args, '--data', dataDir]);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  assert.equal(result.stderr, '');
  return args.includes('--json') ? JSON.parse(result.stdout) : result.stdout;
}

/** `oapi-media ARGS --data DIR`, expecting exit 1 and exactly this one line on stderr. */
async function refused(line: string, ...args: string[]): Promise<void> {
  const result = await cli([...args, '--data', dataDir]);
  assert.deepEqual([result.code, result.stderr, result.stdout], [1, `oapi-media: ${line}\n`, ''], args.join(' '));
}

const getToken = async (appkey: string, appsecret: string) =>
  (await (await fetch(`${server.url}/gettoken?appkey=${appkey}&appsecret=${encodeURIComponent(appsecret)}`)).json()) as { errcode: number; access_token?: string };

/** The download answer to a token, without the request id: what a client sees of a token. */
async function answerTo(token: string, mediaId = '@nosuchmediaidnosuchmedia'): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}/media/downloadFile?access_token=${token}&media_id=${encodeURIComponent(mediaId)}`);
  if (response.headers.get('content-type')?.startsWith('application/json') !== true) return { status: response.status, body: 'bytes' };
  const { request_id: _requestId, ...body } = (await response.json()) as { request_id?: string };
  return { status: response.status, body };
}

/** A token this server never issued: what a revoked one must answer like. */
const NEVER_ISSUED = 'A'.repeat(43);

async function upload(token: string, bytes: Buffer, name: string): Promise<string> {
  const form = new FormData();
  form.append('media', new Blob([new Uint8Array(bytes)]), name);
  const answer = (await (await fetch(`${server.url}/media/upload?access_token=${token}&type=image`, { method: 'POST', body: form })).json()) as { errcode: number; media_id: string };
  assert.equal(answer.errcode, 0, JSON.stringify(answer));
  return answer.media_id;
}

test('app list --json: appkey, name and created time of each app, never a secret; unknown org -> one clear line', async () => {
  await ok('org', 'create', 'acme');
  const crm = await ok('app', 'create', '--org', 'acme', '--name', 'crm', '--json');
  const hr = await ok('app', 'create', '--org', 'acme', '--name', 'hr', '--json');
  const listed = await ok('app', 'list', '--org', 'acme', '--json');
  assert.deepEqual(listed.map((a: object) => Object.keys(a)), [['org', 'app', 'wire', 'appkey', 'created_at'], ['org', 'app', 'wire', 'appkey', 'created_at']]);
  assert.deepEqual(listed.map((a: { app: string; appkey: string }) => [a.app, a.appkey]), [['crm', crm.appkey], ['hr', hr.appkey]]);
  for (const app of listed) assert.ok(Math.abs(app.created_at - Date.now()) < 120_000, 'created_at is epoch ms');
  const text = await ok('app', 'list', '--org', 'acme');
  assert.match(text, new RegExp(`^${crm.appkey}\\tcrm\\tdingtalk\\t\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\n`));
  assert.doesNotMatch(text + JSON.stringify(listed), new RegExp(crm.appsecret.replace(/[-]/g, '\\-')));
  await refused('no organization named nosuch (create it with: oapi-media org create nosuch)', 'app', 'list', '--org', 'nosuch');
  await refused('organization acme already has an app named crm (see: oapi-media app list --org acme)', 'app', 'create', '--org', 'acme', '--name', 'crm');
});

test('app create --wire wecom: prints corpid (ww + 16 hex) and corpsecret (43 characters) once; they get a token on /cgi-bin only; an unknown wire is refused', async () => {
  await ok('org', 'create', 'wired');
  const text = await ok('app', 'create', '--org', 'wired', '--name', 'wx', '--wire', 'wecom');
  const match = /^corpid: {5}(ww[0-9a-f]{16})\ncorpsecret: ([A-Za-z0-9_-]{43})\n\(the corpsecret is not shown again\)\n$/.exec(text);
  assert.ok(match, text);
  const [, corpid, corpsecret] = match;
  const wecom = (await (await fetch(`${server.url}/cgi-bin/gettoken?corpid=${corpid}&corpsecret=${corpsecret}`)).json()) as { errcode: number; errmsg: string; access_token?: string };
  assert.deepEqual([wecom.errcode, wecom.errmsg], [0, 'ok']);
  assert.equal((await getToken(corpid!, corpsecret!)).errcode, 40096, 'WeCom credentials are not DingTalk ones');
  const json = await ok('app', 'create', '--org', 'wired', '--name', 'wx2', '--wire', 'wecom', '--json');
  assert.deepEqual(Object.keys(json), ['org', 'app', 'wire', 'appkey', 'appsecret']);
  assert.equal(json.wire, 'wecom');
  const listed = await ok('app', 'list', '--org', 'wired', '--json');
  assert.deepEqual(listed.map((a: { app: string; wire: string }) => [a.app, a.wire]), [['wx', 'wecom'], ['wx2', 'wecom']]);
  await refused('invalid wire "slack": one of dingtalk, wecom, feishu', 'app', 'create', '--org', 'wired', '--name', 'bad', '--wire', 'slack');
});

test('app rotate-secret: a new secret shown once; the old one stops working and its tokens are revoked at once (40014, as an unknown token)', async () => {
  const app = await ok('app', 'create', '--org', 'acme', '--name', 'rotating', '--json');
  const before = await getToken(app.appkey, app.appsecret);
  assert.equal(before.errcode, 0);
  assert.equal(((await answerTo(before.access_token!)).body as { errcode: number }).errcode, 40007, 'the token works before (unknown media)');

  const rotated = await ok('app', 'rotate-secret', '--org', 'acme', '--app', 'rotating', '--json');
  assert.deepEqual(Object.keys(rotated), ['org', 'app', 'wire', 'appkey', 'appsecret', 'revokedTokens']);
  assert.deepEqual([rotated.org, rotated.app, rotated.appkey, rotated.revokedTokens], ['acme', 'rotating', app.appkey, 1]);
  assert.notEqual(rotated.appsecret, app.appsecret);

  assert.equal((await getToken(app.appkey, app.appsecret)).errcode, 40096, 'the old secret gets no token');
  assert.deepEqual(await answerTo(before.access_token!), await answerTo(NEVER_ISSUED), 'a token of the old secret answers as an unknown one');
  assert.equal(((await answerTo(before.access_token!)).body as { errcode: number }).errcode, 40014);
  const fresh = await getToken(app.appkey, rotated.appsecret);
  assert.equal(fresh.errcode, 0);
  assert.notEqual(fresh.access_token, before.access_token);

  // By appkey too; the text says what happened to the tokens.
  const text = await ok('app', 'rotate-secret', '--org', 'acme', '--app', app.appkey);
  assert.match(text, new RegExp(`^appkey: {4}${app.appkey}\\nappsecret: [A-Za-z0-9_-]{43}\\n\\(the appsecret is not shown again; the old one no longer gets a token\\)\\n1 access_token\\(s\\) of it revoked: they answer 40014 from now on\\n$`));
  await refused('no app named nosuch in organization acme (list them with: oapi-media app list --org acme)', 'app', 'rotate-secret', '--org', 'acme', '--app', 'nosuch');
  await refused('no organization named nosuch (create it with: oapi-media org create nosuch)', 'app', 'rotate-secret', '--org', 'nosuch', '--app', 'x');
});

test('token revoke: every token of an app (--org --app), or one token by its value; revoked tokens answer like unknown ones', async () => {
  const app = await ok('app', 'create', '--org', 'acme', '--name', 'revoked', '--json');
  const first = (await getToken(app.appkey, app.appsecret)).access_token!;
  const byApp = await ok('token', 'revoke', '--org', 'acme', '--app', 'revoked', '--json');
  assert.deepEqual(byApp, { org: 'acme', app: 'revoked', appkey: app.appkey, revokedTokens: 1 });
  assert.deepEqual(await answerTo(first), await answerTo(NEVER_ISSUED));

  // The secret still works: a new token, which then goes alone, by its value.
  const second = (await getToken(app.appkey, app.appsecret)).access_token!;
  assert.notEqual(second, first);
  const one = await ok('token', 'revoke', '--token', second, '--json');
  assert.deepEqual(one, { org: 'acme', app: 'revoked', suite: null, revokedTokens: 1 });
  assert.deepEqual(await answerTo(second), await answerTo(NEVER_ISSUED));

  await refused('no such token: never issued here, already revoked, or expired and purged', 'token', 'revoke', '--token', second);
  await refused('not an access_token: 43 characters of A-Z a-z 0-9 _ - (as /gettoken answers)', 'token', 'revoke', '--token', 'short');
  await refused('no app named ghost in organization acme (list them with: oapi-media app list --org acme)', 'token', 'revoke', '--org', 'acme', '--app', 'ghost');
  const usage = await cli(['token', 'revoke', '--org', 'acme', '--data', dataDir]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^error: pass either --org and --app \(every token of that app\) or --token \(that one token\)\n/);
});

test('app delete: no more tokens, its tokens revoked; its media stay the organization\'s', async () => {
  const doomed = await ok('app', 'create', '--org', 'acme', '--name', 'doomed', '--json');
  const keeper = await ok('app', 'create', '--org', 'acme', '--name', 'keeper', '--json');
  const token = (await getToken(doomed.appkey, doomed.appsecret)).access_token!;
  const mediaId = await upload(token, sampleOfSize('png', 2048), 'kept.png');

  const deleted = await ok('app', 'delete', '--org', 'acme', '--app', 'doomed', '--json');
  assert.deepEqual(deleted, { org: 'acme', app: 'doomed', appkey: doomed.appkey, revokedTokens: 1 });
  assert.equal((await getToken(doomed.appkey, doomed.appsecret)).errcode, 40096);
  assert.deepEqual(await answerTo(token, mediaId), await answerTo(NEVER_ISSUED, mediaId));
  assert.equal((await ok('app', 'list', '--org', 'acme', '--json')).some((a: { app: string }) => a.app === 'doomed'), false);

  const listed = await ok('media', 'list', '--org', 'acme', '--json');
  assert.ok(listed.some((m: { media_id: string }) => m.media_id === mediaId), 'the media stays');
  const other = (await getToken(keeper.appkey, keeper.appsecret)).access_token!;
  const download = await fetch(`${server.url}/media/downloadFile?access_token=${other}&media_id=${encodeURIComponent(mediaId)}`);
  assert.equal(download.status, 200);
  assert.equal(Buffer.from(await download.arrayBuffer()).length, 2048);
  await refused('no app named doomed in organization acme (list them with: oapi-media app list --org acme)', 'app', 'delete', '--org', 'acme', '--app', 'doomed');
});

test('org delete: refused while it has apps or media; --force removes media (rows, inline bytes, blob files), apps and tokens, and says how many', async () => {
  await ok('org', 'create', 'gone');
  const app = await ok('app', 'create', '--org', 'gone', '--name', 'uploader', '--json');
  const token = (await getToken(app.appkey, app.appsecret)).access_token!;
  const blobsBefore = await blobFiles();
  const small = await upload(token, sampleOfSize('png', 1024), 'small.png'); // kept inside meta.sqlite
  const large = await upload(token, sampleOfSize('png', 200 * 1024), 'large.png'); // a file in blobs/
  assert.equal((await blobFiles()).length, blobsBefore.length + 1);

  await refused('organization gone has 1 app(s) and 2 media: pass --force to delete them with it (oapi-media org delete gone --force)', 'org', 'delete', 'gone');
  assert.equal(((await answerTo(token, small)).status), 200, 'a refused delete changes nothing');

  const deleted = await ok('org', 'delete', 'gone', '--force', '--json');
  assert.deepEqual(deleted, { org: 'gone', corpid: deleted.corpid, media: 2, apps: 1, tokens: 1, suiteAuthorizations: 0 });
  assert.match(deleted.corpid, /^ding[0-9a-f]{32}$/);
  assert.deepEqual(await blobFiles(), blobsBefore, 'no blob file of the org is left');
  assert.deepEqual(await answerTo(token, large), await answerTo(NEVER_ISSUED, large));
  assert.equal((await getToken(app.appkey, app.appsecret)).errcode, 40096);
  assert.equal((await ok('org', 'list', '--json')).some((o: { org: string }) => o.org === 'gone'), false);
  // The name is free again, and the new org starts empty.
  await ok('org', 'create', 'gone');
  assert.deepEqual(await ok('media', 'list', '--org', 'gone', '--json'), []);
  const text = await ok('org', 'delete', 'gone');
  assert.match(text, /^deleted organization gone \(corpid ding[0-9a-f]{32}\): 0 media, 0 app\(s\), 0 access_token\(s\), 0 suite authorization\(s\)\n$/);
  await refused('no organization named gone (create it with: oapi-media org create gone)', 'org', 'delete', 'gone');
});

async function blobFiles(): Promise<string[]> {
  const root = join(dataDir, 'blobs');
  const shards = await readdir(root).catch(() => [] as string[]);
  return (await Promise.all(shards.map(async (shard) => (await readdir(join(root, shard))).map((key) => `${shard}/${key}`)))).flat().sort();
}
