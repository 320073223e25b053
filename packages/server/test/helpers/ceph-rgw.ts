// A real S3 endpoint for tests: a throwaway single-node Ceph cluster with RADOS Gateway, booted by
// scripts/ceph-rgw.sh inside a fresh temporary folder (see shared/notes/ceph-rgw.md).
import { execFile } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const script = fileURLToPath(new URL('../../../../scripts/ceph-rgw.sh', import.meta.url));
const startTimeoutMs = 180_000;
const stopTimeoutMs = 60_000;

export interface CephRgw {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** The cluster's folder (config, data, logs, pid files); removed by stop(). */
  dir: string;
  /** Pids of the cluster's daemons (mon, osd, radosgw), as recorded in dir/pids. */
  pids: number[];
  stop(): Promise<void>;
}

/** True when radosgw is on PATH (`scripts/ceph-rgw.sh install` puts it there). */
export function cephAvailable(): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, 'radosgw'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function readPids(dir: string): number[] {
  const pidDir = join(dir, 'pids');
  return readdirSync(pidDir)
    .filter((name) => name.endsWith('.pid'))
    .map((name) => Number(readFileSync(join(pidDir, name), 'utf8').trim()));
}

async function stopCluster(dir: string): Promise<void> {
  await execFileAsync('bash', [script, 'stop', dir], { timeout: stopTimeoutMs });
}

export async function startCephRgw(): Promise<CephRgw> {
  const dir = await mkdtemp(join(tmpdir(), 'ceph-rgw-'));
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('bash', [script, 'start', dir], {
      timeout: startTimeoutMs,
      maxBuffer: 16 * 1024 * 1024,
    }));
  } catch (error) {
    // The script already stopped its daemons on failure; this also removes the folder.
    const stderr = (error as { stderr?: string }).stderr ?? '';
    await stopCluster(dir).catch(() => rm(dir, { recursive: true, force: true }));
    throw new Error(`scripts/ceph-rgw.sh start failed: ${(error as Error).message}\n${stderr}`);
  }
  const lines = stdout.trim().split('\n');
  const started = JSON.parse(lines[lines.length - 1]!) as {
    endpoint: string;
    accessKeyId: string;
    secretAccessKey: string;
    region: string;
    dir: string;
  };
  let pids: number[];
  try {
    pids = readPids(started.dir);
  } catch (error) {
    await stopCluster(started.dir);
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return { ...started, pids, stop: () => (stopping ??= stopCluster(started.dir)) };
}
