// A real oapi-media process on a data folder (`oapi-media serve`, as an operator runs it), that a
// test may kill -9 and start again on the same folder; with the figures its start-up logs give
// (temp files removed, orphan blobs swept).

import { defaultAppCredentials, serve, type ServeProcess } from '../../helpers/cli.ts';

export interface Credentials {
  appKey: string;
  appSecret: string;
}

export interface StartedServer {
  process: ServeProcess;
  url: string;
  pid: number;
  /** Present on the first start of a folder (app rotate-secret of the default app). */
  credentials: Credentials | undefined;
  /** Resolves with what the start-up sweep did, once it has finished. */
  startupCleanup: Promise<{ leftovers: number; orphansRemoved: number }>;
  /** The last 20,000 characters of its stderr (why it died, if it did). */
  stderrTail(): string;
}

/** `oapi-media serve --data DIR`, info logs on (the start-up figures are log lines). */
export async function startServerProcess(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<StartedServer> {
  const started = await serve(['--data', dataDir], { LOG_LEVEL: 'info', ...env });
  let seen = started.logs();
  let stderr = '';
  started.child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString('utf8')).slice(-20_000); });
  const startupCleanup = new Promise<{ leftovers: number; orphansRemoved: number }>((resolve, reject) => {
    const check = (): boolean => {
      const sweep = /"removed":(\d+)[^\n]*"msg":"orphan sweep done"/.exec(seen);
      if (/orphan sweep failed/.test(seen)) {
        reject(new Error('orphan sweep failed'));
        return true;
      }
      if (!sweep) return false;
      const leftovers = /"leftovers":(\d+)/.exec(seen);
      resolve({ leftovers: Number(leftovers?.[1] ?? 0), orphansRemoved: Number(sweep[1]) });
      return true;
    };
    if (check()) return;
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      if (seen.length > 1_000_000) seen = seen.slice(-100_000);
      if (check()) started.child.stdout!.off('data', onData);
    };
    started.child.stdout!.on('data', onData);
    setTimeout(() => reject(new Error('no "orphan sweep done" line within 30 s')), 30_000).unref();
  });
  startupCleanup.catch(() => {});
  // On a pipe the banner shows no secret: a first start gives the default app one, as an operator would.
  const credentials = started.firstStart ? await defaultAppCredentials(dataDir, env) : undefined;
  return {
    process: started,
    url: started.url,
    pid: started.child.pid!,
    credentials,
    startupCleanup,
    stderrTail: () => stderr,
  };
}
