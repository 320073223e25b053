// Faults: kill -9 of a real server process during 64 concurrent uploads (3 random moments; the
// stress variant does 20). Nothing acknowledged is lost, nothing half-written stays behind.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { count, recordFigures, type Variant } from './helpers/figures.ts';
import { runKillRounds } from './helpers/kill-rounds.ts';
import { seededRandom } from './helpers/seeded-random.ts';

export async function killDuringUploads(kills: number, variant: Variant, t: import('node:test').TestContext): Promise<void> {
  const random = seededRandom();
  t.diagnostic(`seed ${random.seed} (replay with RELIABILITY_SEED=${random.seed})`);
  const f = await runKillRounds(kills, random, (line) => t.diagnostic(line));
  assert.equal(f.kills, kills);
  assert.equal(f.lost, 0, 'every acknowledged upload downloads after the restart');
  assert.equal(f.corrupt, 0, 'with the same sha256, and every blob matches its row');
  assert.equal(f.orphansAfterSweep, 0, 'no blob without a row after the start-up sweep');
  assert.equal(f.tempFilesAfterRestart, 0, 'DATA/tmp empty after the restart');
  assert.equal(f.integrityFailures, 0, 'PRAGMA integrity_check ok after every kill');
  assert.ok(f.cutOff > 0, 'the kills did land mid-upload');
  await recordFigures({
    id: 'faults/kill-9-during-uploads',
    section: 'Faults',
    title: `kill -9 of the server process during 64 concurrent uploads, restart on the same data folder`,
    variant,
    summary: `${f.kills} kills, ${count(f.acknowledged)} acknowledged uploads (${count(f.cutOff)} cut off), ${f.lost} lost, ` +
      `${f.corrupt} corrupt, ${f.orphansAfterSweep} orphans after the sweep (${f.orphansSwept} swept, ` +
      `${f.tempFilesRemovedAtStart} temp files removed), integrity_check ok ${f.kills - f.integrityFailures}/${f.kills}`,
    figures: { ...f, killMomentsMs: f.killMomentsMs.join(' '), seed: random.seed },
  });
}

test('kill -9 at 3 random moments during 64 concurrent uploads: 0 acknowledged lost, 0 orphans, tmp empty, integrity ok', { timeout: 180_000 }, async (t) => {
  await killDuringUploads(3, 'default', t);
});
