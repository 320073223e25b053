// The flags of `npm run bench`:
//   --quick                 short scenarios (4 s each instead of 20 s) for a first look
//   --only a,b,c,d,e,f,g    run only these scenarios (default: all; g = emulator mode, bench/emulator.ts)
//   --targets a,b           run only these targets (default: all), e.g. --targets oapi-media,nginx-webdav
//   --no-nginx              skip the nginx target
//   --duration SECONDS      seconds per scenario (at most 20)
//   --growth-counts N,N     media rows seeded for scenario (e) (default 10000,100000,1000000)
//   --repeat N              run each of a, b, c, d N times, the targets in a rotating order, and
//                           judge each target by its median round (a shared machine's noise)
//   --large-file-mib N      scenario f's file size in MiB (default 1024; 64 with --quick)
//   --keep                  keep the run's temp folder (for looking at what a target stored)

import { TARGET_NAMES, type TargetName } from './target.ts';

export const SCENARIO_IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

export const MAX_SCENARIO_SECONDS = 20;
export const QUICK_SCENARIO_SECONDS = 4;
/** Scenario f: the file each upload session sends, in MiB. */
export const LARGE_FILE_MIB = 1024;
export const QUICK_LARGE_FILE_MIB = 64;

export interface BenchOptions {
  quick: boolean;
  scenarios: ScenarioId[];
  targets: TargetName[];
  scenarioMs: number;
  growthCounts: number[];
  /** Rounds of each scenario a–d (targets rotated each round); each target's median round is judged. */
  repeat: number;
  /** Scenario f: the size of the file each session sends. */
  largeFileBytes: number;
  keepTemp: boolean;
}

function listOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T[] {
  if (!value) throw new Error(`${flag} needs a value: one or more of ${allowed.join(',')}`);
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) if (!allowed.includes(item as T)) throw new Error(`${flag}: unknown "${item}"; one of ${allowed.join(',')}`);
  return items as T[];
}

export function parseOptions(argv: string[]): BenchOptions {
  let quick = false;
  let scenarios: ScenarioId[] = [...SCENARIO_IDS];
  let targets: TargetName[] = [...TARGET_NAMES];
  let seconds: number | undefined;
  let growthCounts = [10_000, 100_000, 1_000_000];
  let keepTemp = false;
  let repeat = 1;
  let largeFileMib: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--quick':
        quick = true;
        break;
      case '--only':
        scenarios = listOf(value(), SCENARIO_IDS, '--only');
        break;
      case '--targets':
        targets = listOf(value(), TARGET_NAMES, '--targets');
        break;
      case '--no-nginx':
        targets = targets.filter((t) => t !== 'nginx-webdav');
        break;
      case '--duration': {
        seconds = Number(value());
        if (!(seconds > 0 && seconds <= MAX_SCENARIO_SECONDS)) throw new Error(`--duration must be in (0, ${MAX_SCENARIO_SECONDS}] seconds`);
        break;
      }
      case '--growth-counts':
        growthCounts = (value() ?? '').split(',').map(Number);
        if (growthCounts.some((n) => !Number.isInteger(n) || n < 0)) throw new Error('--growth-counts takes whole numbers, e.g. 10000,100000');
        break;
      case '--repeat':
        repeat = Number(value());
        if (!Number.isInteger(repeat) || repeat < 1 || repeat > 9) throw new Error('--repeat takes a whole number from 1 to 9');
        break;
      case '--large-file-mib':
        largeFileMib = Number(value());
        if (!Number.isInteger(largeFileMib) || largeFileMib < 1 || largeFileMib > 4096) throw new Error('--large-file-mib takes a whole number from 1 to 4096');
        break;
      case '--keep':
        keepTemp = true;
        break;
      case '--help':
      case '-h':
        console.log('npm run bench -- [--quick] [--only a,b,c,d,e] [--targets NAME,...] [--no-nginx] [--duration S] [--growth-counts N,...] [--repeat N] [--large-file-mib N] [--keep]');
        process.exit(0);
      default:
        throw new Error(`unknown flag ${arg} (try --help)`);
    }
  }
  const scenarioSeconds = seconds ?? (quick ? QUICK_SCENARIO_SECONDS : MAX_SCENARIO_SECONDS);
  const largeFileBytes = (largeFileMib ?? (quick ? QUICK_LARGE_FILE_MIB : LARGE_FILE_MIB)) * 1024 * 1024;
  return { quick, scenarios, targets, scenarioMs: scenarioSeconds * 1000, growthCounts, repeat, largeFileBytes, keepTemp };
}
