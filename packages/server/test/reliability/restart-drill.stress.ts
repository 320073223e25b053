// The long variant of restart-drill.test.ts: 200 rounds of kill -9 and an immediate start.

import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

test('200 rounds of kill -9 and an immediate start (restart-drill.test.ts with OAPI_RESTART_ROUNDS=200)', { timeout: 900_000 }, () => {
  const drill = fileURLToPath(new URL('./restart-drill.test.ts', import.meta.url));
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--test', drill], {
    env: { ...process.env, OAPI_RESTART_ROUNDS: '200', OAPI_RESTART_VARIANT: 'stress' },
    stdio: 'inherit',
  });
  assert.equal(run.status, 0, 'the 200-round drill passed');
});
