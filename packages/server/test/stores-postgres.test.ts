// PostgresMetadataStore on the machine's PostgreSQL (issue 7: 127.0.0.1:5432, user postgres,
// trust auth), each run in a fresh database of its own: the conformance suite, migrations, and
// the translation of an unreachable server. With CI=true an unreachable PostgreSQL fails the run.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { StoreUnavailableError } from '../src/stores/metadata/interface.ts';
import { MIGRATIONS } from '../src/stores/metadata/schema.ts';
import { PostgresMetadataStore } from '../src/stores/metadata/postgres.ts';
import { assertLegacyRowsMigrated, legacyRowsSql } from './conformance/legacy-migration.ts';
import { describeMetadataStore } from './conformance/metadata-store.ts';

const ADMIN_URL = process.env.OAPI_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function postgresUnreachableReason(): Promise<string | null> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A fresh, empty database for one run: CREATE DATABASE oapi_test_<random>, DROP at the end. */
async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `oapi_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = new pg.Client({ connectionString: ADMIN_URL });
      await dropper.connect();
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}

async function tableNames(url: string, schema: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    return rows.map((row) => row.table_name);
  } finally {
    await client.end();
  }
}

const unreachable = await postgresUnreachableReason();

if (unreachable !== null && process.env.CI === 'true') {
  test('PostgreSQL is reachable (required with CI=true)', () => {
    assert.fail(`PostgreSQL at ${ADMIN_URL} is unreachable: ${unreachable}`);
  });
} else if (unreachable !== null) {
  test('PostgresMetadataStore', { skip: `PostgreSQL at ${ADMIN_URL} is unreachable (${unreachable}); start it or set OAPI_TEST_POSTGRES_URL` }, () => {});
} else {
  describe('PostgresMetadataStore', () => {
    let database: { url: string; drop(): Promise<void> };
    before(async () => {
      database = await createTestDatabase();
    });
    after(async () => {
      await database?.drop();
    });

    describeMetadataStore('PostgreSQL, public schema', async () => {
      const store = new PostgresMetadataStore(database.url);
      await store.init();
      return { store, cleanup: () => store.close() };
    }, { keepsBytes: false });

    describe('migrations', () => {
      test('from an empty schema: every migration applied in order, recorded, tables created', async () => {
        const store = new PostgresMetadataStore(database.url, { schema: 'migrate_fresh' });
        try {
          const expected = MIGRATIONS.map((m) => m.version);
          assert.ok(expected.length > 0);
          assert.deepEqual(await store.migrate(), expected);
          const tables = await tableNames(database.url, 'migrate_fresh');
          for (const table of ['apps', 'media', 'org_usage', 'orgs', 'schema_migrations', 'tokens']) {
            assert.ok(tables.includes(table), `table ${table} missing after migrate()`);
          }
          await store.ping();
        } finally {
          await store.close();
        }
      });

      test('re-running migrate() applies nothing and keeps the data', async () => {
        const store = new PostgresMetadataStore(database.url, { schema: 'migrate_rerun' });
        try {
          await store.init();
          const org = { id: 'org_1', name: 'kept', corpId: 'ding1', createdAt: 1, quotaBytes: null, rateLimitPerSecond: null };
          await store.createOrg(org);
          assert.deepEqual(await store.migrate(), []);
          await store.init();
          assert.deepEqual(await store.getOrgById('org_1'), org);
        } finally {
          await store.close();
        }
      });

      test('five nodes migrating the same empty schema at once all succeed; each migration applied once', async () => {
        const stores = Array.from({ length: 5 }, () => new PostgresMetadataStore(database.url, { schema: 'migrate_race' }));
        try {
          const applied = await Promise.all(stores.map((store) => store.migrate()));
          const expected = MIGRATIONS.map((m) => m.version);
          assert.deepEqual(applied.flat().sort((a, b) => a - b), expected, 'each version applied by exactly one node');
          const client = new pg.Client({ connectionString: database.url });
          await client.connect();
          try {
            const { rows } = await client.query<{ version: number }>('SELECT version FROM migrate_race.schema_migrations ORDER BY version');
            assert.deepEqual(rows.map((r) => r.version), expected);
          } finally {
            await client.end();
          }
          for (const store of stores) await store.ping();
        } finally {
          await Promise.all(stores.map((store) => store.close()));
        }
      });

      test('two schemas in one database are independent stores', async () => {
        const tenantA = new PostgresMetadataStore(database.url, { schema: 'tenant_a' });
        const tenantB = new PostgresMetadataStore(database.url, { schema: 'tenant_b' });
        try {
          await Promise.all([tenantA.init(), tenantB.init()]);
          await tenantA.createOrg({ id: 'org_a', name: 'same', corpId: 'a', createdAt: 1, quotaBytes: null, rateLimitPerSecond: null });
          await tenantB.createOrg({ id: 'org_b', name: 'same', corpId: 'b', createdAt: 1, quotaBytes: null, rateLimitPerSecond: null });
          assert.equal((await tenantA.getOrgByName('same'))?.id, 'org_a');
          assert.equal((await tenantB.getOrgByName('same'))?.id, 'org_b');
        } finally {
          await Promise.all([tenantA.close(), tenantB.close()]);
        }
      });

      test('a schema made by earlier releases (schema_migrations {1, 2}, their .sql files) migrates forward with its rows', async () => {
        const client = new pg.Client({ connectionString: database.url });
        await client.connect();
        try {
          await client.query('CREATE SCHEMA legacy; SET search_path = legacy');
          await client.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
          for (const [version, file] of [[1, 'postgres-001_initial.sql'], [2, 'postgres-002_suites.sql']] as const) {
            await client.query(await readFile(new URL(`./fixtures/legacy-schema/${file}`, import.meta.url), 'utf8'));
            await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [version, file]);
          }
          await client.query(legacyRowsSql('blob-a'));
          await client.query("INSERT INTO org_usage VALUES ('org_2', 0, 0)");
        } finally {
          await client.end();
        }
        const store = new PostgresMetadataStore(database.url, { schema: 'legacy' });
        try {
          assert.deepEqual(await store.migrate(), MIGRATIONS.map((m) => m.version).filter((v) => v > 2));
          await assertLegacyRowsMigrated(store);
        } finally {
          await store.close();
        }
      });

      test('a schema name that is not a plain identifier is refused', () => {
        assert.throws(() => new PostgresMetadataStore(database.url, { schema: 'x"; DROP TABLE orgs; --' }));
      });
    });

    describe('durability', () => {
      test('the store commits with synchronous_commit on even where the database default is off', async () => {
        // A write is acknowledged once COMMIT returns; only synchronous_commit = on makes that mean
        // "in the WAL on disk". A role or database default of off must not weaken the store.
        const admin = new pg.Client({ connectionString: database.url });
        await admin.connect();
        const name = new URL(database.url).pathname.slice(1);
        await admin.query(`ALTER DATABASE ${name} SET synchronous_commit = off`);
        const store = new PostgresMetadataStore(database.url, { schema: 'durability' });
        try {
          await store.init();
          const probe = new pg.Client({ connectionString: database.url });
          await probe.connect();
          assert.equal((await probe.query('SHOW synchronous_commit')).rows[0].synchronous_commit, 'off', 'the default is off for other sessions');
          await probe.end();
          // Every connection of the pool: hold several at once so that the pool opens new ones.
          const pool = (store as unknown as { pool: pg.Pool }).pool;
          const clients = await Promise.all(Array.from({ length: 3 }, () => pool.connect()));
          try {
            for (const client of clients) {
              assert.equal((await client.query('SHOW synchronous_commit')).rows[0].synchronous_commit, 'on');
            }
          } finally {
            for (const client of clients) client.release();
          }
        } finally {
          await store.close();
          await admin.query(`ALTER DATABASE ${name} RESET synchronous_commit`);
          await admin.end();
        }
      });
    });

    describe('an unreachable server', () => {
      test('ping, reads and writes reject with StoreUnavailableError', async () => {
        const store = new PostgresMetadataStore('postgres://postgres@127.0.0.1:1/nowhere');
        try {
          await assert.rejects(store.ping(), StoreUnavailableError);
          await assert.rejects(store.getOrgById('x'), StoreUnavailableError);
          await assert.rejects(store.deleteMedia('@x'), StoreUnavailableError);
          await assert.rejects(store.init(), StoreUnavailableError);
        } finally {
          await store.close();
        }
      });

      test('a database that does not exist -> StoreUnavailableError from ping', async () => {
        const url = new URL(database.url);
        url.pathname = `/oapi_missing_${randomBytes(4).toString('hex')}`;
        const store = new PostgresMetadataStore(url.toString());
        try {
          await assert.rejects(store.ping(), StoreUnavailableError);
        } finally {
          await store.close();
        }
      });
    });
  });
}
