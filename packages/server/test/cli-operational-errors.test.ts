// The failures an operator meets at start, each as one line on stderr that says what to change,
// exit 1, no stack trace (the stack only at LOG_LEVEL=debug): a data folder that is a file or not
// this user's, the metadata store or the blob store unreachable (URL shown, password masked).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI_ARGS, cli } from './helpers/cli.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'oapi-media-operr-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Nothing listens on port 9 (discard) here: a connection is refused at once. */
const NOWHERE = '127.0.0.1:9';

function assertOneLine(result: { code: number; stderr: string; stdout: string }, line: string): void {
  assert.deepEqual([result.code, result.stderr, result.stdout], [1, `oapi-media: ${line}\n`, '']);
}

test('a regular file given as --data: serve and an operator command say so in one line', async () => {
  const file = join(root, 'not-a-folder');
  await writeFile(file, 'x');
  const line = `data folder ${file} is a file, or inside one, not a folder: pass a folder with --data (or OAPI_MEDIA_DATA)`;
  assertOneLine(await cli(['serve', '--port', '0', '--data', file]), line);
  assertOneLine(await cli(['org', 'list', '--data', file]), line);
  const inside = join(file, 'data');
  assertOneLine(await cli(['serve', '--port', '0', '--data', inside]), line.replace(file, inside));
});

/** The CLI as another user: root's chmod/chown never fail, so the folder must not be the runner's. */
function cliAs(uid: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...CLI_ARGS, ...args], { uid, gid: uid, env: { ...process.env, HOME: tmpdir() }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

test('a data folder this user may not write (EACCES/EPERM): one line naming the folder, the user and the fix', async () => {
  const isRoot = process.getuid?.() === 0;
  // As root: a root-owned folder, used by uid 65534 (nobody). Otherwise: `/`, which is root's.
  const uid = isRoot ? 65534 : process.getuid!();
  const owned = isRoot ? join(root, 'roots') : '/';
  if (isRoot) {
    await chmod(root, 0o755);
    await mkdir(owned, { mode: 0o700 });
  }
  const run = (args: string[]) => (isRoot ? cliAs(uid, args) : cli(args));
  const line = `data folder ${owned} is not writable by this user (uid ${uid}; EPERM on chmod): make it this user's (chown -R ${uid} ${owned}) or writable by it, or pass another --data (or OAPI_MEDIA_DATA)`;
  assertOneLine(await run(['serve', '--port', '0', '--data', owned]), line);
  assertOneLine(await run(['org', 'list', '--data', owned]), line);
  if (isRoot) {
    // A folder to create where this user may not: EACCES on mkdir.
    const below = join(owned, 'data');
    assertOneLine(await run(['serve', '--port', '0', '--data', below]),
      `data folder ${below} is not writable by this user (uid ${uid}; EACCES on mkdir): make it this user's (chown -R ${uid} ${below}) or writable by it, or pass another --data (or OAPI_MEDIA_DATA)`);
  }
});

test('DATABASE_URL unreachable: one line with the URL, its password masked; the stack at LOG_LEVEL=debug only', async () => {
  const dataDir = join(root, 'pg');
  await mkdir(dataDir);
  const env = { DATABASE_URL: `postgres://oapi:s3cret-pw@${NOWHERE}/media`, OAPI_MEDIA_SECRET_KEY: 'k'.repeat(32) };
  const line = `cannot reach the metadata store at postgres://oapi:***@${NOWHERE}/media (DATABASE_URL): connect ECONNREFUSED ${NOWHERE}`;
  assertOneLine(await cli(['org', 'list', '--data', dataDir], env), line);
  assertOneLine(await cli(['serve', '--port', '0', '--data', dataDir], env), line);
  assertOneLine(await cli(['migrate', '--data', dataDir], env), line);
  const debug = await cli(['org', 'list', '--data', dataDir], { ...env, LOG_LEVEL: 'debug' });
  assert.equal(debug.code, 1);
  assert.match(debug.stderr, new RegExp(`^oapi-media: MetadataStoreUnreachableError: ${line.replace(/[()*.?]/g, '\\$&')}\\n {4}at `));
  assert.doesNotMatch(debug.stderr, /s3cret-pw/);
});

test('the blob store unreachable: one line with the storage URL, credentials masked', async () => {
  const dataDir = join(root, 's3');
  await mkdir(dataDir);
  const storage = `s3://media-bucket/prefix?endpoint=http://keyid:s3cret-pw@${NOWHERE}&forcePathStyle=true`;
  const env = {
    OAPI_MEDIA_STORAGE: storage,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'aws-secret-example',
    // The SDK's own notice about Node 20 is not the server's to print (and would be a second line).
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const line = `cannot reach the blob store at s3://media-bucket/prefix?endpoint=http://keyid:***@${NOWHERE}&forcePathStyle=true (OAPI_MEDIA_STORAGE): S3 HeadBucket failed: connect ECONNREFUSED ${NOWHERE}`;
  assertOneLine(await cli(['serve', '--port', '0', '--data', dataDir], env), line);
  assertOneLine(await cli(['media', 'delete', '@AAAAAAAAAAAAAAAAAAAAAAAA', '--data', dataDir], env), line);
});
