#!/usr/bin/env node
// The packaging test (issue 13): what a user installs, tried as a user tries it. `npm pack` each
// published package (prepack builds it), install the tarballs into projects outside the repository
// (no workspace links; the npm cache that `npm ci` filled serves the third-party packages), then:
// the SDK alone installs nothing else; publint and arethetypeswrong are clean on each tarball; the
// installed server (its bin: the bundle with the production node flags) serves an upload that the
// SDK, imported by plain node and required from CommonJS, uploads and downloads back (sha256) on
// SQLite and on PostgreSQL; TypeScript consumers type-check (nodenext and bundler); both CLIs answer
// --help and --version; the user CLI uploads with --json. Plain JavaScript, so any Node runs it:
//   node --test scripts/test-packages.mjs            (part of npm test; also on Node 22/24 in CI)
// Prints the tarball sizes, install times and the SDK's dependency count.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'oapi-media-packages-'));
const tarballs = join(work, 'tarballs');
const adminUrl = process.env.OAPI_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const figures = [];
const started = [];
let packed; // { client, server }: tarball paths
let consumer; // the project with both packages installed

function manifestOf(name) {
  return JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
}

async function npm(args, cwd, env = {}) {
  return run('npm', args, { cwd, env: { ...process.env, ...env, npm_config_update_notifier: 'false' }, maxBuffer: 64 * 1024 * 1024 });
}

/** A project outside the repository with these tarballs (and packages) installed from the cache. */
async function installProject(name, specs, manifestExtras = {}) {
  const dir = join(work, name);
  mkdirSync(dir);
  // npm 11 runs no install script it was not told to allow: better-sqlite3 builds its binding in one.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module', allowScripts: { 'better-sqlite3': true }, ...manifestExtras }));
  const t0 = performance.now();
  await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...specs], dir);
  const seconds = (performance.now() - t0) / 1000;
  return { dir, seconds };
}

function versionInRepo(name) {
  return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A small valid PNG (signature, IHDR, IDAT, IEND), padded with random bytes nobody can compress. */
function samplePng(size) {
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'ascii');
    return Buffer.concat([head, data, Buffer.alloc(4)]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', randomBytes(size)), chunk('IEND', Buffer.alloc(0))]);
  return png;
}

async function adminQuery(sql) {
  // pg is the server's own dependency: the repository has it, and so does the consumer project.
  const { default: pg } = await import(join(root, 'node_modules/pg/lib/index.js'));
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The installed `oapi-media` bin, as a user runs it (`npx oapi-media ...`). */
async function operator(args, env) {
  const { stdout } = await run(join(consumer.dir, 'node_modules/.bin/oapi-media'), args, { cwd: consumer.dir, env: { ...process.env, ...env } });
  return stdout;
}

/** `oapi-media serve` from the installed package; resolves once it answers /healthz. */
async function serveInstalled(env, dataDir) {
  const child = spawn(join(consumer.dir, 'node_modules/.bin/oapi-media'), ['serve', '--host', '127.0.0.1', '--port', '0', '--data', dataDir], {
    cwd: consumer.dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const match = /http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
    if (match) {
      const url = `http://127.0.0.1:${match[1]}`;
      const health = await fetch(`${url}/healthz`).catch(() => undefined);
      if (health?.ok) return { child, url, output: () => output };
    }
    if (child.exitCode !== null) throw new Error(`the installed server exited (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) throw new Error(`the installed server did not start in 30 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** The node flags of the process that serves: the bin's own, or the child or image it started. */
function servingCommandLine(pid) {
  const own = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  if (own.some((arg) => arg.endsWith('dist/cli.js'))) return own;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) return readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      // a process that ended while we looked
    }
  }
  return own;
}

/** Creates an org and an app with the installed operator CLI; its credentials. */
async function appCredentials(env, dataDir) {
  await operator(['org', 'create', 'packaged', '--data', dataDir], env);
  return JSON.parse(await operator(['app', 'create', '--org', 'packaged', '--name', 'consumer', '--json', '--data', dataDir], env));
}

/** The SDK used from a plain ESM script and from a CommonJS one in the consumer project. */
async function roundTripThroughSdk(url, creds) {
  const png = samplePng(300_000);
  const input = join(consumer.dir, `photo-${randomBytes(4).toString('hex')}.png`);
  writeFileSync(input, png);
  const env = { ...process.env, BASE_URL: url, APPKEY: creds.appkey, APPSECRET: creds.appsecret, INPUT: input };
  const esm = await run(process.execPath, ['esm-consumer.mjs'], { cwd: consumer.dir, env });
  const cjs = await run(process.execPath, ['cjs-consumer.cjs'], { cwd: consumer.dir, env });
  for (const [system, stdout] of [['ESM', esm.stdout], ['CommonJS', cjs.stdout]]) {
    const result = JSON.parse(stdout);
    assert.equal(result.sha256, sha256(png), `the ${system} consumer downloads back the bytes it uploaded`);
    assert.match(result.mediaId, /^@/);
    assert.equal(typeof result.refusedErrcode, 'number');
    assert.notEqual(result.refusedErrcode, 0);
    assert.equal(result.recognised, true, `the ESM build's isDingTalkError recognises the ${system} build's DingTalkError`);
  }
  return { png, input };
}

before(async () => {
  mkdirSync(tarballs);
  const t0 = performance.now();
  // What `npm publish` would pack: prepack builds each package (npm test builds them once before
  // its parts, OAPI_MEDIA_PREBUILT=1, so that this pack does not rebuild dist/ under a running test).
  const prebuilt = process.env.OAPI_MEDIA_PREBUILT === '1';
  const scripts = prebuilt ? ['--ignore-scripts'] : [];
  const { stdout } = await npm(['pack', '--json', ...scripts, '--workspace', 'packages/client', '--workspace', 'packages/server', '--pack-destination', tarballs], root);
  // Lifecycle banners (prepack) may precede the JSON report on stdout.
  const reports = JSON.parse(stdout.slice(stdout.search(/^\[/m)));
  packed = {};
  for (const report of reports) {
    const short = report.name.replace('@oapi-media/', '');
    packed[short] = join(tarballs, report.filename);
    figures.push(`${report.name}: tarball ${(report.size / 1024).toFixed(1)} KiB, unpacked ${(report.unpackedSize / 1024).toFixed(1)} KiB, ${report.entryCount} files`);
    // What a tarball holds: the build, the bins, the README and LICENSE; no sources, no tests.
    for (const file of report.files.map((f) => f.path)) {
      assert.match(file, /^(dist\/|bin\/|README\.md$|LICENSE$|package\.json$)/, `${report.name} ships ${file}`);
    }
  }
  assert.deepEqual(Object.keys(packed).sort(), ['client', 'server']);
  figures.push(`npm pack${prebuilt ? '' : ' (with the builds)'}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  consumer = await installProject('consumer', [
    packed.server,
    packed.client,
    `typescript@${versionInRepo('typescript')}`,
    `@types/node@${versionInRepo('@types/node')}`,
  ]);
  figures.push(`install of both packages (+ typescript, @types/node) from the cache: ${consumer.seconds.toFixed(1)} s`);
  // The same steps from both module systems. The refused token (a wrong appsecret) comes from the
  // build the script loaded and is judged by the ESM build's guard: guards work across the builds.
  const roundTrip = `
  const credentials = { baseUrl: process.env.BASE_URL, appKey: process.env.APPKEY, appSecret: process.env.APPSECRET };
  const client = createClient(credentials);
  const { mediaId } = await client.media.upload(process.env.INPUT, { type: 'image' });
  const media = await client.media.download(mediaId);
  const hash = createHash('sha256');
  for await (const chunk of media.stream()) hash.update(chunk);
  const refused = await createClient({ ...credentials, appSecret: 'wrong' }).getAccessToken().catch((error) => error);
  const { isDingTalkError } = await import('@oapi-media/client');
  console.log(JSON.stringify({ mediaId, sha256: hash.digest('hex'), refusedErrcode: refused.errcode, recognised: isDingTalkError(refused) }));
`;
  writeFileSync(join(consumer.dir, 'esm-consumer.mjs'), `import { createClient } from '@oapi-media/client';
import { createHash } from 'node:crypto';
${roundTrip}`);
  writeFileSync(join(consumer.dir, 'cjs-consumer.cjs'), `const { createClient } = require('@oapi-media/client');
const { createHash } = require('node:crypto');
(async () => {${roundTrip}})().catch((error) => { console.error(error); process.exit(1); });
`);
});

after(async () => {
  await Promise.all(started.map(stop));
  rmSync(work, { recursive: true, force: true });
  console.log(`\npackaging figures (node ${process.version}):\n${figures.map((f) => `  ${f}`).join('\n')}`);
});

test('the SDK installed alone brings no other package', async () => {
  const alone = await installProject('sdk-alone', [packed.client]);
  const installed = readdirSync(join(alone.dir, 'node_modules')).filter((name) => !name.startsWith('.'));
  assert.deepEqual(installed, ['@oapi-media']);
  assert.deepEqual(readdirSync(join(alone.dir, 'node_modules/@oapi-media')), ['client']);
  const manifest = JSON.parse(readFileSync(join(alone.dir, 'node_modules/@oapi-media/client/package.json'), 'utf8'));
  assert.deepEqual(Object.keys(manifest.dependencies ?? {}), [], 'the SDK declares no dependency');
  figures.push(`the SDK installed alone: 0 dependencies (node_modules holds @oapi-media/client only), in ${alone.seconds.toFixed(1)} s`);
});

test('publint and arethetypeswrong find nothing in either tarball', async () => {
  for (const [name, tarball] of Object.entries(packed)) {
    const lint = await run(process.execPath, [join(root, 'node_modules/publint/src/cli.js'), 'run', tarball, '--strict'], { cwd: root });
    assert.match(lint.stdout, /All good!/, `publint on ${name}:\n${lint.stdout}${lint.stderr}`);
    // The server is ESM only, for Node >= 22.12 where require() of ESM works (and is tested below):
    // the esm-only profile leaves out the "dynamic import only" note about older CommonJS callers.
    const profile = name === 'server' ? ['--profile', 'esm-only'] : [];
    await run(process.execPath, [join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js'), tarball, '--format', 'ascii', ...profile], { cwd: root }).catch((error) => {
      assert.fail(`arethetypeswrong on ${name}:\n${error.stdout}${error.stderr}`);
    });
  }
});

test('the installed bin runs the bundle with the node flags npm start passes', async () => {
  const bin = readFileSync(join(consumer.dir, 'node_modules/@oapi-media/server/bin/oapi-media.js'), 'utf8');
  const flags = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).config.serve_node_flags.split(/\s+/);
  const binFlags = /const SERVE_NODE_FLAGS = (\[[^\]]*\]);/.exec(bin)?.[1];
  assert.deepEqual(binFlags && JSON.parse(binFlags.replaceAll("'", '"')), flags, 'the bin and config.serve_node_flags agree');
  const data = join(work, 'flags-data');
  mkdirSync(data);
  const server = await serveInstalled({}, data);
  const commandLine = servingCommandLine(server.child.pid);
  for (const flag of flags) assert.ok(commandLine.includes(flag), `the serving node has ${flag}: ${commandLine.join(' ')}`);
  assert.ok(commandLine.some((arg) => arg.endsWith('node_modules/@oapi-media/server/dist/cli.js')), commandLine.join(' '));
  await stop(server.child);
  assert.equal(existsSync(join(data, 'meta.sqlite')), true);
});

test('the SDK (ESM and CommonJS) uploads to and downloads from the installed server on SQLite', async () => {
  const data = join(work, 'sqlite-data');
  mkdirSync(data);
  const creds = await appCredentials({}, data);
  const server = await serveInstalled({}, data);
  await roundTripThroughSdk(server.url, creds);
  await stop(server.child);
});

test('the same on PostgreSQL (the bundle migrates the database itself)', async () => {
  const database = `oapi_pkg_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${database}`);
  try {
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const env = { DATABASE_URL: url.toString(), OAPI_MEDIA_SECRET_KEY: randomBytes(32).toString('base64') };
    const data = join(work, 'pg-data');
    mkdirSync(data);
    const creds = await appCredentials(env, data);
    const server = await serveInstalled(env, data);
    await roundTripThroughSdk(server.url, creds);
    await stop(server.child);
  } finally {
    await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
});

test('require() of both packages from CommonJS', async () => {
  const script = `const client = require('@oapi-media/client');
const server = require('@oapi-media/server');
console.log(JSON.stringify({ client: typeof client.createClient, errors: typeof client.DingTalkError, server: typeof server.startServer }));`;
  const { stdout } = await run(process.execPath, ['-e', script], { cwd: consumer.dir });
  assert.deepEqual(JSON.parse(stdout), { client: 'function', errors: 'function', server: 'function' });
});

test('a TypeScript consumer type-checks with module nodenext and with moduleResolution bundler', async () => {
  const source = `import { createClient, DingTalkError, type UploadResult } from '@oapi-media/client';
import { loadConfig } from '@oapi-media/server';
import { startEmulator, type Emulator } from '@oapi-media/server/emulator';
export const emulator: Promise<Emulator> = startEmulator({ seed: 1 });
const client = createClient({ baseUrl: 'http://127.0.0.1:8080', appKey: 'k', appSecret: 's' });
export async function send(path: string): Promise<string> {
  try {
    const result: UploadResult = await client.media.upload(path, { type: 'image' });
    return result.mediaId;
  } catch (error) {
    if (error instanceof DingTalkError) return String(error.errcode);
    throw error;
  }
}
export const port: number = loadConfig({}, {}).port;
// @ts-expect-error an unknown media type is a type error
void client.media.upload('x', { type: 'sticker' });
`;
  const variants = {
    nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
    bundler: { module: 'esnext', moduleResolution: 'bundler' },
  };
  for (const [name, options] of Object.entries(variants)) {
    const dir = join(consumer.dir, `ts-${name}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'consumer.ts'), source);
    // skipLibCheck off: the declarations the packages ship are checked too.
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...options, target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['consumer.ts'] }));
    await run(process.execPath, [join(consumer.dir, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir }).catch((error) => {
      assert.fail(`tsc (${name}):\n${error.stdout}${error.stderr}`);
    });
  }
});

test('both CLIs answer --help and --version; the user CLI uploads with --json', async () => {
  const bins = join(consumer.dir, 'node_modules/.bin');
  for (const [bin, manifest] of [['oapi-media', manifestOf('server')], ['oapi-media-client', manifestOf('client')]]) {
    const help = await run(join(bins, bin), ['--help'], { cwd: consumer.dir });
    assert.match(help.stdout, new RegExp(`^Usage: ${bin} `));
    const version = await run(join(bins, bin), ['--version'], { cwd: consumer.dir });
    assert.equal(version.stdout.trim(), manifest.version);
  }
  const data = join(work, 'cli-data');
  mkdirSync(data);
  const creds = await appCredentials({}, data);
  const server = await serveInstalled({}, data);
  const png = samplePng(50_000);
  const file = join(consumer.dir, 'cli-photo.png');
  writeFileSync(file, png);
  const upload = await run(join(bins, 'oapi-media-client'), ['upload', file, '--type', 'image', '--json'], {
    cwd: consumer.dir,
    env: { ...process.env, DINGTALK_BASE_URL: server.url, DINGTALK_APPKEY: creds.appkey, DINGTALK_APPSECRET: creds.appsecret },
  });
  const answer = JSON.parse(upload.stdout);
  assert.equal(answer.errcode, 0);
  assert.equal(answer.type, 'image');
  const out = join(consumer.dir, 'cli-copy.png');
  await run(join(bins, 'oapi-media-client'), ['download', answer.media_id, '-o', out], {
    cwd: consumer.dir,
    env: { ...process.env, DINGTALK_BASE_URL: server.url, DINGTALK_APPKEY: creds.appkey, DINGTALK_APPSECRET: creds.appsecret },
  });
  assert.equal(sha256(readFileSync(out)), sha256(png));
  await stop(server.child);
});

test('the installed emulator: the README\'s node:test example runs against @oapi-media/server/emulator, and the bin emulates', async () => {
  // The README's Emulator example, verbatim (it is plain JavaScript too), next to a photo.png.
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const emulatorSection = readme.slice(readme.indexOf('## Emulator'));
  const spec = /```ts\n([\s\S]*?)```/.exec(emulatorSection)?.[1];
  assert.ok(spec?.includes("from '@oapi-media/server/emulator'"), 'the README has its Emulator example');
  writeFileSync(join(consumer.dir, 'photo.png'), samplePng(20_000));
  writeFileSync(join(consumer.dir, 'emulator.test.mjs'), spec);
  // As a user runs it: not as a child of this test run (NODE_TEST_CONTEXT would make it report to us).
  const { NODE_TEST_CONTEXT: _ignored, ...userEnv } = process.env;
  const ran = await run(process.execPath, ['--test', '--test-reporter=tap', 'emulator.test.mjs'], { cwd: consumer.dir, env: userEnv }).catch((error) => assert.fail(`node --test:\n${error.stdout}${error.stderr}`));
  assert.match(ran.stdout, /# pass 1/);
  assert.match(ran.stdout, /# fail 0/);

  const child = spawn(join(consumer.dir, 'node_modules/.bin/oapi-media'), ['emulate', '--port', '0', '--json'], { cwd: consumer.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  const line = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`emulate: no ready line: ${out}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.split('\n')[0]);
      }
    });
  });
  const ready = JSON.parse(line);
  const token = await (await fetch(`${ready.baseUrl}/gettoken?appkey=${ready.credentials.dingtalk.appkey}&appsecret=${ready.credentials.dingtalk.appsecret}`)).json();
  assert.equal(token.errcode, 0);
  await stop(child);
});
