// The long variant of restart-drill.test.ts: 200 rounds of kill -9 and an immediate start.
// The drill runs as its own node:test process. NODE_TEST_CONTEXT, inherited from this runner,
// would make that child skip its file and exit 0 (a pass that ran nothing), so it is removed, and
// the pass is only believed when the child wrote a fresh stress record of 200 rounds.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RESULTS_DIR } from './helpers/figures.ts';

const ROUNDS = 200;

test(`${ROUNDS} rounds of kill -9 and an immediate start (restart-drill.test.ts with OAPI_RESTART_ROUNDS=${ROUNDS})`, { timeout: 900_000 }, () => {
  const drill = fileURLToPath(new URL('./restart-drill.test.ts', import.meta.url));
  const record = join(RESULTS_DIR, 'stress', 'faults_restart-after-kill-9.json');
  const startedAt = Date.now();
  const env: NodeJS.ProcessEnv = { ...process.env, OAPI_RESTART_ROUNDS: String(ROUNDS), OAPI_RESTART_VARIANT: 'stress' };
  delete env.NODE_TEST_CONTEXT;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', drill], { env, stdio: 'inherit' });
  assert.equal(run.status, 0, `the ${ROUNDS}-round drill passed`);
  assert.ok(statSync(record).mtimeMs >= startedAt, 'the drill recorded its stress figures in this run');
  const { figures } = JSON.parse(readFileSync(record, 'utf8')) as { figures: { rounds: number; refusals: number } };
  assert.deepEqual([figures.rounds, figures.refusals], [ROUNDS, 0]);
});
