// The scenarios of issue 6, sizes exact:
//   (a) 20 MiB uploads, concurrency 8: MB/s, p50/p99
//   (b) 8 KiB uploads, concurrency 64: uploads/s, p99
//   (c) 64 concurrent uploads of 20 MiB and of 2 MiB: peak RSS of the server process
//   (d) 20 MiB downloads, concurrency 8: oapi-media vs nginx static sendfile
//   (e) oapi-media upload and download rate with 10 k, 100 k, 1 M media rows already stored
//   (f) large files (issue 18): 4 upload sessions of 1 GiB in 8 MiB chunks, tus and DingTalk's chunked upload (large-files.ts)

import { failedToRun, measureLoad, medianRound, skipped, withTarget, type LoadSpec, type Measurement } from './measure.ts';
import type { BenchOptions, ScenarioId } from './options.ts';
import { largeFiles } from './large-files.ts';
import { KiB, MiB, type Payload } from './payloads.ts';
import { stopProcess } from './processes.ts';
import { seedMediaRows } from './seed-media-rows.ts';
import type { Target, TargetName } from './target.ts';
import { downloadUrl, oapiMedia, runningOapiMedia, startWithToken, type AppCredentials } from './targets/oapi-media.ts';

export const SIZES = { small: 8 * KiB, medium: 2 * MiB, large: 20 * MiB } as const;

/** Blob files created for scenario (e): the downloads cycle through them. */
const GROWTH_DOWNLOADABLE_ROWS = 1000;
const GROWTH_CONCURRENCY = 64;

export interface ScenarioContext {
  options: BenchOptions;
  workDir: string;
  payloads: Record<keyof typeof SIZES, Payload>;
  /** Every target asked for, in table order. */
  targets: Target[];
  /** Targets that cannot run here, with the reason. */
  unavailable: Map<TargetName, string>;
}

/** One load against one target in a fresh process and folder. */
async function measureOne(ctx: ScenarioContext, spec: LoadSpec, target: Target): Promise<Measurement> {
  try {
    return await withTarget(target, ctx.workDir, ctx.options.keepTemp, async (running) => {
      const request = spec.direction === 'upload' ? running.upload(spec.payload) : await running.prepareDownload!(spec.payload);
      return measureLoad(target, running, request, spec, ctx.workDir);
    });
  } catch (error) {
    return failedToRun(spec, target.name, error);
  }
}

/**
 * Runs one load against every target that takes part in the scenario (fresh process and folder
 * each); with --repeat N, N rounds with the targets' order rotated each round (so that none is
 * always first or last on a machine whose load drifts), each target judged by its median round.
 */
async function acrossTargets(ctx: ScenarioContext, spec: LoadSpec, targets = ctx.targets): Promise<Measurement[]> {
  const taking = targets.filter((t) => !t.scenarios || t.scenarios.includes(spec.scenario));
  const runnable = taking.filter((t) => !ctx.unavailable.has(t.name));
  const rounds = new Map<TargetName, Measurement[]>(runnable.map((t) => [t.name, []]));
  for (let round = 0; round < ctx.options.repeat; round++) {
    if (ctx.options.repeat > 1) process.stderr.write(`bench: ${spec.step}: round ${round + 1} of ${ctx.options.repeat}\n`);
    const order = runnable.map((_, i) => runnable[(i + round) % runnable.length]!);
    for (const target of order) rounds.get(target.name)!.push(await measureOne(ctx, spec, target));
  }
  return taking.map((target) => {
    const reason = ctx.unavailable.get(target.name);
    return reason ? skipped(spec, target.name, reason) : medianRound(rounds.get(target.name)!);
  });
}

async function growth(ctx: ScenarioContext): Promise<Measurement[]> {
  const payload = ctx.payloads.small;
  const measurements: Measurement[] = [];
  for (const rows of ctx.options.growthCounts) {
    const specFor = (direction: 'upload' | 'download'): LoadSpec => ({
      step: `e ${rows} rows ${direction}`,
      scenario: 'e',
      direction,
      payload,
      concurrency: GROWTH_CONCURRENCY,
      durationMs: ctx.options.scenarioMs,
      rowsSeeded: rows,
    });
    const reason = ctx.unavailable.get('oapi-media');
    if (reason || !ctx.targets.some((t) => t.name === 'oapi-media')) {
      if (reason) measurements.push(skipped(specFor('upload'), 'oapi-media', reason), skipped(specFor('download'), 'oapi-media', reason));
      continue;
    }
    let baseUrl = '';
    let token = '';
    let downloadableIds: string[] = [];
    try {
      await withTarget(
        oapiMedia,
        ctx.workDir,
        ctx.options.keepTemp,
        async (running) => {
          measurements.push(await measureLoad(oapiMedia, running, running.upload(payload), specFor('upload'), ctx.workDir));
          const downloads = {
            method: 'GET' as const,
            urls: downloadableIds.map((id) => downloadUrl(baseUrl, token, id)),
            body: { kind: 'none' as const },
            success: 'http-2xx' as const,
            expectedResponseBytes: payload.size,
          };
          measurements.push(await measureLoad(oapiMedia, running, downloads, specFor('download'), ctx.workDir));
        },
        async (dataDir) => {
          // First start: the product creates its schema, the org and the app; then seed it stopped.
          const first = await startWithToken(dataDir);
          const app: AppCredentials = first.app;
          await stopProcess(first.server.child);
          process.stderr.write(`bench: oapi-media e: seeding ${rows} media rows into the SQLite file...\n`);
          const seeded = seedMediaRows(dataDir, app, payload, rows, GROWTH_DOWNLOADABLE_ROWS);
          process.stderr.write(`bench: oapi-media e: seeded ${rows} rows in ${seeded.seconds.toFixed(1)} s\n`);
          downloadableIds = seeded.downloadableIds;
          const second = await startWithToken(dataDir, app);
          baseUrl = second.server.baseUrl;
          token = second.token;
          return runningOapiMedia(dataDir, second.server, second.token);
        },
      );
    } catch (error) {
      measurements.push(failedToRun(specFor('upload'), 'oapi-media', error));
    }
  }
  return measurements;
}

/** Scenarios a–f; g (emulator mode) has its own figures and table (bench/emulator.ts). */
export async function runScenario(id: Exclude<ScenarioId, 'g'>, ctx: ScenarioContext): Promise<Measurement[]> {
  const durationMs = ctx.options.scenarioMs;
  const { small, medium, large } = ctx.payloads;
  switch (id) {
    case 'a':
      return acrossTargets(ctx, { step: 'a', scenario: 'a', direction: 'upload', payload: large, concurrency: 8, durationMs });
    case 'b':
      return acrossTargets(ctx, { step: 'b', scenario: 'b', direction: 'upload', payload: small, concurrency: 64, durationMs });
    case 'c':
      return [
        ...(await acrossTargets(ctx, { step: 'c 20 MiB', scenario: 'c', direction: 'upload', payload: large, concurrency: 64, durationMs })),
        ...(await acrossTargets(ctx, { step: 'c 2 MiB', scenario: 'c', direction: 'upload', payload: medium, concurrency: 64, durationMs })),
        // Another client's pattern (issue 19): undici, 64 connections opened as its 64 requests start.
        ...(await acrossTargets(ctx, { step: 'c 20 MiB undici', scenario: 'c', direction: 'upload', payload: large, concurrency: 64, durationMs, client: 'undici' })),
      ];
    case 'd':
      return acrossTargets(
        ctx,
        { step: 'd', scenario: 'd', direction: 'download', payload: large, concurrency: 8, durationMs },
        ctx.targets.filter((t) => t.name === 'nginx-webdav' || t.name.startsWith('oapi-media')),
      );
    case 'e':
      return growth(ctx);
    case 'f':
      return largeFiles(ctx);
  }
}
