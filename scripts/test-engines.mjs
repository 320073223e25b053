#!/usr/bin/env node
// The API suite on the second configuration (issue 7): PostgreSQL + S3 instead of SQLite + disk;
// and through the bundle that `npm start` runs ("test what ships"), on either configuration.
//   node scripts/test-engines.mjs          -> PostgreSQL + s3rver (started here)   npm run test:engines
//   node scripts/test-engines.mjs --ceph   -> PostgreSQL + a throwaway Ceph RGW    (part of test:s3-real)
//   ... --bundle                            -> the API files that can, through the bundle (built first,
//                                              so never stale; TEST_SERVER=bundle)  (part of npm test)
//   ... --embedded                          -> on SQLite + disk instead (with --bundle: part of npm test)
//   ... --in-process-only                   -> only the API files that cannot run through the bundle (npm test runs
//                                              the others through the bundle on this engine: not twice on one)
//   ... --emulator                          -> the API suite against emulator mode (TEST_SERVER=emulator,
//                                              in-process, its memory folder): every file but those
//                                              marked `// TEST_SERVER=emulator: not, ...` (part of npm test)
//   ... [FILE...]                           -> only those test files
// Creates a fresh database oapi_api_<random> on the machine's PostgreSQL (OAPI_TEST_POSTGRES_URL,
// default postgres://postgres@127.0.0.1:5432/test), sets TEST_DATABASE_URL / TEST_STORAGE_URL (the
// test helpers give every server its own schema and key prefix in them) and the AWS_* credentials,
// runs the API test files through run-tests.mjs, then drops the database and stops S3.
// Which files run through the bundle is said in each file: a line `// TEST_SERVER=bundle: ...`.
// The others need the server in-process; the reason found in each is printed, and a file that
// is neither marked nor has such a reason stops the run (every file is decided, none skipped).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import pg from 'pg';
import { register } from 'tsx/esm/api';
import { BUNDLE_MARKER } from './test-markers.mjs';

register();
const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const ceph = args.includes('--ceph');
const bundle = args.includes('--bundle');
const emulator = args.includes('--emulator');
const inProcessOnly = args.includes('--in-process-only');
const embedded = args.includes('--embedded') || emulator;
const explicit = args.filter((a) => !a.startsWith('--'));
const adminUrl = process.env.OAPI_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The API tests: every test file that builds its server through the server's test helpers. */
function apiTestFiles() {
  return ['packages/server/test', 'packages/client/test']
    .flatMap((dir) => readdirSync(join(root, dir)).filter((name) => name.endsWith('.test.ts')).map((name) => join(dir, name)))
    .filter((file) => /helpers\/(test-server|inject-app)\.ts/.test(readFileSync(join(root, file), 'utf8')))
    .sort();
}

/** What ties a test file to the in-process server (the bundle is another process, set up by its environment). */
const IN_PROCESS_USES = [
  [/\binjectApp\(/, 'fastify inject (inject-app.ts)'],
  [/\.server\.(services|app)\b/, 'the in-process server (server.server)'],
  [/\bnow: \(\) =>/, 'the server clock (now)'],
  [/\btokenTtlSeconds\b/, 'tokenTtlSeconds (no environment variable)'],
];

function inProcessUses(file) {
  const text = readFileSync(join(root, file), 'utf8');
  return IN_PROCESS_USES.filter(([pattern]) => pattern.test(text)).map(([, what]) => what);
}

/** The files that run through the bundle; prints the decision for every file, and throws for an undecided one. */
function bundleFiles(files, { print = true } = {}) {
  const through = [];
  const inProcess = [];
  const problems = [];
  for (const file of files) {
    const marked = BUNDLE_MARKER.test(readFileSync(join(root, file), 'utf8'));
    const uses = inProcessUses(file);
    if (marked && uses.length > 0) problems.push(`${file} is marked TEST_SERVER=bundle but uses ${uses.join(', ')}`);
    else if (!marked && uses.length === 0) problems.push(`${file}: mark it "// TEST_SERVER=bundle: ..." or say what ties it to the in-process server`);
    else if (marked) through.push(file);
    else inProcess.push(`${relative('packages', file)} (${uses.join(', ')})`);
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  if (!print) return through;
  console.log(`test-engines: through the bundle (${through.length}): ${through.map((f) => relative('packages', f)).join(', ')}`);
  console.log(`test-engines: in-process only, not through the bundle (${inProcess.length}): ${inProcess.join('; ')}`);
  return through;
}

const NOT_ON_EMULATOR = /^\/\/ TEST_SERVER=emulator: not, (.+)$/m;
/** The files that run against the emulator; prints why each other one does not. */
function emulatorFiles(files) {
  const through = [];
  for (const file of files) {
    const reason = NOT_ON_EMULATOR.exec(readFileSync(join(root, file), 'utf8'))?.[1];
    if (reason === undefined) through.push(file);
    else console.log(`test-engines: not against the emulator: ${relative('packages', file)} (${reason})`);
  }
  return through;
}

/** Builds the bundle, so that the run tests what `npm start` would run now. */
function buildBundle() {
  // npm test (scripts/test-all.mjs) builds once before its parts, which then share that build.
  if (process.env.OAPI_MEDIA_PREBUILT === '1') return;
  const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), 'server'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('scripts/build.mjs failed');
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

const engineEnv = { ...process.env };
delete engineEnv.TEST_DATABASE_URL;
delete engineEnv.TEST_STORAGE_URL;
if (bundle) engineEnv.TEST_SERVER = 'bundle';
else if (emulator) engineEnv.TEST_SERVER = 'emulator';
else delete engineEnv.TEST_SERVER;

let status = 1;
let s3;
let database;
const started = performance.now();
try {
  const candidates = explicit.length > 0 ? explicit : apiTestFiles();
  const throughBundle = inProcessOnly ? new Set(bundleFiles(candidates, { print: false })) : undefined;
  const files = bundle ? bundleFiles(candidates)
    : emulator ? emulatorFiles(candidates)
    : throughBundle ? candidates.filter((file) => !throughBundle.has(file))
    : candidates;
  if (bundle) buildBundle();
  const build = bundle ? 'the bundle' : emulator ? 'the emulator (TypeScript)' : 'the TypeScript';
  if (embedded) {
    console.log(`test-engines: ${build} on SQLite + disk; ${files.length} files`);
    status = await runTests(files, engineEnv);
  } else {
    database = `oapi_api_${randomBytes(6).toString('hex')}`;
    const databaseUrl = new URL(adminUrl);
    databaseUrl.pathname = `/${database}`;
    await adminQuery(`CREATE DATABASE ${database}`);
    s3 = await startS3();
    console.log(`test-engines: ${build} on PostgreSQL ${databaseUrl} + ${s3.name}; ${files.length} files`);
    status = await runTests(files, {
      ...engineEnv,
      ...s3.env,
      TEST_DATABASE_URL: databaseUrl.toString(),
      TEST_STORAGE_URL: s3.url,
    });
  }
} catch (error) {
  console.error(`test-engines: ${error.stack ?? error}`);
} finally {
  await s3?.stop().catch((error) => console.error(`test-engines: stopping S3: ${error.message}`));
  if (database !== undefined) {
    await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch((error) => console.error(`test-engines: dropping ${database}: ${error.message}`));
  }
  console.log(`test-engines: ${status === 0 ? 'passed' : 'FAILED'} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
process.exit(status);
