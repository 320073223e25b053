// Reads a data folder the way an auditor would, beside the running server: every blob file on disk
// against every media row of DATA/meta.sqlite (read-only connection, WAL), the staging folder, the
// database's own integrity check, and the sha256 of every blob against its row. A small media's
// bytes are kept inside the database with its row (inlineMaxBytes): those are hashed from there.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { readdir } from 'node:fs/promises';
import { stagingFiles } from '../../helpers/data-folder.ts';

/** Every file under DATA/blobs at any depth (whatever the shard layout), relative to it. */
async function blobFiles(dataDir: string): Promise<string[]> {
  const root = join(dataDir, 'blobs');
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name).slice(root.length + 1));
}

export interface DataAudit {
  rows: number;
  blobs: number;
  /** Blob files that no row references. */
  orphans: string[];
  /** Rows kept inside the database (their bytes in media_bytes, no blob file). */
  inline: number;
  /** Rows whose blob file (or inline bytes) is missing. */
  missing: string[];
  /** Rows whose blob's bytes do not hash to the row's sha256 (a partial or torn blob). */
  corrupt: string[];
  staged: string[];
  integrity: string;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * `hashes: false` skips hashing the bytes (corrupt stays empty): a drill that audits after each of
 * a thousand cases would otherwise rehash every earlier blob each time; it hashes once at the end.
 */
export async function auditDataFolder(dataDir: string, { hashes = true }: { hashes?: boolean } = {}): Promise<DataAudit> {
  const db = new Database(join(dataDir, 'meta.sqlite'), { readonly: true, fileMustExist: true });
  let rows: { media_id: string; blob_key: string; sha256: string; size: number; bytes: Buffer | null }[];
  let integrity: string;
  try {
    db.pragma('busy_timeout = 5000');
    rows = db
      .prepare(`SELECT m.media_id, m.blob_key, m.sha256, m.size, ${hashes ? 'b.bytes' : "CASE WHEN b.seq IS NULL THEN NULL ELSE x'' END AS bytes"} FROM media m LEFT JOIN media_bytes b ON b.seq = m.seq`)
      .all() as typeof rows;
    integrity = db.pragma('integrity_check', { simple: true }) as string;
  } finally {
    db.close();
  }
  const files = await blobFiles(dataDir); // shard folders, then the key
  const keyOf = (file: string): string => file.split('/').pop()!;
  const keyToPath = new Map(files.map((f) => [keyOf(f), f]));
  const referenced = new Set(rows.map((r) => r.blob_key));
  const orphans = files.filter((f) => !referenced.has(keyOf(f)));
  const missing: string[] = [];
  const corrupt: string[] = [];
  let inline = 0;
  for (const row of rows) {
    if (row.blob_key.startsWith('inline:')) {
      if (row.bytes === null) missing.push(row.media_id);
      else if (hashes && createHash('sha256').update(row.bytes).digest('hex') !== row.sha256 || row.bytes.length !== row.size) corrupt.push(row.media_id);
      inline++;
      continue;
    }
    const path = keyToPath.get(row.blob_key);
    if (path === undefined) missing.push(row.media_id);
    else if (hashes && (await sha256File(join(dataDir, 'blobs', path))) !== row.sha256) corrupt.push(row.media_id);
  }
  return { rows: rows.length, blobs: files.length, inline, orphans, missing, corrupt, staged: await stagingFiles(dataDir), integrity };
}
