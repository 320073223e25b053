// Each reliability case records what it measured, as JSON under .tmp/reliability/<variant>/, and
// scripts/reliability-report.mjs turns the latest records into docs/reliability.md (issue 5).
// Tests record after their assertions: a figure in the report is that of a passing run.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = fileURLToPath(new URL('../../../../../.tmp/reliability/', import.meta.url));

export type Variant = 'default' | 'stress';

export interface CaseFigures {
  /** Stable id: one row of the report per id (e.g. 'faults/kill-9'). */
  id: string;
  /** Report section: Faults, Hostile input, Tenancy and security, Limits. */
  section: string;
  /** What is proved, in the product's words. */
  title: string;
  variant: Variant;
  /** The measured figure in one line, e.g. "3 kills, 192 acknowledged uploads, 0 lost, 0 orphans". */
  summary: string;
  /** Every number behind the summary. */
  figures: Record<string, number | string | boolean>;
}

export async function recordFigures(record: CaseFigures): Promise<void> {
  const dir = join(RESULTS_DIR, record.variant);
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${record.id.replace(/[^a-z0-9-]+/gi, '_')}.json`);
  const stamped = { ...record, measuredAt: new Date().toISOString(), node: process.version };
  await writeFile(file, `${JSON.stringify(stamped, null, 2)}\n`);
}

/** 1234567 -> "1,234,567" (figures read as in api.md). */
export const count = (n: number): string => n.toLocaleString('en-US');
