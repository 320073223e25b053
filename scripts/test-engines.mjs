#!/usr/bin/env node
// The API suite on the second configuration (issue 7): PostgreSQL + S3 instead of SQLite + disk.
//   node scripts/test-engines.mjs          -> PostgreSQL + s3rver (started here)   npm run test:engines
//   node scripts/test-engines.mjs --ceph   -> PostgreSQL + a throwaway Ceph RGW    (part of test:s3-real)
//   ... [FILE...]                           -> only those test files
// Creates a fresh database oapi_api_<random> on the machine's PostgreSQL (OAPI_TEST_POSTGRES_URL,
// default postgres://postgres@127.0.0.1:5432/test), sets TEST_DATABASE_URL / TEST_STORAGE_URL (the
// test helpers give every server its own schema and key prefix in them) and the AWS_* credentials,
// runs the API test files through run-tests.mjs, then drops the database and stops S3.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import pg from 'pg';
import { register } from 'tsx/esm/api';

register();
const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const ceph = args.includes('--ceph');
const explicit = args.filter((a) => !a.startsWith('--'));
const adminUrl = process.env.OAPI_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The API tests: every server test file that builds its server through the test helpers. */
function apiTestFiles() {
  const dir = join(root, 'packages/server/test');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.test.ts'))
    .filter((name) => /helpers\/(test-server|inject-app)\.ts/.test(readFileSync(join(dir, name), 'utf8')))
    .map((name) => relative(root, join(dir, name)))
    .sort();
}

async function adminQuery(sql) {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function startS3() {
  if (ceph) {
    const { startCephRgw } = await import('../packages/server/test/helpers/ceph-rgw.ts');
    const rgw = await startCephRgw();
    const bucket = `oapi-api-${randomBytes(4).toString('hex')}`;
    return {
      name: `Ceph RGW ${rgw.endpoint}`,
      url: `s3://${bucket}?endpoint=${encodeURIComponent(rgw.endpoint)}&region=${rgw.region}&forcePathStyle=true`,
      env: { AWS_ACCESS_KEY_ID: rgw.accessKeyId, AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey, AWS_REGION: rgw.region },
      stop: () => rgw.stop(),
    };
  }
  const { startS3rver } = await import('../packages/server/test/helpers/s3rver.ts');
  const s3 = await startS3rver();
  return { name: `s3rver ${s3.endpoint}`, url: s3.url, env: s3.env, stop: () => s3.stop() };
}

/** run-tests.mjs as a child (async: s3rver serves from this process meanwhile). */
function runTests(files, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'scripts/run-tests.mjs'), ...files], { cwd: root, stdio: 'inherit', env });
    const forward = (signal) => child.kill(signal);
    process.once('SIGINT', forward);
    process.once('SIGTERM', forward);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

const files = explicit.length > 0 ? explicit : apiTestFiles();
const database = `oapi_api_${randomBytes(6).toString('hex')}`;
const databaseUrl = new URL(adminUrl);
databaseUrl.pathname = `/${database}`;

let status = 1;
let s3;
const started = performance.now();
try {
  await adminQuery(`CREATE DATABASE ${database}`);
  s3 = await startS3();
  console.log(`test-engines: PostgreSQL ${databaseUrl} + ${s3.name}; ${files.length} files`);
  status = await runTests(files, {
    ...process.env,
    ...s3.env,
    TEST_DATABASE_URL: databaseUrl.toString(),
    TEST_STORAGE_URL: s3.url,
  });
} catch (error) {
  console.error(`test-engines: ${error.stack ?? error}`);
} finally {
  await s3?.stop().catch((error) => console.error(`test-engines: stopping S3: ${error.message}`));
  await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch((error) => console.error(`test-engines: dropping ${database}: ${error.message}`));
  console.log(`test-engines: ${status === 0 ? 'passed' : 'FAILED'} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
process.exit(status);
