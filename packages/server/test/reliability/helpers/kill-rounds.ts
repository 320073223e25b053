// kill -9 of a real server during 64 concurrent uploads, then a restart on the same data folder
// (issue 5): every upload that was answered with a media_id must download with the same sha256,
// and after the start-up sweep no orphan or partial blob, no temp file, and an intact database.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MediaFormat, MediaType } from '@oapi-media/core';
import { sampleOfSize } from '../../fixtures/samples.ts';
import { getToken, sha256, upload } from '../../helpers/e2e-http.ts';
import { auditDataFolder } from './data-audit.ts';
import type { TestContext } from 'node:test';
import { count, recordFigures, type Variant } from './figures.ts';
import { seededRandom, type SeededRandom } from './seeded-random.ts';
import { startServerProcess, type Credentials, type StartedServer } from './server-under-test.ts';
import { verifyAcknowledged, type Acknowledged } from './upload-waves.ts';

const CONCURRENT_UPLOADS = 64;
const FORMATS: readonly (readonly [MediaFormat, MediaType, string])[] = [
  ['png', 'image', 'png'], ['jpg', 'image', 'jpg'], ['gif', 'image', 'gif'], ['bmp', 'image', 'bmp'],
  ['mp3', 'voice', 'mp3'], ['wav', 'voice', 'wav'], ['mp4', 'video', 'mp4'], ['pdf', 'file', 'pdf'], ['zip', 'file', 'zip'],
];

export interface KillFigures {
  kills: number;
  killMomentsMs: number[];
  uploadsStarted: number;
  acknowledged: number;
  /** Answered with a non-zero errcode (e.g. -1) before the kill. */
  refused: number;
  /** Connection cut by the kill before an answer. */
  cutOff: number;
  lost: number;
  corrupt: number;
  orphansAfterSweep: number;
  orphansSwept: number;
  tempFilesRemovedAtStart: number;
  tempFilesAfterRestart: number;
  integrityFailures: number;
  rowsAtEnd: number;
  calibrationMs: number;
}

interface PreparedUpload {
  type: MediaType;
  name: string;
  bytes: Buffer;
  sha256: string;
}

/** Bodies are built before the clock starts, so that a kill moment falls in the network phase. */
function prepareUploads(random: SeededRandom): PreparedUpload[] {
  return Array.from({ length: CONCURRENT_UPLOADS }, (_, i) => {
    const [format, type, ext] = random.pick(FORMATS);
    const bytes = sampleOfSize(format, random.int(16 * 1024, 1024 * 1024));
    return { type, name: `upload-${i}.${ext}`, bytes, sha256: sha256(bytes) };
  });
}

function launchUploads(url: string, token: string, prepared: PreparedUpload[]) {
  return Promise.allSettled(
    prepared.map(async (p) => ({ answer: await upload(url, token, p.type, p.bytes, p.name), sha256: p.sha256 })),
  );
}

/**
 * One calibration round without a kill (how long 64 uploads take), then `kills` rounds killed at a
 * random moment within that duration, each followed by a restart and the checks.
 */
export async function runKillRounds(kills: number, random: SeededRandom, log: (line: string) => void): Promise<KillFigures> {
  const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-kill-'));
  let server: StartedServer | undefined;
  const figures: KillFigures = {
    kills: 0, killMomentsMs: [], uploadsStarted: 0, acknowledged: 0, refused: 0, cutOff: 0, lost: 0, corrupt: 0,
    orphansAfterSweep: 0, orphansSwept: 0, tempFilesRemovedAtStart: 0, tempFilesAfterRestart: 0, integrityFailures: 0,
    rowsAtEnd: 0, calibrationMs: 0,
  };
  const acknowledged: Acknowledged[] = [];
  try {
    server = await startServerProcess(dataDir);
    const credentials: Credentials = server.credentials!;
    assert.ok(credentials, 'first start prints the default app credentials');
    let token = await getToken(server.url, credentials.appKey, credentials.appSecret);

    const calibration = prepareUploads(random);
    const calibrationStart = performance.now();
    for (const result of await launchUploads(server.url, token, calibration)) {
      assert.equal(result.status, 'fulfilled');
      if (result.status === 'fulfilled') {
        assert.equal(result.value.answer.errcode, 0, JSON.stringify(result.value.answer));
        acknowledged.push({ mediaId: result.value.answer.media_id!, sha256: result.value.sha256 });
      }
    }
    figures.calibrationMs = Math.round(performance.now() - calibrationStart);
    figures.uploadsStarted += CONCURRENT_UPLOADS;
    figures.acknowledged += CONCURRENT_UPLOADS;

    for (let round = 0; round < kills; round++) {
      // Within the first 80 % of what 64 uploads took undisturbed: mid-flight, not after the last
      // answer. Stratified: round r falls in the r-th slice, so even 3 kills reach the late moments
      // at which some uploads are already acknowledged (not only the early ones, where none are).
      const killAtMs = Math.round(figures.calibrationMs * (0.02 + 0.78 * ((round + random.next()) / kills)));
      const running = launchUploads(server.url, token, prepareUploads(random));
      await new Promise((resolve) => setTimeout(resolve, killAtMs));
      await server.process.stop('SIGKILL');
      figures.kills++;
      figures.killMomentsMs.push(killAtMs);
      figures.uploadsStarted += CONCURRENT_UPLOADS;
      const roundAcknowledged: Acknowledged[] = [];
      for (const result of await running) {
        if (result.status === 'rejected') figures.cutOff++;
        else if (result.value.answer.errcode === 0) {
          roundAcknowledged.push({ mediaId: result.value.answer.media_id!, sha256: result.value.sha256 });
        } else figures.refused++;
      }
      figures.acknowledged += roundAcknowledged.length;
      acknowledged.push(...roundAcknowledged);

      server = await startServerProcess(dataDir);
      const cleanup = await server.startupCleanup;
      figures.orphansSwept += cleanup.orphansRemoved;
      figures.tempFilesRemovedAtStart += cleanup.leftovers;
      token = await getToken(server.url, credentials.appKey, credentials.appSecret);
      const checked = await verifyAcknowledged(server.url, token, roundAcknowledged);
      figures.lost += checked.lost;
      figures.corrupt += checked.corrupt;
      const audit = await auditDataFolder(dataDir);
      figures.orphansAfterSweep += audit.orphans.length;
      figures.tempFilesAfterRestart += audit.staged.length;
      figures.corrupt += audit.corrupt.length;
      figures.lost += audit.missing.length;
      if (audit.integrity !== 'ok') figures.integrityFailures++;
      log(`kill ${round + 1} at ${killAtMs} ms of ${figures.calibrationMs}: ${roundAcknowledged.length} acknowledged, ${CONCURRENT_UPLOADS - roundAcknowledged.length} cut off; ` +
        `restart removed ${cleanup.leftovers} temp files, swept ${cleanup.orphansRemoved} orphans; ` +
        `audit: ${audit.rows} rows (${audit.inline} inside the database), ${audit.blobs} blobs, ${audit.orphans.length} orphans, ${audit.missing.length} missing, integrity ${audit.integrity}`);
    }
    // At the end, everything acknowledged in any round, once more.
    const final = await verifyAcknowledged(server.url, token, acknowledged);
    figures.lost += final.lost;
    figures.corrupt += final.corrupt;
    figures.rowsAtEnd = (await auditDataFolder(dataDir)).rows;
    return figures;
  } finally {
    await server?.process.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The case of kill-during-uploads.test.ts (3 kills) and .stress.ts (20): run, assert, record. */
export async function killDuringUploads(kills: number, variant: Variant, t: TestContext): Promise<void> {
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
