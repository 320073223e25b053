// Starts a load generator as its own process pinned to the load core, so the load generator never
// shares a core with the server under test (issue 6), and returns its result: load.ts (a fixed
// time of repeated requests) or session-load.ts (scenario f: upload sessions of a large file).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadPlan, LoadResult } from './load.ts';
import { LOAD_CORE, runProcess } from './processes.ts';
import type { SessionPlan } from './session-load.ts';

const LOAD_SCRIPT = fileURLToPath(new URL('./load.ts', import.meta.url));
const SESSION_LOAD_SCRIPT = fileURLToPath(new URL('./session-load.ts', import.meta.url));

async function runGeneratorInChild(script: string, plan: LoadPlan | SessionPlan, timeoutMs: number, workDir: string, label: string): Promise<LoadResult> {
  const planPath = join(workDir, `plan-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(planPath, JSON.stringify(plan));
  const completed = await runProcess(process.execPath, ['--import', 'tsx', script, planPath], {
    label: `load generator for ${label}`,
    core: LOAD_CORE,
    timeoutMs,
  });
  const lastLine = completed.stdout.trim().split('\n').pop() ?? '';
  if (completed.code !== 0 || !lastLine.startsWith('{')) {
    throw new Error(`load generator for ${label} failed (exit ${completed.code}): ${completed.stderr.slice(-2000)}`);
  }
  return JSON.parse(lastLine) as LoadResult;
}

export function runLoadInChild(plan: LoadPlan, workDir: string, label: string): Promise<LoadResult> {
  return runGeneratorInChild(LOAD_SCRIPT, plan, plan.durationMs + plan.requestTimeoutMs + 60_000, workDir, label);
}

/** Scenario f: killed after `timeoutMs` whatever it is doing. */
export function runSessionsInChild(plan: SessionPlan, timeoutMs: number, workDir: string, label: string): Promise<LoadResult> {
  return runGeneratorInChild(SESSION_LOAD_SCRIPT, plan, timeoutMs, workDir, label);
}
