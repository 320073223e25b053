// A PostgreSQL 15 and a Redis of the test's own, on free 127.0.0.1 ports in temp folders, that a
// drill may stop, restart and start again: the machine's shared instances (5432, 6379) are never
// touched. Each stops by its own pid (pg_ctl on its own data folder, the redis-server child).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';

/** A port nothing listens on right now (the OS's choice). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** null when this machine can run them, else why not (the caller skips, or fails under CI=true). */
export function ownPostgresUnavailable(): string | null {
  if (!existsSync(join(PG_BIN, 'pg_ctl'))) return `no PostgreSQL 15 binaries in ${PG_BIN}`;
  if (process.getuid?.() !== 0) return 'initdb must run as user postgres: the test runs as root to switch to it (runuser)';
  return null;
}

export interface OwnPostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  /** pg_ctl restart -m fast (what pg_ctlcluster ... restart does); resolves once it accepts connections again. */
  restart(): Promise<void>;
  /** pg_ctl stop -m fast: the server refuses connections until start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it (immediate) and removes its folder; safe to call twice. */
  destroy(): Promise<void>;
}

async function asPostgres(command: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await run('runuser', ['-u', 'postgres', '--', join(PG_BIN, command), ...args], { timeout: timeoutMs });
  return stdout;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const root = await mkdtemp(join(tmpdir(), 'oapi-own-pg-'));
  await chown(root, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), Number((await run('id', ['-g', 'postgres'])).stdout.trim()));
  const data = join(root, 'data');
  const port = await freePort();
  // Unix sockets in our folder, TCP on 127.0.0.1 only; no shared_preload, no fsync tuning:
  // commits are durable as in production.
  const options = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c max_connections=50`;
  const ctl = (args: string[]) => asPostgres('pg_ctl', ['-D', data, '-l', join(root, 'log'), ...args]);
  await asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-instructions']);
  const start = () => ctl(['-o', options, '-w', '-t', '60', 'start']).then(() => {});
  await start();
  let destroyed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    restart: () => ctl(['-o', options, '-m', 'fast', '-w', '-t', '60', 'restart']).then(() => {}),
    stop: () => ctl(['-m', 'fast', '-w', '-t', '60', 'stop']).then(() => {}),
    start,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await ctl(['-m', 'immediate', '-w', '-t', '30', 'stop']).catch(() => {}); // already stopped: fine
      await rm(root, { recursive: true, force: true });
    },
  };
}

export interface OwnRedis {
  url: string;
  port: number;
  /** SIGTERM to our redis-server child, waited for. */
  stop(): Promise<void>;
  /** A new redis-server on the same port (empty: no persistence). */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'oapi-own-redis-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      started.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited ${code}: ${out}`)); });
    });
    started.stdout!.resume();
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async destroy() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
