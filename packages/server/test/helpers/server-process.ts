// A real `oapi-media serve` in its own node process (the embedded default in `dataDir`, port 0),
// for tests that must kill it without warning (kill -9) and look at what it left behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const LISTENING = /^oapi-media listening on (http:\/\/\S+)/;

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  /** Printed on a first start only (an empty data folder). */
  appKey: string | undefined;
  appSecret: string | undefined;
  /** kill -9, and wait until it is gone. */
  killHard(): Promise<void>;
}

export async function spawnServerProcess(dataDir: string, timeoutMs = 20_000): Promise<ServerProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  // The embedded default, whatever the environment of the test run selects for in-process servers.
  for (const name of ['DATABASE_URL', 'OAPI_MEDIA_STORAGE', 'OAPI_MEDIA_DATA', 'HOST', 'PORT']) delete env[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/server/src/cli.ts', 'serve', '--data', dataDir, '--host', '127.0.0.1', '--port', '0'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = once(child, 'exit');

  const started = new Promise<{ baseUrl: string; appKey: string | undefined; appSecret: string | undefined }>((resolve, reject) => {
    let baseUrl: string | undefined;
    let appKey: string | undefined;
    const timer = setTimeout(() => reject(new Error(`server did not start within ${timeoutMs} ms: ${stderr.join('')}`)), timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const listening = LISTENING.exec(line);
      if (listening) baseUrl = listening[1];
      const key = /^\s*appkey:\s+(\S+)/.exec(line);
      if (key) appKey = key[1];
      const secret = /^\s*appsecret:\s+(\S+)/.exec(line);
      // The credentials come after the listening line on a first start; without them, the
      // "Get an access_token" hint line closes the start-up output.
      if (secret || (baseUrl && /Get an access_token: curl/.test(line))) {
        clearTimeout(timer);
        resolve({ baseUrl: baseUrl!, appKey, appSecret: secret?.[1] });
      }
    });
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before it was ready: ${stderr.join('')}`));
    });
  });
  const ready = await started;
  return {
    child,
    ...ready,
    async killHard() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
