// Scenario (e) needs 10 k .. 1 M media already stored. Uploading them through the API would take
// hours, so the rows go straight into the product's SQLite file (schema of
// packages/server/src/stores/metadata/sqlite.ts, migration 1) in one transaction with one prepared
// insert, with org_usage kept consistent. Blob files exist only for the rows the bench downloads.

import { randomBytes } from 'node:crypto';
import { copyFileSync, linkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Payload } from './payloads.ts';
import { BLOB_DIR, METADATA_FILE, type AppCredentials } from './targets/oapi-media.ts';

export interface SeededMedia {
  /** media_ids whose blob files exist: what the download half of scenario (e) fetches. */
  downloadableIds: string[];
  seconds: number;
}

/** The product's shapes (service/ids.ts): '@' + 18 random bytes base64url; blob key 32 hex. */
const MEDIA_ID_BYTES = 18;
const BLOB_KEY_BYTES = 16;
const RANDOM_BATCH_ROWS = 10_000;

/**
 * `count` random media_ids and blob keys, each list sorted, so that inserting row i with
 * mediaIds[i] and blobKeys[i] appends to both indexes. Every key is still random.
 */
function sortedRandomKeys(count: number): { mediaIds: string[]; blobKeys: string[] } {
  const mediaIds: string[] = [];
  const blobKeys: string[] = [];
  for (let batchStart = 0; batchStart < count; batchStart += RANDOM_BATCH_ROWS) {
    const rows = Math.min(RANDOM_BATCH_ROWS, count - batchStart);
    const random = randomBytes(rows * (MEDIA_ID_BYTES + BLOB_KEY_BYTES));
    for (let r = 0; r < rows; r++) {
      const at = r * (MEDIA_ID_BYTES + BLOB_KEY_BYTES);
      mediaIds.push(`@${random.toString('base64url', at, at + MEDIA_ID_BYTES)}`);
      blobKeys.push(random.toString('hex', at + MEDIA_ID_BYTES, at + MEDIA_ID_BYTES + BLOB_KEY_BYTES));
    }
  }
  // Code-unit order is SQLite's BINARY collation order for these ASCII keys.
  mediaIds.sort();
  blobKeys.sort();
  return { mediaIds, blobKeys };
}

/** Where stores/blobs/fs.ts keeps a blob: blobs/<k0k1>/<key>. */
function blobPath(dataDir: string, blobKey: string): { dir: string; file: string } {
  const dir = join(dataDir, BLOB_DIR, blobKey.slice(0, 2));
  return { dir, file: join(dir, blobKey) };
}

function placeBlob(payload: Payload, file: string): void {
  try {
    linkSync(payload.path, file); // same filesystem: no copy needed, the bytes are identical
  } catch {
    copyFileSync(payload.path, file);
  }
}

/**
 * Inserts `count` media rows owned by the bench app's org, and blob files for `downloadable`
 * of them spread evenly over the table (so downloads touch old and new rows alike).
 * The server must be stopped: this writes the database file directly.
 */
export function seedMediaRows(dataDir: string, app: AppCredentials, payload: Payload, count: number, downloadable: number): SeededMedia {
  const started = process.hrtime.bigint();
  const db = new Database(join(dataDir, METADATA_FILE));
  try {
    db.pragma('journal_mode = WAL');
    // Two unique indexes (media_id, blob_key) take random keys: in random order they thrash
    // SQLite's page cache (90 s for 1 M rows), so the keys are sorted first and the cache is big.
    // The server is stopped, so skipping fsyncs here risks nothing.
    db.pragma('cache_size = -1048576');
    db.pragma('synchronous = OFF');
    const appRow = db.prepare('SELECT id, org_id FROM apps WHERE app_key = ?').get(app.appkey) as { id: string; org_id: string } | undefined;
    if (!appRow) throw new Error(`seed: no app with key ${app.appkey} in ${METADATA_FILE}`);
    const insert = db.prepare(
      `INSERT INTO media (media_id, org_id, uploaded_by, type, format, file_name, size, sha256, blob_key, created_at)
       VALUES (?, ?, ?, 'file', 'pdf', ?, ?, ?, ?, ?)`,
    );
    const every = downloadable > 0 ? Math.max(1, Math.floor(count / downloadable)) : Infinity;
    const { mediaIds, blobKeys } = sortedRandomKeys(count);
    const downloadableIds: string[] = [];
    const createdAt = Date.now() - 86_400_000;
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        insert.run(mediaIds[i], appRow.org_id, appRow.id, `seed-${i}.pdf`, payload.size, payload.sha256, blobKeys[i], createdAt + i);
        if (i % every === 0 && downloadableIds.length < downloadable) {
          const { dir, file } = blobPath(dataDir, blobKeys[i]!);
          mkdirSync(dir, { recursive: true });
          placeBlob(payload, file);
          downloadableIds.push(mediaIds[i]!);
        }
      }
      db.prepare('INSERT INTO org_usage (org_id) VALUES (?) ON CONFLICT (org_id) DO NOTHING').run(appRow.org_id);
      db.prepare('UPDATE org_usage SET media_count = media_count + ?, total_bytes = total_bytes + ? WHERE org_id = ?').run(count, count * payload.size, appRow.org_id);
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { downloadableIds, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  } finally {
    db.close();
  }
}
