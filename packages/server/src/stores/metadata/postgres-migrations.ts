// Applies the one migration list (schema.ts) to a PostgreSQL schema: each migration in its own
// transaction, recorded in schema_migrations. Nodes starting at once serialize on an advisory
// lock (issue 7: two nodes starting at once must not race), so re-running is a no-op.

import type { PoolClient } from 'pg';
import { MIGRATIONS } from './schema.ts';

/** First key of the two-int advisory lock: "oapi" in ASCII; the second is the schema's hash. */
const ADVISORY_LOCK_CLASS = 0x6f617069;

/**
 * Brings `schema` up to the newest migration. The client's search_path must already point at
 * `schema` (a quoted, validated identifier). Returns the versions it applied.
 */
export async function migrateSchema(client: PoolClient, schema: string): Promise<number[]> {
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
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        for (const statement of migration.statements('postgres')) await client.query(statement);
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
