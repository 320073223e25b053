// `oapi-media backup` and `restore` refuse what they cannot do in one clear line and change
// nothing then: PostgreSQL/S3 configurations, a backup folder with files, a restore into a folder a
// server holds or that has data (without --force), an unfinished or damaged backup. A media deleted
// between the snapshot and its blob's copy is left out of the backup, never kept without its bytes.

import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readdir, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { backupDataFolder } from '../src/service/backup.ts';
import { sampleOfSize } from './fixtures/samples.ts';
import { cli, defaultAppCredentials, serve, type ServeProcess } from './helpers/cli.ts';
import { downloadBytes, getToken, sha256, upload } from './helpers/e2e-http.ts';

let root: string;
let dataDir: string;
let server: ServeProcess;
let token: string;
/** media_id -> sha256 of what was uploaded: two blob files and one small media kept in meta.sqlite. */
const uploaded = new Map<string, string>();

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'oapi-media-cli-backup-'));
  dataDir = join(root, 'data');
  server = await serve(['--data', dataDir]);
  const { appKey, appSecret } = await defaultAppCredentials(dataDir);
  token = await getToken(server.url, appKey, appSecret);
  for (const size of [200_000, 300_000, 20_000]) {
    const bytes = sampleOfSize('png', size);
    const answer = await upload(server.url, token, 'image', bytes, 'backup.png');
    assert.equal(answer.errcode, 0, JSON.stringify(answer));
    uploaded.set(answer.media_id!, sha256(bytes));
  }
});
after(async () => {
  await server?.stop();
  await rm(root, { recursive: true, force: true });
});

/** exit 1 and exactly this one line on stderr, nothing on stdout. */
async function refused(args: string[], line: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const result = await cli(args, env);
  assert.deepEqual([result.code, result.stderr, result.stdout], [1, `oapi-media: ${line}\n`, ''], args.join(' '));
}

/** A fresh backup of the live folder; its path. */
async function backupNow(name: string): Promise<string> {
  const dir = join(root, name);
  const result = await cli(['backup', '--to', dir, '--data', dataDir]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`^backed up ${dataDir} to ${dir}: 3 media \\(2 blob files, 1 inside meta\\.sqlite\\), 520,000 bytes, secret\\.key included; \\d+\\.\\d s\\n$`));
  return dir;
}

test('backup and restore refuse PostgreSQL and S3 configurations, pointing to the docs', async () => {
  const postgres = { DATABASE_URL: 'postgres://oapi@127.0.0.1:1/oapi', OAPI_MEDIA_SECRET_KEY: 'k'.repeat(32) };
  await refused(['backup', '--to', join(root, 'pg'), '--data', dataDir],
    'backup handles the embedded default\'s data folder (SQLite + local disk), but DATABASE_URL is set: use PostgreSQL\'s and the bucket\'s own tools instead (docs/backup.md)', postgres);
  await refused(['restore', '--from', join(root, 'pg'), '--data', dataDir],
    'restore handles the embedded default\'s data folder (SQLite + local disk), but DATABASE_URL and OAPI_MEDIA_STORAGE are set: use PostgreSQL\'s and the bucket\'s own tools instead (docs/backup.md)',
    { ...postgres, OAPI_MEDIA_STORAGE: 's3://bucket?endpoint=http://127.0.0.1:1' });
  assert.deepEqual(await readdir(root).then((names) => names.includes('pg')), false, 'nothing created');
});

test('backup refuses a backup folder that has files or is inside the data folder, and a folder that is no data folder', async () => {
  const used = join(root, 'used');
  await mkdir(used);
  await writeFile(join(used, 'notes.txt'), 'mine');
  await refused(['backup', '--to', used, '--data', dataDir], `backup folder ${used} is not empty: back up into a new or empty folder`);
  assert.deepEqual(await readdir(used), ['notes.txt']);
  await refused(['backup', '--to', join(dataDir, 'backups'), '--data', dataDir],
    `backup folder ${join(dataDir, 'backups')} is inside the data folder ${dataDir}: back up to a folder outside it (another disk, ideally)`);
  await refused(['backup', '--to', join(root, 'x'), '--data', join(root, 'nowhere')],
    `no data folder at ${join(root, 'nowhere')} (no meta.sqlite): pass the server's --data (or OAPI_MEDIA_DATA)`);
});

test('restore refuses a folder a server holds with the second server\'s message, and one with data without --force', async () => {
  const backup = await backupNow('held');
  await refused(['restore', '--from', backup, '--data', dataDir],
    `data folder ${dataDir} is in use by another oapi-media server (pid ${server.child.pid})`);
  const other = join(root, 'other-data');
  await mkdir(other);
  await writeFile(join(other, 'meta.sqlite'), 'not empty');
  await refused(['restore', '--from', backup, '--data', other],
    `data folder ${other} is not empty (meta.sqlite): restore into a new folder, or pass --force to replace its media, apps and key`);
  // --force replaces it, and the restored folder serves every media with its bytes.
  const forced = await cli(['restore', '--from', backup, '--data', other, '--force', '--json']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual((JSON.parse(forced.stdout) as { media: object }).media, { count: 3, inline: 1, blobs: 2, bytes: 520_000 });
  assert.deepEqual((await readdir(other)).filter((name) => !name.startsWith('server.')).sort(), ['blobs', 'meta.sqlite', 'secret.key']);
  const restored = await serve(['--data', other]);
  try {
    for (const [mediaId, expected] of uploaded) assert.equal(sha256((await downloadBytes(restored.url, token, mediaId)).bytes), expected, mediaId);
  } finally {
    await restored.stop();
  }
});

test('restore refuses an unfinished or damaged backup and leaves the target folder empty', async () => {
  const target = join(root, 'target');
  const backup = await backupNow('damaged');
  await rename(join(backup, 'manifest.json'), join(backup, 'manifest.json.away'));
  await refused(['restore', '--from', backup, '--data', target],
    `${backup} is not a complete oapi-media backup: it has no manifest.json (an interrupted backup, or another folder)`);
  await rename(join(backup, 'manifest.json.away'), join(backup, 'manifest.json'));

  const shard = (await readdir(join(backup, 'blobs')))[0]!;
  const [key] = await readdir(join(backup, 'blobs', shard));
  const blob = join(backup, 'blobs', shard, key!);
  const { size } = await stat(blob);
  await appendFile(blob, 'x');
  const db = new Database(join(backup, 'meta.sqlite'), { readonly: true });
  const row = db.prepare('SELECT media_id FROM media WHERE blob_key = ?').get(key) as { media_id: string };
  db.close();
  await refused(['restore', '--from', backup, '--data', target],
    `the backup in ${backup} is damaged: media ${row.media_id}'s blob ${key} does not match its row (size or sha256); nothing was restored`);
  assert.deepEqual((await readdir(target)).filter((name) => !name.startsWith('server.')), [], 'nothing restored, no work folder left');
  await truncate(blob, size);

  await appendFile(join(backup, 'meta.sqlite'), Buffer.alloc(4096));
  await refused(['restore', '--from', backup, '--data', target],
    `the backup in ${backup} is damaged: meta.sqlite does not match the manifest (size or sha256); nothing was restored`);
});

test('a media deleted between the snapshot and its blob\'s copy is left out of the backup, with its usage', async () => {
  const victim = [...uploaded.keys()][1]!;
  const dir = join(root, 'deleted-meanwhile');
  const { manifest } = await backupDataFolder(dataDir, dir, {
    afterSnapshot: async () => {
      const deleted = await cli(['media', 'delete', victim, '--data', dataDir]);
      assert.equal(deleted.code, 0, deleted.stderr);
    },
  });
  assert.equal(manifest.deletedDuringBackup, 1);
  assert.deepEqual(manifest.media, { count: 2, inline: 1, blobs: 1, bytes: 220_000 });
  const db = new Database(join(dir, 'meta.sqlite'), { readonly: true });
  assert.deepEqual(db.prepare('SELECT count(*) AS n FROM media WHERE media_id = ?').get(victim), { n: 0 });
  assert.deepEqual(db.prepare('SELECT sum(media_count) AS count, sum(total_bytes) AS bytes FROM org_usage').get(), { count: 2, bytes: 220_000 });
  db.close();
  uploaded.delete(victim);
});
