// Starts load.ts as its own process pinned to the load core, so the load generator never shares
// a core with the server under test (issue 6), and returns its result.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadPlan, LoadResult } from './load.ts';
import { LOAD_CORE, runProcess } from './processes.ts';

const LOAD_SCRIPT = fileURLToPath(new URL('./load.ts', import.meta.url));

export async function runLoadInChild(plan: LoadPlan, workDir: string, label: string): Promise<LoadResult> {
  const planPath = join(workDir, `plan-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(planPath, JSON.stringify(plan));
  const completed = await runProcess(process.execPath, ['--import', 'tsx', LOAD_SCRIPT, planPath], {
    label: `load generator for ${label}`,
    core: LOAD_CORE,
    timeoutMs: plan.durationMs + plan.requestTimeoutMs + 60_000,
  });
  const lastLine = completed.stdout.trim().split('\n').pop() ?? '';
  if (completed.code !== 0 || !lastLine.startsWith('{')) {
    throw new Error(`load generator for ${label} failed (exit ${completed.code}): ${completed.stderr.slice(-2000)}`);
  }
  return JSON.parse(lastLine) as LoadResult;
}
