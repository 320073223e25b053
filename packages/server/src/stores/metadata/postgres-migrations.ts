// Versioned PostgreSQL migrations: migrations/postgres/NNN_name.sql, applied in order, each in its
// own transaction, recorded in schema_migrations. Nodes starting at once serialize on an advisory
// lock (issue 7: two nodes starting at once must not race), so re-running is a no-op.

import { readdir, readFile } from 'node:fs/promises';
import type { PoolClient } from 'pg';

const MIGRATIONS_DIR = new URL('./migrations/postgres/', import.meta.url);
const MIGRATION_FILE = /^(\d{3})_([a-z0-9_]+)\.sql$/;
/** First key of the two-int advisory lock: "oapi" in ASCII; the second is the schema's hash. */
const ADVISORY_LOCK_CLASS = 0x6f617069;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function loadMigrations(): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const file of (await readdir(MIGRATIONS_DIR)).sort()) {
    const match = MIGRATION_FILE.exec(file);
    if (!match) continue;
    migrations.push({ version: Number(match[1]), name: match[2]!, sql: await readFile(new URL(file, MIGRATIONS_DIR), 'utf8') });
  }
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) throw new Error(`two migrations numbered ${migrations[i]!.version}`);
  }
  return migrations;
}

/**
 * Brings `schema` up to the newest migration. The client's search_path must already point at
 * `schema` (a quoted, validated identifier). Returns the versions it applied.
 */
export async function migrateSchema(client: PoolClient, schema: string): Promise<number[]> {
  const migrations = await loadMigrations();
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [ADVISORY_LOCK_CLASS, schema]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${schema}".schema_migrations (
         version    integer PRIMARY KEY,
         name       text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM "${schema}".schema_migrations`);
    const applied = new Set(rows.map((row) => row.version));
    const newlyApplied: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
      newlyApplied.push(migration.version);
    }
    return newlyApplied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [ADVISORY_LOCK_CLASS, schema]);
  }
}
