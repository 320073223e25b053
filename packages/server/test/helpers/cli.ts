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
  /** Everything printed on stdout until the server was listening. */
  banner: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `oapi-media serve --port 0 ...`; resolves once it prints the line with its URL. */
export function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGS, 'serve', '--port', '0', ...args], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
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
    child.stderr!.on('data', (d: Buffer) => { err += d; });
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match && /\n\s*\n|Get an access_token: curl/.test(out.slice(match.index))) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, banner: out, stop });
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}: ${out}${err}`)); });
  });
}
