// A real `oapi-media serve` in its own node process on 127.0.0.1:0, configured through the
// environment as an operator configures it, and the operator CLI beside it. It runs either build:
// the TypeScript through tsx, or the bundle that `npm start` runs (TEST_SERVER=bundle), so that
// what ships is what the tests exercise.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CONFIG_VARIABLES } from './operator-env.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const LISTENING = /^oapi-media listening on (http:\/\/\S+)/;
const runFile = promisify(execFile);

/** What a test's server process runs: the TypeScript (through tsx) or the bundle `npm start` runs. */
export type ServerBuild = 'source' | 'bundle';

/**
 * TEST_SERVER=bundle selects the bundle; unset, the TypeScript (in-process where a file can).
 * TEST_SERVER=emulator runs test-server.ts's servers as emulators (in-process, the TypeScript);
 * a server process a file spawns itself is then the TypeScript too.
 */
export function testServerBuild(env: NodeJS.ProcessEnv = process.env): ServerBuild {
  const value = env.TEST_SERVER ?? '';
  if (value === '' || value === 'emulator') return 'source';
  if (value === 'bundle') return 'bundle';
  throw new Error(`TEST_SERVER=${value}: unknown (bundle, emulator, or unset for the TypeScript)`);
}

/** package.json config.serve_node_flags: the node flags `npm start` runs the bundle with. */
function serveNodeFlags(): string[] {
  const flags = (JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { config: { serve_node_flags: string } }).config.serve_node_flags;
  return flags.split(/\s+/).filter(Boolean);
}

/** The node arguments that run `oapi-media ARGS` of `build` (serve with npm start's flags). */
function cliArgs(build: ServerBuild, args: string[]): string[] {
  if (build === 'source') return ['--import', 'tsx', 'packages/server/src/cli.ts', ...args];
  // As npm start runs it: the package's bin (which imports the bundle), with npm start's flags.
  const flags = args[0] === 'serve' ? serveNodeFlags() : [];
  return [...flags, 'packages/server/bin/oapi-media.js', ...args];
}

/** This process's environment without any server setting, plus `env`: nothing leaks in unasked. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CONFIG_VARIABLES) delete out[name];
  return { ...out, ...env };
}

/** `oapi-media ARGS` (org create, app create, media list ...) with `env`; its stdout, or throws with its stderr. */
export async function runCli(build: ServerBuild, args: string[], env: Record<string, string>): Promise<string> {
  try {
    const { stdout } = await runFile(process.execPath, cliArgs(build, args), { cwd: REPO_ROOT, env: childEnv(env), timeout: 30_000 });
    return stdout;
  } catch (error) {
    const e = error as Error & { stderr?: string };
    throw new Error(`oapi-media ${args.join(' ')}: ${e.stderr || e.message}`);
  }
}

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  /** On a first start only (an empty store): the default app, given a secret with app rotate-secret. */
  appKey: string | undefined;
  appSecret: string | undefined;
  /** SIGTERM and wait for a clean exit; SIGKILL after `timeoutMs`, then throws (as for an exit code other than 0). */
  stop(timeoutMs?: number): Promise<void>;
  /** kill -9, and wait until it is gone. */
  killHard(): Promise<void>;
}

export interface ServerProcessOptions {
  /** The operator's environment for it (operator-env.ts); LOG_LEVEL defaults to warn. */
  env: Record<string, string>;
  build?: ServerBuild;
  timeoutMs?: number;
}

/** Processes still running: killed when this test process exits, whatever failed before their stop. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function spawnServerProcess({ env, build = testServerBuild(), timeoutMs = 20_000 }: ServerProcessOptions): Promise<ServerProcess> {
  const child = spawn(process.execPath, cliArgs(build, ['serve', '--host', '127.0.0.1', '--port', '0']), {
    cwd: REPO_ROOT,
    // A short grace (test-server.ts): its stop() allows 10 s, the server's default grace is 30 s.
    env: childEnv({ LOG_LEVEL: 'warn', OAPI_MEDIA_SHUTDOWN_GRACE_MS: '2000', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-16_384); });
  // Its JSON log lines, read and dropped: an unread pipe would fill and stall the server's logging.
  child.stdout!.resume();
  const exited = once(child, 'exit').then(([code, signal]) => {
    running.delete(child);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;

  // The banner is on stderr (stdout carries JSON log lines only): the listening line, then one
  // line that says whether this start created the default app. Its secret is shown only on a
  // terminal, so a first start gives it one the documented way (app rotate-secret).
  const started = new Promise<{ baseUrl: string; firstStart: boolean }>((resolve, reject) => {
    let baseUrl: string | undefined;
    const timer = setTimeout(() => reject(new Error(`server did not start within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => {
      const listening = LISTENING.exec(line);
      if (listening) {
        baseUrl = listening[1];
        return;
      }
      if (baseUrl) {
        clearTimeout(timer);
        lines.close();
        resolve({ baseUrl, firstStart: line.startsWith('First start: ') });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before it was ready: ${stderr}`));
    });
  });
  let ready: { baseUrl: string; appKey: string | undefined; appSecret: string | undefined };
  try {
    const { baseUrl, firstStart } = await started;
    const creds = firstStart
      ? JSON.parse(await runCli(build, ['app', 'rotate-secret', '--org', 'default', '--app', 'default', '--json'], env)) as { appkey: string; appsecret: string }
      : undefined;
    ready = { baseUrl, appKey: creds?.appkey, appSecret: creds?.appsecret };
  } catch (error) {
    if (!gone()) child.kill('SIGKILL');
    await exited;
    throw error;
  }
  // A server a failed test never stopped must not keep this test process alive: the exit hook ends it.
  child.unref();
  (child.stdout as unknown as { unref(): void }).unref();
  (child.stderr as unknown as { unref(): void }).unref();

  const killHard = async () => {
    if (!gone()) child.kill('SIGKILL');
    // A timer holds this process open until the (unreferenced) child's exit is seen: with nothing
    // else pending (a bundle test server is another process too) the test would end mid-await.
    const holdOpen = setInterval(() => {}, 1000);
    try {
      await exited;
    } finally {
      clearInterval(holdOpen);
    }
  };
  return {
    child,
    ...ready,
    async stop(stopTimeoutMs = 10_000) {
      if (gone()) {
        const { code, signal } = await exited;
        throw new Error(`server had already exited (${code ?? signal}): ${stderr}`);
      }
      // A timer holds this process open while the (unreferenced) child shuts down.
      let timedOut = false;
      const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, stopTimeoutMs);
      child.kill('SIGTERM');
      const { code, signal } = await exited;
      clearTimeout(timer);
      if (timedOut) throw new Error(`server did not exit within ${stopTimeoutMs} ms of SIGTERM (killed): ${stderr}`);
      if (code !== 0) throw new Error(`server exited (${code ?? signal}) on SIGTERM: ${stderr}`);
    },
    killHard,
  };
}
