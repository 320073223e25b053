// Starts a server process pinned to the server core and waits for the line that says where it
// listens ("listening on http://127.0.0.1:PORT": our peers print it on stdout, oapi-media on stderr).

import type { ChildProcess } from 'node:child_process';
import { captureStderrTail, SERVER_CORE, startProcess, waitForLine } from './processes.ts';

export const SERVER_START_TIMEOUT_MS = 30_000;
/** No server lives longer than this, even if the bench forgets it. */
export const SERVER_LIFETIME_MS = 30 * 60_000;

export interface ListeningServer {
  child: ChildProcess;
  pid: number;
  baseUrl: string;
  stderrTail(): string;
}

export async function startListeningServer(command: string, args: string[], label: string, env?: NodeJS.ProcessEnv): Promise<ListeningServer> {
  const child = startProcess(command, args, { label, core: SERVER_CORE, timeoutMs: SERVER_LIFETIME_MS, env: env ?? process.env });
  const stderrTail = captureStderrTail(child);
  try {
    const match = await waitForLine(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/, SERVER_START_TIMEOUT_MS, label);
    return { child, pid: child.pid!, baseUrl: match[1]!, stderrTail };
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\nstderr: ${stderrTail()}`);
  }
}
