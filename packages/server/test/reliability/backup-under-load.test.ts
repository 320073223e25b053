// Faults: `oapi-media backup` of a data folder while a server process takes 8 concurrent uploads
// for the whole backup, then `oapi-media restore` into a fresh folder and a server on it (issue 15,
// item 5). Every upload acknowledged before the backup started is in it; every media of the
// backup downloads from the restored server with the sha256 its uploader recorded; the restored
// folder has no orphan, no missing or torn blob, and the tokens of before still work (secret.key).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { MediaFormat, MediaType } from '@oapi-media/core';
import { sampleOfSize } from '../fixtures/samples.ts';
import { cli } from '../helpers/cli.ts';
import { downloadBytes, getToken, sha256, upload } from '../helpers/e2e-http.ts';
import { auditDataFolder } from './helpers/data-audit.ts';
import { count, recordFigures } from './helpers/figures.ts';
import { seededRandom, type SeededRandom } from './helpers/seeded-random.ts';
import { startServerProcess, type StartedServer } from './helpers/server-under-test.ts';

const UPLOADERS = 8;
const MEDIA_BEFORE_BACKUP = 160;
const FORMATS: readonly (readonly [MediaFormat, MediaType, string])[] = [
  ['png', 'image', 'png'], ['jpg', 'image', 'jpg'], ['mp3', 'voice', 'mp3'], ['pdf', 'file', 'pdf'], ['zip', 'file', 'zip'],
];

let root: string;
const servers: StartedServer[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'oapi-media-backup-drill-'));
});
after(async () => {
  for (const server of servers) await server.process.stop('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

/** A third of the uploads small enough to be kept inside meta.sqlite (64 KiB), the rest blob files. */
function sampleUpload(random: SeededRandom): { type: MediaType; name: string; bytes: Buffer } {
  const [format, type, ext] = random.pick(FORMATS);
  const size = random.int(0, 2) === 0 ? random.int(2 * 1024, 60 * 1024) : random.int(70 * 1024, 400 * 1024);
  return { type, name: `drill.${ext}`, bytes: sampleOfSize(format, size) };
}

test(`backup while ${UPLOADERS} uploaders run, restore into a fresh folder: every media downloads with its sha256`, { timeout: 120_000 }, async () => {
  const random = seededRandom(15_005);
  const liveDir = join(root, 'live');
  const backupDir = join(root, 'backup');
  const restoredDir = join(root, 'restored');
  const live = await startServerProcess(liveDir);
  servers.push(live);
  const credentials = live.credentials!;
  const token = await getToken(live.url, credentials.appKey, credentials.appSecret);

  /** Every acknowledged upload: media_id -> the sha256 its uploader sent. */
  const acknowledged = new Map<string, string>();
  const uploadOne = async (): Promise<string> => {
    const { type, name, bytes } = sampleUpload(random);
    const answer = await upload(live.url, token, type, bytes, name);
    assert.equal(answer.errcode, 0, JSON.stringify(answer));
    acknowledged.set(answer.media_id!, sha256(bytes));
    return answer.media_id!;
  };
  for (let i = 0; i < MEDIA_BEFORE_BACKUP; i += UPLOADERS) await Promise.all(Array.from({ length: UPLOADERS }, uploadOne));

  // Load for the whole backup: each uploader starts its next upload as soon as one is answered.
  let backupRunning = true;
  let uploadsDuringBackup = 0;
  const uploaders = Array.from({ length: UPLOADERS }, async () => {
    while (backupRunning) {
      await uploadOne();
      if (backupRunning) uploadsDuringBackup++;
    }
  });
  const ackedBeforeBackup = new Map(acknowledged);
  const backupStarted = performance.now();
  const backup = await cli(['backup', '--to', backupDir, '--data', liveDir, '--json']);
  const backupMs = performance.now() - backupStarted;
  backupRunning = false;
  await Promise.all(uploaders);
  assert.equal(backup.code, 0, backup.stderr);
  assert.equal(backup.stderr, '');
  const manifest = JSON.parse(backup.stdout) as { media: { count: number; inline: number; blobs: number; bytes: number }; secretKey: object | null; deletedDuringBackup: number };
  assert.ok(uploadsDuringBackup >= UPLOADERS, `uploads kept coming during the backup (${uploadsDuringBackup})`);
  await live.process.stop();

  // What the backup holds, read from its own database.
  const backupDb = new Database(join(backupDir, 'meta.sqlite'), { readonly: true, fileMustExist: true });
  const backedUp = backupDb.prepare('SELECT media_id, sha256 FROM media').all() as { media_id: string; sha256: string }[];
  backupDb.close();
  assert.equal(backedUp.length, manifest.media.count);
  assert.equal(manifest.deletedDuringBackup, 0);
  assert.notEqual(manifest.secretKey, null);
  const inBackup = new Map(backedUp.map((row) => [row.media_id, row.sha256]));
  const missingFromBackup = [...ackedBeforeBackup.keys()].filter((id) => !inBackup.has(id));
  assert.deepEqual(missingFromBackup, [], 'every upload acknowledged before the backup started is in it');
  assert.ok(manifest.media.inline > 0 && manifest.media.blobs > 0, `both kinds of media: ${JSON.stringify(manifest.media)}`);

  const restore = await cli(['restore', '--from', backupDir, '--data', restoredDir, '--json']);
  assert.equal(restore.code, 0, restore.stderr);
  const restoreMs = (JSON.parse(restore.stdout) as { elapsedMs: number }).elapsedMs;
  const restored = await startServerProcess(restoredDir);
  servers.push(restored);
  assert.equal(restored.credentials, undefined, 'a restored folder is not a first start');
  assert.equal((await restored.startupCleanup).orphansRemoved, 0);
  // The token issued before the backup is answered again: the same secret.key, the same token rows.
  assert.equal(await getToken(restored.url, credentials.appKey, credentials.appSecret), token);

  let downloadedBytes = 0;
  const mismatched: string[] = [];
  for (const [mediaId, rowSha256] of inBackup) {
    const { bytes } = await downloadBytes(restored.url, token, mediaId);
    downloadedBytes += bytes.length;
    if (sha256(bytes) !== acknowledged.get(mediaId) || rowSha256 !== acknowledged.get(mediaId)) mismatched.push(mediaId);
  }
  assert.deepEqual(mismatched, [], 'every media of the backup downloads with the sha256 its uploader sent');
  assert.equal(downloadedBytes, manifest.media.bytes);
  await restored.process.stop();
  const audit = await auditDataFolder(restoredDir);
  assert.deepEqual({ orphans: audit.orphans, missing: audit.missing, corrupt: audit.corrupt, integrity: audit.integrity, rows: audit.rows },
    { orphans: [], missing: [], corrupt: [], integrity: 'ok', rows: manifest.media.count });

  const figures = {
    uploaders: UPLOADERS,
    mediaInBackup: manifest.media.count,
    inlineMedia: manifest.media.inline,
    blobFiles: manifest.media.blobs,
    bytes: manifest.media.bytes,
    acknowledgedBeforeBackup: ackedBeforeBackup.size,
    uploadsDuringBackup,
    backupMs: Math.round(backupMs),
    restoreMs: Math.round(restoreMs),
    downloadedAfterRestore: inBackup.size,
    lost: missingFromBackup.length,
    mismatched: mismatched.length,
  };
  await recordFigures({
    id: 'faults/backup-restore-under-load',
    section: 'Faults',
    title: `backup while ${UPLOADERS} uploaders run, restore into a fresh folder, every media downloaded (sha256)`,
    variant: 'default',
    summary: `${count(figures.mediaInBackup)} media (${count(figures.blobFiles)} blob files, ${count(figures.inlineMedia)} inline), ${count(figures.bytes)} bytes backed up in ${count(figures.backupMs)} ms (the CLI process included) while ${count(uploadsDuringBackup)} uploads were acknowledged; restore ${count(figures.restoreMs)} ms; 0 of ${count(ackedBeforeBackup.size)} earlier uploads missing, 0 sha256 mismatches`,
    figures,
  });
});
