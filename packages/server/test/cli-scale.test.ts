// The scale-out side of the CLI and of a first start (issue 7), on a fresh PostgreSQL database:
// `oapi-media migrate` (applies, then has nothing to do; SQLite needs nothing), `serve` refusing
// DATABASE_URL without a shared OAPI_MEDIA_SECRET_KEY, and nodes bootstrapping `default` at once.
// With CI=true an unreachable PostgreSQL fails the run.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { AdminService } from '../src/service/admin.ts';
import { PostgresMetadataStore } from '../src/stores/metadata/postgres.ts';
import { cli } from './helpers/cli.ts';

const ADMIN_URL = process.env.OAPI_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const unreachable = await adminQuery('SELECT 1').then(() => null, (error: Error) => error.message);

test('migrate with SQLite (no DATABASE_URL): nothing to do, exit 0', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-migrate-'));
  try {
    const result = await cli(['migrate', '--data', dir, '--json'], { DATABASE_URL: '' });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { engine: 'sqlite', applied: [] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

if (unreachable !== null && process.env.CI === 'true') {
  test('PostgreSQL is reachable (required with CI=true)', () => assert.fail(`PostgreSQL at ${ADMIN_URL}: ${unreachable}`));
} else if (unreachable !== null) {
  test('migrate and first start on PostgreSQL', { skip: `PostgreSQL at ${ADMIN_URL} is unreachable (${unreachable})` }, () => {});
} else {
  describe('migrate and first start on PostgreSQL', () => {
    const database = `oapi_cli_${randomBytes(6).toString('hex')}`;
    const databaseUrl = `${ADMIN_URL.replace(/\/[^/]*$/, '')}/${database}`;
    let dir: string;
    before(async () => {
      await adminQuery(`CREATE DATABASE ${database}`);
      dir = await mkdtemp(join(tmpdir(), 'oapi-migrate-'));
    });
    after(async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await rm(dir, { recursive: true, force: true });
    });

    test('migrate on an empty schema applies every migration; run again it applies none', async () => {
      // The shared key goes wherever DATABASE_URL goes: config.ts's one rule for the server and every command.
      const env = { DATABASE_URL: `${databaseUrl}?schema=cli_migrate`, OAPI_MEDIA_SECRET_KEY: 'cli-migrate-test-key' };
      const first = await cli(['migrate', '--data', dir, '--json'], env);
      assert.equal(first.code, 0, first.stderr);
      const applied = JSON.parse(first.stdout) as { engine: string; applied: number[] };
      assert.equal(applied.engine, 'postgres');
      assert.ok(applied.applied.length >= 1 && applied.applied[0] === 1, first.stdout);
      const again = await cli(['migrate', '--data', dir], env);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /no migration pending/);
    });

    test('serve with DATABASE_URL but no OAPI_MEDIA_SECRET_KEY refuses to start, saying why', async () => {
      const result = await cli(['serve', '--port', '0', '--data', dir], { DATABASE_URL: databaseUrl, OAPI_MEDIA_SECRET_KEY: '' });
      assert.equal(result.code, 2, 'a configuration mistake exits 2, as a usage mistake does');
      assert.match(result.stderr, /OAPI_MEDIA_SECRET_KEY/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'a message, not a stack trace');
    });

    test('five nodes bootstrapping at once: no error, one default org, every printed credential valid', async () => {
      const stores = Array.from({ length: 5 }, () => new PostgresMetadataStore(databaseUrl, { schema: 'bootstrap_race' }));
      try {
        await Promise.all(stores.map((store) => store.init()));
        const results = await Promise.all(stores.map((store) => new AdminService(store, Date.now).bootstrapDefault()));
        const printed = results.filter((creds) => creds !== null);
        assert.ok(printed.length >= 1, 'one node shows the first-start credentials');
        assert.equal((await stores[0]!.listOrgs()).filter((org) => org.name === 'default').length, 1);
        assert.equal(await stores[0]!.countApps(), printed.length, 'an app for every credential shown, no other');
        assert.equal(await new AdminService(stores[0]!, Date.now).bootstrapDefault(), null, 'a later start creates nothing');
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    });
  });
}
