// `oapi-media backup` and `restore` of the embedded default's data folder (docs/backup.md), beside a
// running server: it neither takes nor breaks the server's lock (data-lock.ts).
//
// Consistency: the database is copied first, as one snapshot (SQLite's online backup API, every
// page in one step, so the server's commits cannot make it restart), then the blobs its rows name.
// A blob is written before its row (media.ts), so every row of the snapshot has its blob; a media
// deleted after the snapshot (operator delete, org delete) may lose its blob before it is copied:
// that row is then left out of the backup (it was deleted anyway), never kept without its bytes.
// Each blob is hashed while it is copied and must match its row's sha256; the manifest, written
// last, holds the database file's sha256 and the totals, so an interrupted or truncated backup
// is refused by restore, which checks every byte again before it replaces anything.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
import packageJson from '../../package.json' with { type: 'json' };
import { createPrivateFile, dataFolder, FILE_MODE, FOLDER_MODE } from '../data-folder.ts';
import { MIGRATIONS } from '../stores/metadata/schema.ts';
import { lockDataFolder } from './data-lock.ts';

/** A backup or restore that cannot be made as asked: the message says why and what to do. */
export class BackupError extends Error {
  override name = 'BackupError';
}

export const MANIFEST_FILE = 'manifest.json';
const FORMAT = 'oapi-media-backup';
const FORMAT_VERSION = 1;
/** Where a backup is built inside its folder (same filesystem: the final moves are renames). */
const PARTIAL = '.partial';
/** Blob copies at once: enough to overlap disk latency, few enough to leave the server its disk. */
const COPY_CONCURRENCY = 4;
const ROWS_PER_PAGE = 500;
/** sqlite3_backup_step's page count that means "all of them", in one read transaction. */
const ALL_PAGES = 0x7fffffff;

export interface BackupManifest {
  format: typeof FORMAT;
  version: typeof FORMAT_VERSION;
  createdAt: string;
  serverVersion: string;
  /** PRAGMA user_version of the database: a restore refuses a schema newer than it knows. */
  schemaVersion: number;
  database: { file: 'meta.sqlite'; bytes: number; sha256: string };
  /** Every media row; `inline` of them kept inside meta.sqlite, `blobs` as files; `bytes` their sizes. */
  media: { count: number; inline: number; blobs: number; bytes: number };
  /** null: the folder had no secret.key (the key came from OAPI_MEDIA_SECRET_KEY). */
  secretKey: { file: 'secret.key'; sha256: string } | null;
  /** Media deleted on the live folder while their blobs were being copied: not in the backup. */
  deletedDuringBackup: number;
}

export interface BackupResult {
  manifest: BackupManifest;
  elapsedMs: number;
}

interface MediaFileRow { seq: number; media_id: string; blob_key: string; size: number; sha256: string }
interface InlineRow { seq: number; media_id: string; size: number; sha256: string; bytes: Buffer | null }

const blobPath = (blobsDir: string, key: string): string => join(blobsDir, key.slice(0, 2), key);
const sha256Of = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function entriesOf(dir: string): Promise<string[] | null> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Copies `from` to a new file `to` (0600, fsynced), hashing on the way (memory flat in file size).
 * Resolves to null when `from` does not exist; a partly written `to` is removed on failure.
 */
async function copyHashed(from: string, to: string): Promise<{ bytes: number; sha256: string } | null> {
  let source;
  try {
    source = await open(from, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  // An open file stays readable after it is unlinked: a delete from now on cannot cut the copy short.
  // The read stream owns (and closes) the source handle.
  const hash = createHash('sha256');
  let bytes = 0;
  let target: FileHandle | undefined;
  try {
    target = await open(to, 'wx', FILE_MODE);
    for await (const chunk of createReadStream('', { fd: source }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      for (let rest = chunk; rest.length > 0;) rest = rest.subarray((await target.write(rest)).bytesWritten);
    }
    await target.datasync();
    await target.close();
  } catch (error) {
    await source.close().catch(() => {});
    await target?.close().catch(() => {});
    await rm(to, { force: true });
    throw error;
  }
  return { bytes, sha256: hash.digest('hex') };
}

async function sha256OfFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Runs `work` on each item, at most `limit` at once; the first failure rejects (after the others settle). */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: unknown;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failure ??= error;
      }
    }
  });
  await Promise.all(runners);
  if (failure !== undefined) throw failure;
}

/** The file-blob rows of `db`, a page at a time in seq order (memory flat in the media count). */
function* fileRowPages(db: Database.Database): Generator<MediaFileRow[]> {
  const page = db.prepare<[number, number], MediaFileRow>(
    "SELECT seq, media_id, blob_key, size, sha256 FROM media WHERE blob_key NOT LIKE 'inline:%' AND seq > ? ORDER BY seq LIMIT ?");
  for (let after = 0; ;) {
    const rows = page.all(after, ROWS_PER_PAGE);
    if (rows.length === 0) return;
    yield rows;
    after = rows[rows.length - 1]!.seq;
  }
}

/** Every inline row's bytes must hash to its sha256; throws `damaged(mediaId)` otherwise. */
function checkInlineRows(db: Database.Database, damaged: (mediaId: string, why: string) => Error): number {
  const page = db.prepare<[number, number], InlineRow>(
    "SELECT m.seq, m.media_id, m.size, m.sha256, b.bytes FROM media m LEFT JOIN media_bytes b ON b.seq = m.seq WHERE m.blob_key LIKE 'inline:%' AND m.seq > ? ORDER BY m.seq LIMIT ?");
  let count = 0;
  for (let after = 0; ;) {
    const rows = page.all(after, ROWS_PER_PAGE);
    if (rows.length === 0) return count;
    for (const row of rows) {
      if (row.bytes === null) throw damaged(row.media_id, 'its bytes are missing from meta.sqlite');
      if (row.bytes.length !== row.size || sha256Of(row.bytes) !== row.sha256) throw damaged(row.media_id, 'its bytes in meta.sqlite do not match its sha256');
    }
    count += rows.length;
    after = rows[rows.length - 1]!.seq;
  }
}

function mediaTotals(db: Database.Database): { count: number; inline: number; bytes: number } {
  return db.prepare<[], { count: number; inline: number; bytes: number }>(
    "SELECT count(*) AS count, coalesce(sum(blob_key LIKE 'inline:%'), 0) AS inline, coalesce(sum(size), 0) AS bytes FROM media").get()!;
}

/** Copies the blob of each row of `db` from `fromBlobs` into `toBlobs`, checked against the row. */
async function copyBlobsOf(
  db: Database.Database,
  fromBlobs: string,
  toBlobs: string,
  onMissing: (row: MediaFileRow) => void,
  onMismatch: (row: MediaFileRow) => Error,
): Promise<number> {
  const shards = new Set<string>();
  let copied = 0;
  for (const rows of fileRowPages(db)) {
    for (const shard of new Set(rows.map((row) => row.blob_key.slice(0, 2)))) {
      if (shards.has(shard)) continue;
      await mkdir(join(toBlobs, shard), { recursive: true, mode: FOLDER_MODE });
      shards.add(shard);
    }
    await eachLimited(rows, COPY_CONCURRENCY, async (row) => {
      const copy = await copyHashed(blobPath(fromBlobs, row.blob_key), blobPath(toBlobs, row.blob_key));
      if (copy === null) return onMissing(row);
      if (copy.bytes !== row.size || copy.sha256 !== row.sha256) throw onMismatch(row);
      copied++;
    });
  }
  // The files were fsynced one by one; their names are durable once their folders are.
  for (const shard of shards) await fsyncPath(join(toBlobs, shard));
  await fsyncPath(toBlobs);
  return copied;
}

/** Refuses configurations whose data is not in the data folder: their engines have their own tools. */
export function checkEmbeddedEngines(settings: { databaseUrl: string | undefined; storageUrl: string | undefined }, command: 'backup' | 'restore'): void {
  const shared = [settings.databaseUrl !== undefined && 'DATABASE_URL', settings.storageUrl !== undefined && 'OAPI_MEDIA_STORAGE'].filter(Boolean);
  if (shared.length === 0) return;
  throw new BackupError(`${command} handles the embedded default's data folder (SQLite + local disk), but ${shared.join(' and ')} ${shared.length > 1 ? 'are' : 'is'} set: use PostgreSQL's and the bucket's own tools instead (docs/backup.md)`);
}

export interface BackupOptions {
  /** Runs between the snapshot and the blob copies: a test deletes a media there. */
  afterSnapshot?: () => Promise<void>;
}

/**
 * Backs up the data folder `dataDir` into `toDir` (a new or empty folder), while a server may run
 * on it. `toDir` gets meta.sqlite, blobs/, secret.key and, last, manifest.json.
 */
export async function backupDataFolder(dataDir: string, toDir: string, options: BackupOptions = {}): Promise<BackupResult> {
  const started = performance.now();
  const folder = dataFolder(dataDir);
  if ((await stat(folder.metaDatabase).catch(() => null)) === null) {
    throw new BackupError(`no data folder at ${dataDir} (no meta.sqlite): pass the server's --data (or OAPI_MEDIA_DATA)`);
  }
  const [from, to] = [resolve(dataDir), resolve(toDir)];
  if (to === from || to.startsWith(`${from}${sep}`)) {
    throw new BackupError(`backup folder ${toDir} is inside the data folder ${dataDir}: back up to a folder outside it (another disk, ideally)`);
  }
  const existing = await entriesOf(toDir);
  if (existing !== null && existing.some((name) => name !== PARTIAL)) {
    throw new BackupError(`backup folder ${toDir} is not empty: back up into a new or empty folder`);
  }
  const partial = join(toDir, PARTIAL);
  await rm(partial, { recursive: true, force: true }); // what an interrupted backup left
  await mkdir(partial, { recursive: true, mode: FOLDER_MODE });
  const snapshotFile = join(partial, 'meta.sqlite');
  const partialBlobs = join(partial, 'blobs');
  await mkdir(partialBlobs, { mode: FOLDER_MODE });

  let deletedDuringBackup = 0;
  const live = new Database(folder.metaDatabase, { fileMustExist: true });
  try {
    live.pragma('busy_timeout = 5000');
    await createPrivateFile(snapshotFile);
    await live.backup(snapshotFile, { progress: () => ALL_PAGES });
    const snapshot = new Database(snapshotFile, { fileMustExist: true });
    try {
      // A self-contained file (no -wal beside it); the server switches it back to WAL when it opens it.
      snapshot.pragma('journal_mode = DELETE');
      const stillReferenced = live.prepare<[string], { one: number }>('SELECT 1 AS one FROM media WHERE blob_key = ?');
      const gone: MediaFileRow[] = [];
      await options.afterSnapshot?.();
      await copyBlobsOf(snapshot, folder.blobs, partialBlobs,
        (row) => {
          if (stillReferenced.get(row.blob_key)) {
            throw new BackupError(`media ${row.media_id} has lost its bytes: blob ${row.blob_key} is missing from ${folder.blobs} although its row is there; nothing was backed up (docs/backup.md "A media without its bytes")`);
          }
          gone.push(row);
        },
        (row) => new BackupError(`media ${row.media_id}: blob ${row.blob_key} in ${folder.blobs} does not match its row (size or sha256): the data folder is damaged; nothing was backed up`));
      checkInlineRows(snapshot, (mediaId, why) => new BackupError(`media ${mediaId}: ${why}: the data folder is damaged; nothing was backed up`));
      if (gone.length > 0) {
        const forget = snapshot.prepare<[string], { org_id: string; size: number }>('DELETE FROM media WHERE media_id = ? RETURNING org_id, size');
        const shrink = snapshot.prepare<[number, string]>('UPDATE org_usage SET media_count = media_count - 1, total_bytes = total_bytes - ? WHERE org_id = ?');
        snapshot.transaction(() => {
          for (const row of gone) {
            const removed = forget.get(row.media_id);
            if (removed) shrink.run(removed.size, removed.org_id);
          }
        }).immediate();
        deletedDuringBackup = gone.length;
      }
      const totals = mediaTotals(snapshot);
      const schemaVersion = snapshot.pragma('user_version', { simple: true }) as number;
      snapshot.close();
      await fsyncPath(snapshotFile);
      const database = await sha256OfFile(snapshotFile);
      const key = await copyHashed(folder.secretKey, join(partial, 'secret.key'));
      await fsyncPath(partial);
      const manifest: BackupManifest = {
        format: FORMAT,
        version: FORMAT_VERSION,
        createdAt: new Date().toISOString(),
        serverVersion: packageJson.version,
        schemaVersion,
        database: { file: 'meta.sqlite', bytes: database.bytes, sha256: database.sha256 },
        media: { count: totals.count, inline: totals.inline, blobs: totals.count - totals.inline, bytes: totals.bytes },
        secretKey: key === null ? null : { file: 'secret.key', sha256: key.sha256 },
        deletedDuringBackup,
      };
      // Into place, the manifest last: a folder without it is an unfinished backup.
      for (const name of ['meta.sqlite', 'blobs', ...(key === null ? [] : ['secret.key'])]) await rename(join(partial, name), join(toDir, name));
      await writeFile(join(partial, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: FILE_MODE });
      await fsyncPath(join(partial, MANIFEST_FILE));
      await fsyncPath(toDir);
      await rename(join(partial, MANIFEST_FILE), join(toDir, MANIFEST_FILE));
      await rm(partial, { recursive: true, force: true });
      await fsyncPath(toDir);
      return { manifest, elapsedMs: performance.now() - started };
    } finally {
      if (snapshot.open) snapshot.close();
    }
  } catch (error) {
    await rm(partial, { recursive: true, force: true }).catch(() => {});
    throw error;
  } finally {
    live.close();
  }
}

async function readManifest(fromDir: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await readFile(join(fromDir, MANIFEST_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new BackupError(`${fromDir} is not a complete oapi-media backup: it has no ${MANIFEST_FILE} (an interrupted backup, or another folder)`);
  }
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(text) as BackupManifest;
  } catch {
    throw new BackupError(`${fromDir}/${MANIFEST_FILE} is not valid JSON: the backup is damaged`);
  }
  if (manifest?.format !== FORMAT || manifest.version !== FORMAT_VERSION) {
    throw new BackupError(`${fromDir}/${MANIFEST_FILE} is not an oapi-media backup manifest of version ${FORMAT_VERSION}`);
  }
  const known = MIGRATIONS[MIGRATIONS.length - 1]!.version;
  if (manifest.schemaVersion > known) {
    throw new BackupError(`the backup in ${fromDir} was made by oapi-media ${manifest.serverVersion} (schema ${manifest.schemaVersion}); this version knows schema ${known}: restore it with oapi-media ${manifest.serverVersion} or newer`);
  }
  return manifest;
}

/** What a server or an earlier restore leaves in a data folder that is not data. */
const NOT_DATA = new Set(['server.lock', 'server.lock-journal', 'server.pid']);

/** The data a folder holds, as restore --force replaces it. */
const DATA_ENTRIES = ['meta.sqlite', 'meta.sqlite-wal', 'meta.sqlite-shm', 'blobs', 'tmp', 'secret.key', 'sample.png'];

/**
 * Restores the backup in `fromDir` into the data folder `dataDir`: refused while a server holds
 * the folder, and into a folder with data unless `force`. Every byte is checked against the
 * manifest and the rows before anything in `dataDir` is replaced.
 */
export async function restoreDataFolder(fromDir: string, dataDir: string, options: { force: boolean }): Promise<BackupResult> {
  const started = performance.now();
  const manifest = await readManifest(fromDir);
  const damaged = (what: string): BackupError => new BackupError(`the backup in ${fromDir} is damaged: ${what}; nothing was restored`);
  const database = await sha256OfFile(join(fromDir, 'meta.sqlite')).catch(() => null);
  if (database === null || database.sha256 !== manifest.database.sha256 || database.bytes !== manifest.database.bytes) {
    throw damaged(`meta.sqlite ${database === null ? 'is missing' : 'does not match the manifest (size or sha256)'}`);
  }
  const unlock = await lockDataFolder(dataDir); // a live server's folder: the second server's refusal
  const work = join(dataDir, `.restore-${process.pid}`);
  const displaced = join(dataDir, `.restore-replaced-${process.pid}`);
  try {
    const present = (await readdir(dataDir)).filter((name) => !NOT_DATA.has(name) && !name.startsWith('.restore-'));
    if (present.length > 0 && !options.force) {
      throw new BackupError(`data folder ${dataDir} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''}): restore into a new folder, or pass --force to replace its media, apps and key`);
    }
    await rm(work, { recursive: true, force: true });
    await mkdir(join(work, 'blobs'), { recursive: true, mode: FOLDER_MODE });
    const restoredDb = join(work, 'meta.sqlite');
    const copied = await copyHashed(join(fromDir, 'meta.sqlite'), restoredDb);
    if (copied?.sha256 !== manifest.database.sha256) throw damaged('meta.sqlite changed while it was read');
    const db = new Database(restoredDb, { fileMustExist: true });
    try {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw damaged(`meta.sqlite fails SQLite's check (${String(check)})`);
      const totals = mediaTotals(db);
      if (totals.count !== manifest.media.count || totals.inline !== manifest.media.inline || totals.bytes !== manifest.media.bytes) {
        throw damaged(`meta.sqlite has ${totals.count} media of ${totals.bytes} bytes, the manifest says ${manifest.media.count} of ${manifest.media.bytes}`);
      }
      checkInlineRows(db, (mediaId, why) => damaged(`media ${mediaId}: ${why}`));
      await copyBlobsOf(db, join(fromDir, 'blobs'), join(work, 'blobs'),
        (row) => { throw damaged(`media ${row.media_id}'s blob ${row.blob_key} is missing`); },
        (row) => damaged(`media ${row.media_id}'s blob ${row.blob_key} does not match its row (size or sha256)`));
    } finally {
      db.close();
    }
    await fsyncPath(restoredDb);
    if (manifest.secretKey !== null) {
      const key = await copyHashed(join(fromDir, 'secret.key'), join(work, 'secret.key'));
      if (key?.sha256 !== manifest.secretKey.sha256) throw damaged(`secret.key ${key === null ? 'is missing' : 'does not match the manifest'}`);
    }
    await fsyncPath(work);
    // Everything checked: the old data aside, the restored data in, the old data gone.
    await mkdir(displaced, { recursive: true, mode: FOLDER_MODE });
    for (const name of DATA_ENTRIES) {
      await rename(join(dataDir, name), join(displaced, name)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
    for (const name of await readdir(work)) await rename(join(work, name), join(dataDir, name));
    await fsyncPath(dataDir);
    await rm(displaced, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
    return { manifest, elapsedMs: performance.now() - started };
  } catch (error) {
    await rm(work, { recursive: true, force: true }).catch(() => {});
    throw error;
  } finally {
    await unlock();
  }
}
