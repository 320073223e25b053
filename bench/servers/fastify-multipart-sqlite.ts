// A careful hand-written peer: Fastify 5 + @fastify/multipart streaming the file part to disk with
// pipeline, then one better-sqlite3 row per upload (WAL). No auth, no sniffing, no hashing and no
// fsync (synchronous=NORMAL: SQLite does not fsync the WAL on each commit) — the work the product
// does on top is what the comparison prices.
//   node --import tsx bench/servers/fastify-multipart-sqlite.ts DATA_DIR -> prints "listening on ..."

import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import multipart from '@fastify/multipart';
import { exitWithParent } from './exit-with-parent.ts';

exitWithParent();
const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: fastify-multipart-sqlite.ts DATA_DIR');
const filesDir = join(dataDir, 'files');
mkdirSync(filesDir, { recursive: true });

const db = new Database(join(dataDir, 'meta.sqlite'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE IF NOT EXISTS media (id TEXT PRIMARY KEY, file_name TEXT NOT NULL, size INTEGER NOT NULL, created_at INTEGER NOT NULL)');
const insertMedia = db.prepare('INSERT INTO media (id, file_name, size, created_at) VALUES (?, ?, ?, ?)');

const app = Fastify({ logger: false, keepAliveTimeout: 65_000 });
await app.register(multipart, { limits: { fileSize: 30 * 1024 * 1024, files: 1 } });

app.post('/upload', async (request, reply) => {
  const part = await request.file();
  if (!part) return reply.code(400).send({ errcode: 41005 });
  const id = randomUUID();
  const output = createWriteStream(join(filesDir, id));
  await pipeline(part.file, output);
  if (part.file.truncated) return reply.code(413).send({ errcode: 40006 });
  insertMedia.run(id, part.filename, output.bytesWritten, Date.now());
  return { errcode: 0, id, size: output.bytesWritten };
});

const address = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening on ${address}`);
