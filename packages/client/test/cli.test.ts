import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { formatBytes, formatDuration, progressLine, ProgressBar, shouldDrawProgress } from '../src/cli/progress-bar.ts';
import { runCli } from '../src/cli/program.ts';
import packageJson from '../package.json' with { type: 'json' };
import { sampleOfSize } from '../../server/test/fixtures/samples.ts';
import { callsTo, requestsArrived, sha256, storedMedia, withEmulator, type Emulator } from './helpers/emulator.ts';

// The TypeScript through tsx (no build needed); the packaging test runs the installed bin.
const CLI = ['--import', 'tsx', new URL('../src/cli.ts', import.meta.url).pathname];
const PNG = sampleOfSize('png', 50_000);
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

interface Run { code: number; stdout: string; stderr: string }

/** Runs the CLI with stdout/stderr piped (so: never a progress bar). Async: the emulator lives in this process. */
function cli(args: string[], env: Record<string, string> = {}, stdin?: Buffer | ((child: ChildProcess) => void)): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...CLI, ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'latin1' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr: Buffer.from(stderr, 'latin1').toString('utf8') });
    });
    if (typeof stdin === 'function') stdin(child);
    else child.stdin?.end(stdin);
  });
}

async function withEmulatorAndDir(run: (emu: Emulator, dir: string, env: Record<string, string>) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-cli-'));
  try {
    await withEmulator(async (emu) => {
      const { appkey, appsecret } = emu.credentials.dingtalk;
      await run(emu, dir, { DINGTALK_APPKEY: appkey, DINGTALK_APPSECRET: appsecret, DINGTALK_BASE_URL: emu.baseUrl });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The stored media with this id: its size, sha256 and file name as the server keeps them. */
const storedAs = async (emu: Emulator, mediaId: string) => (await storedMedia(emu)).find((m) => m.media_id === mediaId);

test('cli: upload prints the media_id, download -o writes the same bytes, token prints a token; no progress bar when piped', async () => {
  await withEmulatorAndDir(async (emu, dir, env) => {
    const file = join(dir, 'photo.png');
    await writeFile(file, PNG);
    const up = await cli(['upload', file, '--type', 'image'], env);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stderr, '');
    const mediaId = up.stdout.trim();
    assert.equal((await storedAs(emu, mediaId))?.sha256, sha256(PNG));

    const out = join(dir, 'copy.png');
    const down = await cli(['download', mediaId, '-o', out], env);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stderr, '');
    assert.equal(sha256(await readFile(out)), sha256(PNG));

    const part = await cli(['download', mediaId, '-o', out, '--range', '8-17', '--json'], env);
    assert.equal(JSON.parse(part.stdout).status, 206);
    assert.deepEqual(await readFile(out), PNG.subarray(8, 18));

    const token = await cli(['token'], env);
    assert.match(token.stdout, /^[A-Za-z0-9_-]{43}\n$/);
    for (const run of [up, down, part, token]) assert.ok(!(run.stdout + run.stderr).includes(emu.credentials.dingtalk.appsecret), 'the secret is never echoed');
  });
});

test('cli: --json prints the answer; flags (after the command) work in place of env', async () => {
  await withEmulatorAndDir(async (emu, dir) => {
    const file = join(dir, 'photo.png');
    await writeFile(file, PNG);
    const up = await cli(['upload', file, '--type', 'image', '--json', '--base-url', emu.baseUrl, '--appkey', emu.credentials.dingtalk.appkey, '--appsecret', emu.credentials.dingtalk.appsecret]);
    assert.equal(up.code, 0, up.stderr);
    const answer = JSON.parse(up.stdout);
    assert.equal(answer.errcode, 0);
    assert.equal(answer.type, 'image');
    assert.equal((await storedAs(emu, answer.media_id))?.sha256, sha256(PNG));
  });
});

test('cli: errors exit non-zero with "errcode errmsg" on stderr', async () => {
  await withEmulatorAndDir(async (emu, dir, env) => {
    const html = join(dir, 'page.html');
    await writeFile(html, '<html></html>');
    const local = await cli(['upload', html, '--type', 'image'], env);
    assert.equal(local.code, 1);
    assert.equal(local.stderr, '40005 invalid file type (checked locally, nothing sent)\n');

    const unknown = await cli(['download', '@nope', '-o', join(dir, 'x')], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, new RegExp(`^40007 不合法的媒体文件id\nrequest_id: ${UUID}\n$`));

    const wrong = await cli(['token'], { ...env, DINGTALK_APPSECRET: 'not-the-secret-123' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^40096 不合法的appKey或appSecret\n/);
    assert.ok(!wrong.stderr.includes('not-the-secret-123'));

    const missing = await cli(['token'], { DINGTALK_BASE_URL: emu.baseUrl });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing appkey .* and appsecret/);

    const noFile = await cli(['upload', join(dir, 'absent.png'), '--type', 'image'], env);
    assert.equal(noFile.code, 2);
    assert.match(noFile.stderr, /ENOENT/);
    assert.equal(callsTo(emu, '/media/upload'), 0);
  });
});

test('cli: upload - reads stdin (with --filename); download -o - writes stdout; Ctrl-C interrupts with 130', async () => {
  await withEmulatorAndDir(async (emu, _dir, env) => {
    const up = await cli(['upload', '-', '--type', 'image', '--filename', 'piped.png'], env, PNG);
    assert.equal(up.code, 0, up.stderr);
    const mediaId = up.stdout.trim();
    assert.equal((await storedAs(emu, mediaId))?.file_name, 'piped.png');
    assert.equal(emu.requests.list({ path: '/media/upload' })[0]?.headers['transfer-encoding'], 'chunked');

    const down = await cli(['download', mediaId, '-o', '-'], env);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(sha256(Buffer.from(down.stdout, 'latin1')), sha256(PNG));

    // An endless stdin upload, interrupted once it has reached the emulator.
    const interrupted = await cli(['upload', '-', '--type', 'file', '--filename', 'endless.zip'], env, (child) => {
      child.stdin?.on('error', () => undefined); // EPIPE once the CLI has gone
      const feed = setInterval(() => child.stdin?.write(Buffer.alloc(16 * 1024)), 5);
      void requestsArrived(emu, '/media/upload', 2).then(() => {
        child.kill('SIGINT');
        clearInterval(feed);
      });
      child.on('exit', () => clearInterval(feed));
    });
    assert.equal(interrupted.code, 130);
    assert.equal(interrupted.stderr, 'interrupted\n');
    assert.equal((await storedMedia(emu)).length, 1);
    assert.equal(emu.requests.list({ path: '/media/upload' })[1]?.answer.mediaId, null);
  });
});

test('progress bar: drawn only when stdout and stderr are both terminals; shows bytes, percent, rate, ETA', () => {
  assert.equal(shouldDrawProgress({ isTTY: true, write: () => true }, { isTTY: true, write: () => true }), true);
  assert.equal(shouldDrawProgress({ isTTY: false, write: () => true }, { isTTY: true, write: () => true }), false);
  assert.equal(shouldDrawProgress({ isTTY: true, write: () => true }, { write: () => true }), false);

  const line = progressLine('upload', 5 * 1024 * 1024, 20 * 1024 * 1024, 2, 100);
  assert.match(line, /^upload \[#{8}\.{22}\]  25% 5\.0 MiB\/20\.0 MiB 2\.5 MiB\/s ETA 6s$/);
  assert.equal(progressLine('upload', 2048, undefined, 1, 80), 'upload 2.0 KiB 2.0 KiB/s');
  assert.ok(progressLine('download', 1, 2, 1, 30).length <= 29);
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatDuration(125), '2m05s');

  let clock = 0;
  const written: string[] = [];
  const bar = new ProgressBar({ isTTY: true, columns: 80, write: (t: string) => written.push(t) }, 'up', () => clock);
  bar.update(0, 100);
  clock = 10;
  bar.update(50, 100); // within 100 ms of the last draw: skipped
  clock = 20;
  bar.update(100, 100); // complete: always drawn
  bar.finish();
  assert.equal(written.length, 3);
  assert.match(written[1]!, /100%/);
  assert.equal(written[2], '\n');
});

test('cli: --version prints the package version and exits 0', async () => {
  for (const flag of ['--version', '-V']) {
    const run = await cli([flag]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${packageJson.version}\n`);
    assert.match(run.stdout, /^\d+\.\d+\.\d+/);
  }
});

test('cli: a folder to upload, -o into a missing folder, a base URL that is no URL: one line naming the user\'s input, exit 2, nothing sent', async () => {
  await withEmulatorAndDir(async (emu, dir, env) => {
    const folder = join(dir, 'photos');
    await mkdir(folder);
    const up = await cli(['upload', folder, '--type', 'image'], env);
    assert.equal(up.code, 2);
    assert.equal(up.stderr, `cannot upload ${folder}: it is a folder (give a file, or - for standard input)\n`);
    assert.equal(callsTo(emu, '/media/upload'), 0);

    const file = join(dir, 'photo.png');
    await writeFile(file, PNG);
    const mediaId = (await cli(['upload', file, '--type', 'image'], env)).stdout.trim();
    const target = join(dir, 'no-such-folder', 'copy.png');
    const down = await cli(['download', mediaId, '-o', target], env);
    assert.equal(down.code, 2);
    assert.equal(down.stderr, `cannot write ${target}: the folder ${join(dir, 'no-such-folder')} does not exist\n`);
    assert.doesNotMatch(down.stderr, /\.part/);
    assert.deepEqual((await readdir(dir)).sort(), ['photo.png', 'photos']);

    const valid = 'such as https://oapi.dingtalk.com (DingTalk) or http://127.0.0.1:8080 (an oapi-media server)';
    const bad = await cli(['token', '--base-url', 'notaurl'], env);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, `--base-url must be an http:// or https:// URL with a host, ${valid}; got "notaurl"\n`);
    const badEnv = await cli(['token'], { ...env, DINGTALK_BASE_URL: 'ftp://files.example' });
    assert.equal(badEnv.code, 2);
    assert.equal(badEnv.stderr, `DINGTALK_BASE_URL must be an http:// or https:// URL with a host, ${valid}; got "ftp://files.example"\n`);
    assert.equal(callsTo(emu, '/gettoken'), 2, 'only the upload and the download above fetched a token');
  });
});

test('cli: local-check errors in English (default) or Chinese (--lang zh, or a zh locale), saying nothing was sent', async () => {
  await withEmulatorAndDir(async (emu, dir, env) => {
    const html = join(dir, 'page.html');
    await writeFile(html, '<html></html>');
    const big = join(dir, 'huge.amr');
    await writeFile(big, Buffer.alloc(2 * 1024 * 1024 + 1));
    const cases: [string[], Record<string, string>, string][] = [
      [['upload', html, '--type', 'image'], {}, '40005 invalid file type (checked locally, nothing sent)\n'],
      [['upload', html, '--type', 'image', '--lang', 'en'], { LANG: 'zh_CN.UTF-8' }, '40005 invalid file type (checked locally, nothing sent)\n'],
      [['upload', html, '--type', 'image', '--lang', 'zh'], {}, '40005 不合法的文件类型（本地检查，未发送）\n'],
      [['--lang', 'zh', 'upload', big, '--type', 'voice'], {}, '40006 不合法的文件大小（本地检查，未发送）\n'],
      [['upload', big, '--type', 'voice'], { LANG: 'zh_CN.UTF-8' }, '40006 不合法的文件大小（本地检查，未发送）\n'],
      [['upload', big, '--type', 'voice'], { LANG: 'C.UTF-8' }, '40006 invalid file size (checked locally, nothing sent)\n'],
    ];
    for (const [args, extra, expected] of cases) {
      const run = await cli(args, { ...env, ...extra });
      assert.equal(run.code, 1, args.join(' '));
      assert.equal(run.stderr, expected, `${args.join(' ')} ${JSON.stringify(extra)}`);
    }
    const fr = await cli(['upload', html, '--type', 'image', '--lang', 'fr'], env);
    assert.equal(fr.code, 2);
    assert.match(fr.stderr, /Allowed choices are en, zh/);
    // A stream of unknown size stopped at the limit says so.
    const piped = await cli(['--lang', 'zh', 'upload', '-', '--type', 'voice', '--filename', 'a.amr'], env, Buffer.alloc(2 * 1024 * 1024 + 10));
    assert.equal(piped.stderr, '40006 不合法的文件大小（本地检查，上传在大小上限处停止）\n');
    assert.deepEqual(await storedMedia(emu), []);
  });
});

/** A terminal as runCli sees it: isTTY, a width, and what was written. */
function terminal(): Writable & { isTTY: true; columns: number; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _encoding, done) { chunks.push(String(chunk)); done(); } });
  return Object.assign(stream, { isTTY: true as const, columns: 100, text: () => chunks.join('') });
}

test('cli: a stdin upload of 6.0 MiB on a terminal ends with the progress bar showing 6.0 MiB (the last frame is redrawn)', async () => {
  await withEmulatorAndDir(async (emu, _dir, env) => {
    const size = 6 * 1024 * 1024;
    const zip = sampleOfSize('zip', size);
    const chunks = Array.from({ length: size / (64 * 1024) }, (_, i) => zip.subarray(i * 64 * 1024, (i + 1) * 64 * 1024));
    const stdout = terminal();
    const stderr = terminal();
    const code = await runCli(['upload', '-', '--type', 'file', '--filename', 'six.zip'], { env, stdin: Readable.from(chunks), stdout, stderr });
    assert.equal(code, 0, stderr.text());
    assert.deepEqual((await storedMedia(emu)).map((m) => [m.size, m.sha256]), [[size, sha256(zip)]]);
    const frames = stderr.text().split('\r').filter(Boolean);
    const last = frames.at(-1)!;
    assert.match(last, /^upload 6\.0 MiB [\d.]+ (B|KiB|MiB|GiB)\/s\x1b\[K\n$/, JSON.stringify(last));
  });
});

test('progress bar: finish() draws the last update the redraw limit skipped (a stream of unknown size is never "complete")', () => {
  let clock = 0;
  const written: string[] = [];
  const bar = new ProgressBar({ isTTY: true, columns: 80, write: (t: string) => written.push(t) }, 'upload', () => clock);
  bar.update(5.8 * 1024 * 1024, undefined);
  clock = 50;
  bar.update(6 * 1024 * 1024, undefined); // within 100 ms: skipped
  assert.equal(written.length, 1);
  bar.finish();
  assert.match(written.at(-2)!, /^\rupload 6\.0 MiB /);
  assert.equal(written.at(-1), '\n');
  bar.finish(); // a second finish (the CLI's finally) draws nothing more
  assert.equal(written.length, 3);
});
