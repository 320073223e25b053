// `oapi-media serve` as journald, `docker logs` and a person at a terminal meet it: stdout carries
// JSON log lines only; the banner goes to stderr, with the first-start appsecret only on a
// terminal (a pseudo-terminal here, through util-linux `script`), and its curls run as printed.

import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { CLI_ARGS, cli, serve } from './helpers/cli.ts';

const run = promisify(execFile);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The stored hash of the default app's secret: what a leaked secret would hash to. */
function defaultSecretHash(dataDir: string): string {
  const db = new Database(join(dataDir, 'meta.sqlite'), { readonly: true });
  try {
    return (db.prepare("select secret_hash from apps where name = 'default'").get() as { secret_hash: string }).secret_hash;
  } finally {
    db.close();
  }
}

/** Every word of `text` that could be an appsecret (43 base64url characters) and hashes to `hash`. */
function secretsIn(text: string, hash: string): string[] {
  return [...text.matchAll(/[A-Za-z0-9_-]{43}/g)].map((m) => m[0]).filter((word) => sha256(word) === hash);
}

test('on pipes: stdout is JSON lines only, the appsecret is in neither stream, one JSON line says how to get one (and that way works)', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-banner-pipe-'));
  try {
    const server = await serve(['--data', dataDir], { LOG_LEVEL: 'info' });
    try {
      for (let i = 0; i < 300 && !/orphan sweep done/.test(server.logs()); i++) await sleep(50);
      const token = await (await fetch(`${server.url}/gettoken?appkey=nosuch&appsecret=x`)).json() as { errcode: number };
      assert.notEqual(token.errcode, 0);
    } finally {
      await server.stop();
    }
    const stdoutLines = server.logs().split('\n').filter((line) => line !== '');
    assert.ok(stdoutLines.length >= 3, server.logs());
    const records = stdoutLines.map((line) => {
      try {
        return JSON.parse(line) as { level: number; msg: string; appkey?: string };
      } catch {
        return assert.fail(`a stdout line that is not JSON: ${line}`);
      }
    });
    const hash = defaultSecretHash(dataDir);
    assert.deepEqual(secretsIn(server.logs(), hash), [], 'no appsecret on stdout');
    assert.deepEqual(secretsIn(server.banner, hash), [], 'no appsecret on stderr');
    assert.doesNotMatch(server.banner, /appsecret:/);

    const hint = records.filter((r) => r.msg.startsWith('first start: '));
    assert.equal(hint.length, 1, 'one JSON line about the first start');
    assert.equal(hint[0]!.level, 40);
    assert.equal(
      hint[0]!.msg,
      `first start: created organization "default" with app "default"; its appsecret is shown only on a terminal (stderr is not one): get one with: npx oapi-media app rotate-secret --org default --app default --data ${dataDir}`,
    );
    // The documented way, as the line says it (without npx: the test runs the CLI's bin itself).
    const command = /get one with: npx oapi-media (.+)$/.exec(hint[0]!.msg)![1]!.split(' ');
    const rotated = await cli([...command, '--json']);
    assert.equal(rotated.code, 0, rotated.stderr);
    const creds = JSON.parse(rotated.stdout) as { appkey: string; appsecret: string };
    assert.equal(creds.appkey, hint[0]!.appkey);
    assert.equal(sha256(creds.appsecret), defaultSecretHash(dataDir));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** `serve` under a pseudo-terminal (util-linux script): what a person running it in a shell sees. */
async function serveOnTerminal(dataDir: string, bannerEnd: RegExp): Promise<{ screen: () => string; stop(): Promise<void> }> {
  const line = `'${process.execPath}' ${CLI_ARGS.map((arg) => `'${arg}'`).join(' ')} serve --port 0 --data '${dataDir}'`;
  const child = spawn('script', ['-qfec', line, '/dev/null'], { env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  child.stdout.on('data', (chunk: Buffer) => { screen += chunk.toString('utf8').replaceAll('\r\n', '\n'); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 600 && !bannerEnd.test(screen); i++) await sleep(50);
  return {
    screen: () => screen,
    async stop() {
      // The server's own pid (its data folder's lock): script passes no signal on to it.
      const pid = Number((await readFile(join(dataDir, 'server.pid'), 'utf8').catch(() => '')).trim());
      if (pid > 0) process.kill(pid, 'SIGTERM');
      await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

test('on a terminal: the banner shows the appsecret once, and its two curls, pasted into a shell, get a token and upload the sample (errcode 0)', async () => {
  assert.equal(spawnSync('script', ['--version']).status, 0, 'util-linux `script` is needed to give serve a terminal');
  const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-banner-tty-'));
  let terminal: Awaited<ReturnType<typeof serveOnTerminal>> | undefined;
  try {
    terminal = await serveOnTerminal(dataDir, /^ {2}curl -F .*\n/m);
    const screen = terminal.screen();
    assert.match(screen, /^First start: created organization "default" with app "default"\.$/m, screen);
    assert.match(screen, /^Save the appsecret now: it is stored only as a hash and never shown again$/m);
    const appsecret = /^ {2}appsecret: (\S+)$/m.exec(screen)![1]!;
    assert.equal(sha256(appsecret), defaultSecretHash(dataDir), 'the secret shown is the default app\'s');
    assert.match(screen, new RegExp(`\\(lost it\\? npx oapi-media app rotate-secret --org default --app default --data ${dataDir}\\)\\.`));

    const curls = [...screen.matchAll(/^ {2}(curl .+)$/gm)].map((m) => m[1]!);
    assert.equal(curls.length, 2, screen);
    assert.match(curls[1]!, /^curl -F access_token=[A-Za-z0-9_-]{43} -F type=image -F media=@\S+\/sample\.png http:\/\/127\.0\.0\.1:\d+\/media\/upload$/);
    // Run as pasted: through a shell, with the machine's curl.
    const [gettoken, upload] = await Promise.all(curls.map(async (command) => JSON.parse((await run('sh', ['-c', `${command} --silent --show-error`])).stdout) as Record<string, unknown>));
    assert.equal(gettoken!.errcode, 0, JSON.stringify(gettoken));
    assert.equal(upload!.errcode, 0, JSON.stringify(upload));
    assert.equal(upload!.type, 'image');
    assert.match(String(upload!.media_id), /^@/);
    assert.ok(curls[1]!.includes(`access_token=${String(gettoken!.access_token)} `), 'the first command answers the token the second one embeds');
  } finally {
    await terminal?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a restart on a terminal shows no secret, and says how to get credentials', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-banner-again-'));
  try {
    const first = await serve(['--data', dataDir]);
    await first.stop();
    const terminal = await serveOnTerminal(dataDir, /Get an access_token.*\n/);
    await terminal.stop();
    const screen = terminal.screen();
    assert.doesNotMatch(screen, /appsecret:/);
    assert.deepEqual(secretsIn(screen, defaultSecretHash(dataDir)), []);
    assert.match(screen, /lost an appsecret\? npx oapi-media app rotate-secret --org ORG --app APP --data /);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
