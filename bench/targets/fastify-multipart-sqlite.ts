// fastify-multipart-sqlite: Fastify 5 + @fastify/multipart streamed to disk, one SQLite row per
// upload — a careful hand-written peer without auth, sniffing, hashing or fsync.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { Target } from '../target.ts';
import { countPayloadFiles } from '../verify-stored.ts';
import { startNodePeer } from '../node-peer.ts';

const SERVER_SCRIPT = fileURLToPath(new URL('../servers/fastify-multipart-sqlite.ts', import.meta.url));

function countRows(dataDir: string, size: number): number {
  const db = new Database(join(dataDir, 'meta.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM media WHERE size = ?').get(size) as { n: number }).n;
  } finally {
    db.close();
  }
}

export const fastifyMultipartSqlite: Target = {
  name: 'fastify-multipart-sqlite',
  description: 'Fastify 5 + @fastify/multipart streamed to disk with pipeline, one better-sqlite3 (WAL) row per upload; no auth, sniffing, hashing or fsync',
  async unavailableReason() {
    return null;
  },
  start(dataDir) {
    return startNodePeer('fastify-multipart-sqlite', SERVER_SCRIPT, [dataDir], async (payload) => {
      const onDisk = await countPayloadFiles(join(dataDir, 'files'), payload);
      const rows = countRows(dataDir, payload.size);
      // A file without its row was never acknowledged as stored: count the smaller of the two.
      const files = Math.min(rows, onDisk.files);
      return { ...onDisk, files, bytes: files * payload.size, detail: `${rows} rows; ${onDisk.detail}` };
    });
  },
};
