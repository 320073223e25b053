// One measurement: a load against a running target, with the server's peak RSS sampled while it
// runs, and (for uploads) a count of what the target stored against what it acknowledged.
// `withTarget` gives each target a fresh data folder and always stops it by its pid.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadPlan, LoadResult } from './load.ts';
import { runLoadInChild } from './load-runner.ts';
import type { ScenarioId } from './options.ts';
import type { Payload } from './payloads.ts';
import { cpuSeconds } from './cpu-time.ts';
import { sampleRss, type RssPeak } from './rss-sampler.ts';
import type { RunningTarget, Target, TargetName, TargetRequest } from './target.ts';
import { sha256OfUrl } from './verify-stored.ts';

export interface Measurement {
  /** e.g. "a", "c 2 MiB", "e 1000000 rows download". */
  step: string;
  scenario: ScenarioId;
  target: TargetName;
  direction: 'upload' | 'download';
  payloadBytes: number;
  concurrency: number;
  durationMs: number;
  rowsSeeded?: number;
  load?: Omit<LoadResult, 'collected'>;
  peakRssBytes?: number;
  /** CPU the server process used during the load, in % of one core (100 = its core was busy). */
  serverCpuPercent?: number;
  stored?: { files: number; bytes: number; expectedFiles: number; expectedBytes: number; detail: string };
  /** Why this measurement cannot be trusted (errors, data lost, wrong bytes). Empty = sound. */
  failures: string[];
  /** Set when it was not measured at all, with the reason. */
  skipped?: string;
  /** With --repeat: the judged figure of every round, in the order run; this measurement is the median one. */
  rounds?: number[];
  /** With --repeat: the server CPU per successful request of every round, in ms. */
  roundCpuMsPerRequest?: number[];
}

/** Milliseconds of server CPU per successful request, from the CPU % and the rate of one measurement. */
export function cpuMsPerRequest(m: Measurement): number | undefined {
  if (m.serverCpuPercent === undefined || !m.load?.requestsPerSecond) return undefined;
  return (m.serverCpuPercent / 100 / m.load.requestsPerSecond) * 1000;
}

/** The figure each scenario is judged on, and whether more is better. */
export function judgedFigure(m: Measurement): { value: number; name: string; higherIsBetter: boolean } | undefined {
  if (!m.load) return undefined;
  switch (m.scenario) {
    case 'a':
    case 'd':
    case 'f':
      return { value: m.load.megabytesPerSecond, name: 'MB/s', higherIsBetter: true };
    case 'b':
    case 'e':
      return { value: m.load.requestsPerSecond, name: 'req/s', higherIsBetter: true };
    case 'c':
      return { value: (m.peakRssBytes ?? 0) / 1e6, name: 'RSS', higherIsBetter: false };
  }
}

/**
 * One target's rounds of a scenario as one measurement: the median round by the judged figure (of
 * an even count, the worse of the middle two), carrying every round's figure and every round's
 * failures (a failure in any round fails the target).
 */
export function medianRound(rounds: Measurement[]): Measurement {
  if (rounds.length === 1) return rounds[0]!;
  const measured = rounds.filter((m) => judgedFigure(m));
  if (measured.length === 0) return { ...rounds[0]!, failures: rounds.flatMap((m, i) => m.failures.map((f) => `round ${i + 1}: ${f}`)) };
  const better = judgedFigure(measured[0]!)!.higherIsBetter;
  // Worst first, so the lower middle of an even count is the worse of the two.
  const sorted = [...measured].sort((x, y) => (judgedFigure(x)!.value - judgedFigure(y)!.value) * (better ? 1 : -1));
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return {
    ...median,
    rounds: rounds.map((m) => judgedFigure(m)?.value ?? Number.NaN),
    roundCpuMsPerRequest: rounds.map((m) => cpuMsPerRequest(m) ?? Number.NaN),
    failures: rounds.flatMap((m, i) => m.failures.map((f) => `round ${i + 1}: ${f}`)),
  };
}

export interface LoadSpec {
  step: string;
  scenario: ScenarioId;
  direction: 'upload' | 'download';
  payload: Payload;
  concurrency: number;
  durationMs: number;
  rowsSeeded?: number;
  /** The load generator's HTTP client (load.ts LoadPlan.client); node:http when absent. */
  client?: 'node-http' | 'undici';
}

/** Per-request limit: 64 × 20 MiB on a slow disk can take a while, but never forever. */
const REQUEST_TIMEOUT_MS = 120_000;

let folderSequence = 0;

/** Runs `work` with the target started in a fresh folder under workDir; stops it and removes the folder. */
export async function withTarget<T, R extends Pick<RunningTarget, 'stop'> = RunningTarget>(
  target: { name: TargetName; start(dataDir: string, workDir: string): Promise<R> },
  workDir: string,
  keepFolder: boolean,
  work: (running: R, dataDir: string) => Promise<T>,
  start: (dataDir: string) => Promise<R> = (dataDir) => target.start(dataDir, workDir),
): Promise<T> {
  const dataDir = join(workDir, `${target.name}-${++folderSequence}`);
  mkdirSync(dataDir, { recursive: true });
  let running: R | undefined;
  try {
    running = await start(dataDir);
    return await work(running, dataDir);
  } finally {
    if (running) await running.stop();
    if (!keepFolder && !holdsManyFiles(dataDir)) rmSync(dataDir, { recursive: true, force: true });
    // Start the next measurement with no dirty pages of this one still being written back.
    spawnSync('sync', { stdio: 'ignore', timeout: 120_000 });
  }
}

/**
 * Folders of many small files are removed with the run's work folder at the end, not between
 * measurements: ext4 without a journal (these VMs' disks) skips inodes freed in the last minute
 * when it allocates new ones, reading each one's inode block, so the next target's every file
 * creation would pay for the thousands of files just deleted (perf showed openat at 19 % of the
 * server's CPU right after such a deletion, 1 % otherwise). A folder of large files is removed
 * at once whatever its count (a 20 s run of 2 MiB uploads stores gigabytes: the disk must not fill).
 */
const KEEP_FOLDERS_OVER_FILES = 1_000;
const KEEP_FOLDERS_UNDER_BYTES = 1024 ** 3;

function holdsManyFiles(dir: string): boolean {
  try {
    const entries = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    if (entries.length <= KEEP_FOLDERS_OVER_FILES) return false;
    let bytes = 0;
    for (const entry of entries) {
      bytes += statSync(join(entry.parentPath ?? entry.path, entry.name)).size;
      if (bytes >= KEEP_FOLDERS_UNDER_BYTES) return false;
    }
    return true;
  } catch {
    return false;
  }
}

export function skipped(spec: LoadSpec, target: TargetName, reason: string): Measurement {
  return { ...describe(spec, target), failures: [], skipped: reason };
}

/** A measurement that could not be taken because the target failed to start or to set up. */
export function failedToRun(spec: LoadSpec, target: TargetName, error: unknown): Measurement {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`bench: ${target} ${spec.step}: FAILED to run: ${message}\n`);
  return { ...describe(spec, target), failures: [`did not run: ${message.split('\n')[0]}`] };
}

function describe(spec: LoadSpec, target: TargetName): Omit<Measurement, 'failures'> {
  return {
    step: spec.step,
    scenario: spec.scenario,
    target,
    direction: spec.direction,
    payloadBytes: spec.payload.size,
    concurrency: spec.concurrency,
    durationMs: spec.durationMs,
    ...(spec.rowsSeeded !== undefined ? { rowsSeeded: spec.rowsSeeded } : {}),
  };
}

export async function measureLoad(
  target: Target,
  running: RunningTarget,
  request: TargetRequest,
  spec: LoadSpec,
  workDir: string,
): Promise<Measurement> {
  const plan: LoadPlan = {
    ...request,
    concurrency: spec.concurrency,
    durationMs: spec.durationMs,
    payloadBytes: spec.payload.size,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    ...(spec.client ? { client: spec.client } : {}),
  };
  const label = `${target.name} ${spec.step}`;
  process.stderr.write(`bench: ${label}: ${spec.direction} ${spec.payload.size} bytes × concurrency ${spec.concurrency} for ${spec.durationMs / 1000} s\n`);
  const measurement = await measureRun(target, running, spec, () => runLoadInChild(plan, workDir, label));
  if (spec.direction === 'download') {
    const sample = await sha256OfUrl(request.urls[0]!, request.headers);
    if (sample.sha256 !== spec.payload.sha256) measurement.failures.push(`a downloaded copy differs from the payload (HTTP ${sample.status}, ${sample.bytes} bytes)`);
  }
  process.stderr.write(`bench: ${label}: ${summaryLine(measurement)}\n`);
  return measurement;
}

/**
 * Runs one load generator against a running target with the server's RSS and CPU sampled
 * meanwhile; then, for uploads, counts what the target stored against what it acknowledged.
 */
export async function measureRun(
  target: Pick<Target, 'name' | 'discardsBytes'>,
  running: Pick<RunningTarget, 'pid' | 'countStored'>,
  spec: LoadSpec,
  generate: () => Promise<LoadResult>,
): Promise<Measurement> {
  const rss = sampleRss(running.pid);
  const cpuBefore = cpuSeconds(running.pid);
  let result: LoadResult;
  let peak: RssPeak;
  try {
    result = await generate();
  } finally {
    peak = rss.stop();
  }
  const cpuAfter = cpuSeconds(running.pid);
  const { collected, ...load } = result;
  const measurement: Measurement = {
    ...describe(spec, target.name),
    load,
    peakRssBytes: Math.max(peak.highWaterMarkBytes, peak.sampledPeakBytes),
    ...(cpuBefore !== null && cpuAfter !== null ? { serverCpuPercent: ((cpuAfter - cpuBefore) / (load.elapsedMs / 1000)) * 100 } : {}),
    failures: [],
  };
  if (load.failed > 0) {
    measurement.failures.push(`${load.failed} of ${load.requests} requests failed: ${load.errors.map((e) => `${e.count}× ${e.message}`).join('; ')}`);
  }
  if (load.succeeded === 0) measurement.failures.push('no request succeeded');

  if (spec.direction === 'upload' && !target.discardsBytes) {
    const stored = await running.countStored(spec.payload, collected);
    measurement.stored = {
      files: stored.files,
      bytes: stored.bytes,
      expectedFiles: load.succeeded,
      expectedBytes: load.acknowledgedBytes,
      detail: stored.detail,
    };
    if (stored.files < load.succeeded) measurement.failures.push(`stored ${stored.files} files but acknowledged ${load.succeeded}`);
    if (stored.contentMismatch) measurement.failures.push(stored.contentMismatch);
  }
  return measurement;
}

export function summaryLine(m: Measurement): string {
  if (m.skipped) return `skipped: ${m.skipped}`;
  const load = m.load!;
  const parts = [
    `${load.megabytesPerSecond.toFixed(1)} MB/s`,
    `${load.requestsPerSecond.toFixed(1)} req/s`,
    `p50 ${load.latencyMs.p50.toFixed(1)} ms`,
    `p99 ${load.latencyMs.p99.toFixed(1)} ms`,
    `peak RSS ${((m.peakRssBytes ?? 0) / 1e6).toFixed(1)} MB`,
    `server CPU ${(m.serverCpuPercent ?? 0).toFixed(0)}%`,
    `${load.failed} errors`,
  ];
  if (m.stored) parts.push(`stored ${m.stored.files} files / ${m.stored.bytes} bytes, expected ≥ ${m.stored.expectedFiles} / ${m.stored.expectedBytes} acknowledged (${m.stored.detail})`);
  if (m.failures.length) parts.push(`FAILED: ${m.failures.join('; ')}`);
  return parts.join(', ');
}
