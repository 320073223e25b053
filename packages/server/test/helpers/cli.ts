// Runs the operator CLI as a real process, as a user would (`npx oapi-media ...`).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// The TypeScript through tsx, so that a change is tested without a build and the child is the
// server itself (multi-node kills it with SIGKILL); the bundle harness (TEST_SERVER=bundle) and the
// packaging test run the bin.
const CLI_SOURCE = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
export const CLI_ARGS = ['--import', 'tsx', CLI_SOURCE];
const run = promisify(execFile);

export async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI_ARGS, ...args], { env: { ...process.env, ...env }, timeout: 30_000 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  /** The banner: everything printed on stderr until the server was listening (its stdout is JSON log lines). */
  banner: string;
  /** Whether this start created the default org and app (its banner says so; no secret on a pipe). */
  firstStart: boolean;
  /** Everything on its stdout so far (JSON log lines). */
  logs(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * `oapi-media serve --port 0 ...` with its streams on pipes (not a terminal); resolves once the
 * banner on stderr is complete: the listening line and the line after it.
 */
export function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGS, 'serve', '--port', '0', ...args], {
      // A short grace, as test-server.ts's: a test's SIGTERM does not wait the default 30 s for stalled clients.
      env: { ...process.env, LOG_LEVEL: 'warn', OAPI_MEDIA_SHUTDOWN_GRACE_MS: '2000', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`serve did not start: ${out}${err}`)); }, 30_000);
    const stop = (signal: NodeJS.Signals = 'SIGTERM') =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill(signal);
      });
    child.stdout!.on('data', (d: Buffer) => { out += d; });
    child.stderr!.on('data', (d: Buffer) => {
      err += d;
      const match = /^oapi-media listening on (http:\/\/\S+).*\n.+\n/m.exec(err);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, banner: err, firstStart: /^First start: /m.test(err), logs: () => out, stop });
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}: ${out}${err}`)); });
  });
}

/**
 * The credentials of the default app after a first start on a pipe, the documented way: its
 * secret was not printed, so `app rotate-secret` gives it one (and shows it once).
 */
export async function defaultAppCredentials(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<{ appKey: string; appSecret: string }> {
  const rotated = await cli(['app', 'rotate-secret', '--org', 'default', '--app', 'default', '--json', '--data', dataDir], env);
  if (rotated.code !== 0) throw new Error(`app rotate-secret: ${rotated.stderr}`);
  const { appkey, appsecret } = JSON.parse(rotated.stdout) as { appkey: string; appsecret: string };
  return { appKey: appkey, appSecret: appsecret };
}
