// Every child process the bench starts goes through here, so none outlives the bench: each one
// is pinned to a core (taskset, where it exists), has a hard timeout, and is killed by its pid at
// the end, on Ctrl-C and on errors (issue 6: "never let the bench hang").

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Core 0 runs the server under test, core 1 the load generator (issue 6). */
export const SERVER_CORE = 0;
export const LOAD_CORE = 1;

const tracked = new Set<ChildProcess>();

let tasksetAvailable: boolean | undefined;
export function hasTaskset(): boolean {
  tasksetAvailable ??= spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  return tasksetAvailable;
}

export interface StartOptions {
  /** Short name for messages. */
  label: string;
  /** The core to pin the process to, when taskset exists. */
  core?: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long, whatever it is doing. */
  timeoutMs: number;
}

/**
 * Starts a process. With taskset the pid is still the program's own: taskset execs it in place.
 * stdin stays an open pipe: our own servers exit when it closes, i.e. when the bench dies.
 */
export function startProcess(command: string, args: string[], options: StartOptions): ChildProcess {
  const pinned = options.core !== undefined && hasTaskset();
  const child = pinned
    ? spawn('taskset', ['-c', String(options.core), command, ...args], { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  tracked.add(child);
  const killTimer = setTimeout(() => {
    process.stderr.write(`bench: ${options.label} (pid ${child.pid}) passed its ${options.timeoutMs} ms timeout; killing it\n`);
    killNow(child);
  }, options.timeoutMs);
  killTimer.unref();
  child.once('exit', () => {
    clearTimeout(killTimer);
    tracked.delete(child);
  });
  child.once('error', () => tracked.delete(child));
  return child;
}

function killNow(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM by pid, then SIGKILL if it has not exited within graceMs. */
export async function stopProcess(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), graceMs).unref());
  if ((await Promise.race([exited(child).then(() => 'done' as const), grace])) === 'late') {
    killNow(child);
    await exited(child);
  }
}

/** Kills every process still running, synchronously (usable from 'exit' and signal handlers). */
export function killAllTracked(): void {
  for (const child of tracked) killNow(child);
}

/** Resolves with the first stdout or stderr line matching `pattern`; rejects on exit or after timeoutMs. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number, label: string): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    // Either stream: oapi-media prints its banner on stderr (stdout is its JSON log lines), the peers on stdout.
    const readers = [child.stdout!, child.stderr!].map((input) => createInterface({ input }));
    const seen: string[] = [];
    const timer = setTimeout(() => finish(new Error(`${label}: no line matching ${pattern} within ${timeoutMs} ms; output:\n${seen.join('\n')}`)), timeoutMs);
    const onExit = (code: number | null) => finish(new Error(`${label} exited (code ${code}) before printing ${pattern}; output:\n${seen.join('\n')}`));
    function finish(error: Error | null, match?: RegExpMatchArray): void {
      clearTimeout(timer);
      child.off('exit', onExit);
      for (const lines of readers) lines.off('line', onLine);
      // Keep draining stdout so a chatty server never blocks on a full pipe.
      child.stdout!.resume();
      if (error) reject(error);
      else resolve(match!);
    }
    function onLine(line: string): void {
      if (seen.length < 50) seen.push(line);
      const match = line.match(pattern);
      if (match) finish(null, match);
    }
    for (const lines of readers) lines.on('line', onLine);
    child.once('exit', onExit);
  });
}

/** Keeps the last lines of stderr, for the message when something fails. */
export function captureStderrTail(child: ChildProcess, maxChars = 4000): () => string {
  let tail = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-maxChars);
  });
  return () => tail;
}

export interface CompletedProcess {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a process to its end (with a timeout) and returns its output. */
export async function runProcess(command: string, args: string[], options: StartOptions): Promise<CompletedProcess> {
  const child = startProcess(command, args, options);
  child.stdin!.end();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  return { code, stdout, stderr };
}

/** Installs the handlers that kill every child on Ctrl-C, on termination and on a crash. */
export function killChildrenOnExit(cleanup: () => void): void {
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nbench: ${signal}: stopping every process it started\n`);
    killAllTracked();
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => {
    killAllTracked();
    cleanup();
  });
}
