// `npm run bench`: oapi-media against its peers in one run (issue 6). Starts each target in
// turn on 127.0.0.1 (server on core 0, load generator on core 1), runs the scenarios, checks
// what each target stored, prints one table with ratios and the goals, and writes
// bench/results/<ISO date>.json. See bench/README.md and bench/options.ts for the flags.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderEmulatorReport, runEmulatorBench, type EmulatorBenchResult } from './emulator.ts';
import { judgeGoals } from './goals.ts';
import { SESSION_TARGETS } from './large-files.ts';
import type { Measurement } from './measure.ts';
import { parseOptions } from './options.ts';
import { writePdfPayload } from './payloads.ts';
import { hasTaskset, killChildrenOnExit, LOAD_CORE, SERVER_CORE } from './processes.ts';
import { renderReport } from './report.ts';
import { runScenario, SIZES, type ScenarioContext } from './scenarios.ts';
import type { Target, TargetName } from './target.ts';
import { bareHttp } from './targets/bare-http.ts';
import { expressMulter } from './targets/express-multer.ts';
import { fastifyMultipartSqlite } from './targets/fastify-multipart-sqlite.ts';
import { nginxWebdav } from './targets/nginx-webdav.ts';
import { oapiMedia, oapiMediaFeishu, oapiMediaWecom } from './targets/oapi-media.ts';

const ALL_TARGETS: Target[] = [bareHttp, nginxWebdav, expressMulter, fastifyMultipartSqlite, oapiMedia, oapiMediaWecom, oapiMediaFeishu];
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

function nginxVersion(): string | null {
  const result = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  return result.error ? null : (result.stderr || result.stdout).trim();
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const workDir = mkdtempSync(join(tmpdir(), 'oapi-media-bench-'));
  killChildrenOnExit(() => {
    if (!options.keepTemp) rmSync(workDir, { recursive: true, force: true });
  });
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const pinned = hasTaskset();
  console.log(`oapi-media bench — ${startedAt.toISOString()}, ${options.scenarioMs / 1000} s per scenario${options.quick ? ' (--quick)' : ''}`);
  console.log(
    `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${
      pinned ? `server on core ${SERVER_CORE}, load generator on core ${LOAD_CORE} (taskset)` : 'taskset not found: processes are NOT pinned'
    }; work folder ${workDir}`,
  );
  // Other work on the two cores shows up in every figure: say how busy the machine was.
  console.log(`load average at start: ${loadAtStart.map((l) => l.toFixed(2)).join(', ')}`);

  const targets = ALL_TARGETS.filter((t) => options.targets.includes(t.name));
  const unavailable = new Map<TargetName, string>();
  for (const target of targets) {
    const reason = await target.unavailableReason();
    if (reason) {
      unavailable.set(target.name, reason);
      console.log(`SKIPPED ${target.name}: ${reason}`);
    }
  }

  const payloadDir = join(workDir, 'payloads');
  mkdirSync(payloadDir);
  const ctx: ScenarioContext = {
    options,
    workDir,
    payloads: {
      small: writePdfPayload(payloadDir, SIZES.small),
      medium: writePdfPayload(payloadDir, SIZES.medium),
      large: writePdfPayload(payloadDir, SIZES.large),
    },
    targets,
    unavailable,
  };

  const measurements: Measurement[] = [];
  let emulator: EmulatorBenchResult | undefined;
  for (const scenario of options.scenarios) {
    if (scenario === 'g') emulator = await runEmulatorBench(options.quick);
    else measurements.push(...(await runScenario(scenario, ctx)));
  }

  const goals = judgeGoals(measurements);
  // Scenario f's targets (upload sessions) are listed with the others.
  const described = [...targets, ...(options.scenarios.includes('f') ? SESSION_TARGETS.filter((t) => options.targets.includes(t.name)) : [])];
  const loadAtEnd = loadavg();
  console.log('');
  console.log(`load average at end: ${loadAtEnd.map((l) => l.toFixed(2)).join(', ')}`);
  if (measurements.length > 0) console.log(renderReport(measurements, goals, described, unavailable));
  if (emulator) console.log(`\n${renderEmulatorReport(emulator)}`);

  mkdirSync(RESULTS_DIR, { recursive: true });
  const resultsPath = join(RESULTS_DIR, `${startedAt.toISOString().replace(/:/g, '-')}.json`);
  const results = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options,
    machine: {
      node: process.version,
      kernel: release(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      pinned,
      nginx: nginxVersion(),
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadAtEnd,
    },
    targets: Object.fromEntries(described.map((t) => [t.name, unavailable.get(t.name) ? { skipped: unavailable.get(t.name) } : { description: t.description }])),
    measurements,
    goals,
    ...(emulator ? { emulator } : {}),
  };
  writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nresults: ${resultsPath}`);
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
});
