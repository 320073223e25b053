// Scenario g (issue 17): emulator mode as a test suite meets it, next to the server itself in the
// same run — in-process start to first upload and close (bench/emulator-probe.mjs, a fresh process
// on the server core), `oapi-media emulate` to ready (process start included) against
// `oapi-media serve`, and 1,000 sequential 8 KiB upload+download round trips, by fetch and by the SDK.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, SERVER_CORE, startProcess, stopProcess, waitForLine } from './processes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'packages/server/bin/oapi-media.js');

interface NodeFigures {
  firstInProcessMs: number;
  startToFirstUploadMs: number;
  startMs: number;
  closeMs: number;
  fetch: { seconds: number; perSecond: number };
  sdk: { seconds: number; perSecond: number };
}

export interface EmulatorBenchResult {
  roundTrips: number;
  emulator: NodeFigures & { importMs: number; cliReadyMs: number };
  server: NodeFigures & { importMs: number; cliReadyMs: number };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** From spawning the bin to its ready line, `runs` times: the median, in ms. */
async function cliReady(args: (run: number) => string[], ready: RegExp, runs: number, label: string): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    const child = startProcess(process.execPath, [BIN, ...args(run)], { label, core: SERVER_CORE, env: { ...process.env, LOG_LEVEL: 'silent' }, timeoutMs: 60_000 });
    await waitForLine(child, ready, 30_000, label);
    times.push(performance.now() - started);
    await stopProcess(child);
  }
  return median(times);
}

export async function runEmulatorBench(quick: boolean): Promise<EmulatorBenchResult> {
  const roundTrips = quick ? 200 : 1000;
  const probe = async (kind: 'emulator' | 'server'): Promise<NodeFigures & { importMs: number }> => {
    const ran = await runProcess(process.execPath, [join(ROOT, 'bench/emulator-probe.mjs'), kind, String(roundTrips), quick ? '6' : '21'], { label: `${kind} probe`, core: SERVER_CORE, cwd: join(ROOT, 'packages/server'), timeoutMs: 600_000 });
    if (ran.code !== 0) throw new Error(`${kind} probe failed: ${ran.stderr}`);
    return JSON.parse(ran.stdout.trim().split('\n').at(-1)!) as NodeFigures & { importMs: number };
  };
  const figures = { emulator: await probe('emulator'), server: await probe('server') };
  const runs = quick ? 3 : 7;
  const emulateReady = await cliReady(() => ['emulate', '--port', '0', '--json'], /^\{"baseUrl"/, runs, 'oapi-media emulate');
  const dataDirs: string[] = [];
  let serveReady: number;
  try {
    serveReady = await cliReady(() => {
      const dir = mkdtempSync(join(tmpdir(), 'oapi-media-bench-serve-'));
      dataDirs.push(dir);
      return ['serve', '--port', '0', '--data', dir];
    }, /oapi-media listening on/, runs, 'oapi-media serve');
  } finally {
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  }
  return { roundTrips, emulator: { ...figures.emulator, cliReadyMs: emulateReady }, server: { ...figures.server, cliReadyMs: serveReady } };
}

/** The table of scenario g, with the goals of issue 17 and the server as the peer. */
export function renderEmulatorReport(result: EmulatorBenchResult): string {
  const { emulator: e, server: s } = result;
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  const rate = (f: { seconds: number; perSecond: number }) => `${f.seconds.toFixed(2)} s (${f.perSecond.toFixed(0)}/s)`;
  const row = (what: string, emu: string, server: string, ratio: string, goal: string) => `| ${what} | ${emu} | ${server} | ${ratio} | ${goal} |`;
  const held = (ok: boolean) => (ok ? 'held' : 'NOT held');
  return [
    'Scenario g — emulator mode (what ships: dist/, the bin), the server itself as the peer, each in a fresh process',
    '',
    '| | emulator | server (startServer / serve) | emulator ÷ server | goal |',
    '|---|---:|---:|---:|---|',
    row('import (@oapi-media/server/emulator, @oapi-media/server)', ms(e.importMs), ms(s.importMs), (e.importMs / s.importMs).toFixed(2), 'reported'),
    row('start to first upload, later starts (median)', ms(e.startToFirstUploadMs), ms(s.startToFirstUploadMs), (e.startToFirstUploadMs / s.startToFirstUploadMs).toFixed(2), `≤ 100 ms: ${held(e.startToFirstUploadMs <= 100)}`),
    row('start to first upload, first in a process', ms(e.firstInProcessMs), ms(s.firstInProcessMs), (e.firstInProcessMs / s.firstInProcessMs).toFixed(2), `≤ 100 ms: ${held(e.firstInProcessMs <= 100)}`),
    row('close()', ms(e.closeMs), ms(s.closeMs), (e.closeMs / s.closeMs).toFixed(2), `≤ 50 ms: ${held(e.closeMs <= 50)}`),
    row('CLI to ready (process start included)', ms(e.cliReadyMs), ms(s.cliReadyMs), (e.cliReadyMs / s.cliReadyMs).toFixed(2), `≤ 1 s: ${held(e.cliReadyMs <= 1000)}`),
    row(`${result.roundTrips} × 8 KiB upload+download, fetch`, rate(e.fetch), rate(s.fetch), (e.fetch.perSecond / s.fetch.perSecond).toFixed(2), 'reported'),
    row(`${result.roundTrips} × 8 KiB upload+download, SDK`, rate(e.sdk), rate(s.sdk), (e.sdk.perSecond / s.sdk.perSecond).toFixed(2), 'reported'),
  ].join('\n');
}
