// Which engines a test server runs on: SQLite + disk in its data folder (the default), or the
// shared engines named by TEST_DATABASE_URL / TEST_STORAGE_URL (scripts/test-engines.mjs). Tests
// assume an empty store holding only the first-start `default` org, so on shared engines every
// server gets a fresh PostgreSQL schema and a fresh S3 key prefix of its own.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ConfigInput } from '../../src/config.ts';
import { parsePostgresUrl } from '../../src/stores/metadata/postgres.ts';

export interface TestEngines {
  /**
   * `overrides` plus databaseUrl / storageUrl (and the shared token key PostgreSQL requires) for
   * the engines the overrides do not name; a suite opts out of one with e.g. `databaseUrl: undefined`.
   */
  config: ConfigInput;
  /** Drops the server's schema; its objects go with the S3 run (s3rver folder, throwaway Ceph). */
  drop(): Promise<void>;
}

export function testEngines(overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): TestEngines {
  const run = randomBytes(6).toString('hex');
  const config: ConfigInput = {};
  let schema: string | undefined;
  const databaseUrl = 'databaseUrl' in overrides ? undefined : env.TEST_DATABASE_URL || undefined;
  if (databaseUrl !== undefined) {
    schema = `t_${run}`;
    config.databaseUrl = withSchema(databaseUrl, schema);
    config.secretKey = randomBytes(32).toString('base64url');
  }
  const storageUrl = 'storageUrl' in overrides ? undefined : env.TEST_STORAGE_URL || undefined;
  if (storageUrl !== undefined) config.storageUrl = withPrefix(storageUrl, `t-${run}`);
  return {
    config: { ...config, ...overrides },
    async drop() {
      if (databaseUrl === undefined || schema === undefined) return;
      const client = new pg.Client({ connectionString: parsePostgresUrl(databaseUrl).connectionString });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

function withSchema(databaseUrl: string, schema: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('schema', schema);
  return url.toString();
}

/** s3://BUCKET[/prefix]?... -> s3://BUCKET[/prefix]/ADDED?... */
function withPrefix(storageUrl: string, added: string): string {
  const url = new URL(storageUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${added}`;
  return url.toString();
}

/** Every row of every table of `schema`, as text: what a leaked PostgreSQL database would show. */
export async function postgresSchemaText(databaseUrl: string): Promise<string> {
  const { connectionString, schema = 'public' } = parsePostgresUrl(databaseUrl);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
      [schema],
    );
    let text = '';
    for (const { table_name: table } of tables) {
      const { rows } = await client.query<{ row: string }>(`SELECT t::text AS row FROM "${schema}"."${table}" t`);
      text += rows.map((r) => r.row).join('\n');
    }
    return text;
  } finally {
    await client.end();
  }
}
