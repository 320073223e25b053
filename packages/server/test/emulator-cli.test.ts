// `oapi-media emulate` as a CI service runs it: flags or environment variables, one JSON line when
// ready, the well-known credentials working, nothing left in memory or on disk after SIGTERM.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { memoryFolder } from '../src/emulator/emulator.ts';
import { sample } from './fixtures/samples.ts';
import { CLI_ARGS, cli } from './helpers/cli.ts';
import { getToken, upload } from './helpers/e2e-http.ts';

const emulatorFolders = async () => (await readdir(memoryFolder())).filter((name) => name.startsWith('oapi-media-emulator-'));
/** The emulator folders process `pid` holds files open in (other test files may run emulators meanwhile). */
const foldersOf = async (pid: number | undefined) => {
  const owned = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const name = target.startsWith(`${memoryFolder()}/`) ? target.slice(memoryFolder().length + 1).split('/')[0]! : '';
    if (name.startsWith('oapi-media-emulator-')) owned.add(name);
  }
  return [...owned];
};

interface Ready {
  child: ChildProcess;
  stdout: string;
  exited: Promise<number | null>;
}

/** Starts `emulate`, resolves with its stdout once its first line (or, as text, its control-plane line) is out. */
function emulate(args: string[], env: NodeJS.ProcessEnv = {}, doneWhen: RegExp = /\n/): Promise<Ready> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGS, 'emulate', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`emulate not ready: ${stdout}${stderr}`));
    }, 30_000);
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk; });
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk;
      if (doneWhen.test(stdout)) {
        clearTimeout(timer);
        resolve({ child, stdout, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`emulate exited ${code}: ${stdout}${stderr}`));
    });
  });
}

test('emulate --port 0 --seed 1 --json: one JSON line, credentials that work, and nothing left after SIGTERM', async () => {
  const before = await emulatorFolders();
  const { child, stdout, exited } = await emulate(['--port', '0', '--seed', '1', '--json']);
  let own: string[] = [];
  try {
    const lines = stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1);
    const ready = JSON.parse(lines[0]!) as { baseUrl: string; port: number; seed: string; credentials: { dingtalk: { appkey: string; appsecret: string } }; media: unknown[] };
    assert.match(ready.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ready.seed, '1');
    assert.deepEqual(ready.credentials.dingtalk, { org: 'emulator', appkey: 'dingoapiemulator', appsecret: 'oapi-media-emulator-secret' });
    assert.deepEqual(ready.media, []);
    const token = await getToken(ready.baseUrl, ready.credentials.dingtalk.appkey, ready.credentials.dingtalk.appsecret);
    assert.equal((await upload(ready.baseUrl, token, 'image', sample('png'), 'a.png')).errcode, 0);
    own = await foldersOf(child.pid);
    assert.equal(own.length, 1, 'its state lives in one folder in memory');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
  assert.deepEqual((await emulatorFolders()).filter((name) => !before.includes(name) && own.includes(name)), [], 'removed when it stops');
});

test('the same through environment variables, with fixtures; the same seed gives the same token as in-process', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-media-emulate-'));
  try {
    await writeFile(join(dir, 'fixtures.json'), JSON.stringify({ organizations: [{ name: 'acme', apps: [{ name: 'web', key: 'dingacme', secret: 's' }], media: [{ type: 'image', fileName: 'a.png', base64: sample('png').toString('base64') }] }] }));
    const { child, stdout, exited } = await emulate([], { OAPI_EMULATOR_PORT: '0', OAPI_EMULATOR_SEED: '1', OAPI_EMULATOR_JSON: '1', OAPI_EMULATOR_INIT: join(dir, 'fixtures.json') });
    try {
      const ready = JSON.parse(stdout) as { baseUrl: string; media: { org: string; mediaId: string }[] };
      assert.deepEqual(ready.media.map((m) => m.org), ['acme']);
      assert.match(ready.media[0]!.mediaId, /^@[A-Za-z0-9_-]{24,}$/);
      const lookup = await (await fetch(`${ready.baseUrl}/__oapi/ids/${encodeURIComponent(ready.media[0]!.mediaId)}`)).json() as { kind: string; org: string };
      assert.deepEqual([lookup.kind, lookup.org], ['media', 'acme']);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('as text it says where it listens and prints the well-known credentials', async () => {
  const { child, stdout, exited } = await emulate(['--port', '0'], {}, /^Control plane: .*\n/m);
  child.kill('SIGTERM');
  await exited;
  assert.match(stdout, /^oapi-media emulator listening on http:\/\/127\.0\.0\.1:\d+: state in memory only/);
  assert.match(stdout, /DingTalk {2}appkey dingoapiemulator appsecret oapi-media-emulator-secret {3}second org: dingoapiemulator2 \/ oapi-media-emulator-secret-2/);
  assert.match(stdout, /WeCom {5}corpid wwoapiemulator corpsecret oapi-media-emulator-secret/);
  assert.match(stdout, /Feishu {4}app_id cli_oapiemulator app_secret oapi-media-emulator-secret/);
});

test('a busy port, a bad port or unreadable fixtures: one line that says what to change, exit 2', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = blocker.address() as { port: number };
    const busy = await cli(['emulate', '--port', String(port)]);
    assert.equal(busy.code, 2);
    assert.equal(busy.stderr, `oapi-media: port ${port} is in use: pass --port (0 = any free port) or OAPI_EMULATOR_PORT\n`);
  } finally {
    blocker.close();
  }
  const badPort = await cli(['emulate', '--port', 'eighty']);
  assert.deepEqual([badPort.code, badPort.stderr], [2, 'oapi-media: invalid port: eighty\n']);
  const missing = await cli(['emulate', '--port', '0', '--init', '/nonexistent/fixtures.json']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^oapi-media: cannot read fixtures \/nonexistent\/fixtures\.json: ENOENT/);
});
