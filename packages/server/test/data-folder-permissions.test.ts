// The data folder is the server user's alone: small media live inside meta.sqlite, the blobs and
// the key beside it. Folders 0700, files 0600, whatever the umask; an older folder is tightened.
// TEST_SERVER=bundle: runs through the bundle too (only HTTP and the data folder).
// TEST_SERVER=emulator: not, an emulator keeps no data folder: its permissions are the server's.

import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { sample, sampleOfSize } from './fixtures/samples.ts';
import { tokenOf, upload } from './helpers/e2e-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

/** Every entry under `root` (itself included) whose mode is not 0700 (folders) or 0600 (files). */
async function looseModes(root: string): Promise<string[]> {
  const loose: string[] = [];
  const visit = async (path: string): Promise<void> => {
    const info = await stat(path);
    const mode = info.mode & 0o777;
    if (mode !== (info.isDirectory() ? 0o700 : 0o600)) loose.push(`${relative(root, path) || '.'} ${mode.toString(8)}`);
    if (info.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  };
  await visit(root);
  return loose;
}

describe('data folder permissions', () => {
  const servers: TestServer[] = [];
  const scratch: string[] = [];
  after(async () => {
    for (const server of servers) await server.close().catch(() => {});
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });

  test('a new data folder, after uploads kept in meta.sqlite and in blobs/: folders 0700, files 0600', async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), 'oapi-perm-')), 'data'); // the server creates it
    scratch.push(join(dataDir, '..'));
    const previous = process.umask(0o022); // the usual umask, which would give 0755 and 0644
    let server: TestServer;
    try {
      server = await startTestServer({ dataDir });
    } finally {
      process.umask(previous);
    }
    servers.push(server);
    const token = await tokenOf(server);
    assert.equal((await upload(server.baseUrl, token, 'image', sample('png'), 'small.png')).errcode, 0);
    assert.equal((await upload(server.baseUrl, token, 'file', sampleOfSize('pdf', 300 * 1024), 'large.pdf')).errcode, 0);
    assert.deepEqual(await looseModes(dataDir), []);
  });

  test('a data folder an older version left 0755 with a 0644 meta.sqlite is tightened at start', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'oapi-perm-old-'));
    scratch.push(dataDir);
    await chmod(dataDir, 0o755);
    await mkdir(join(dataDir, 'blobs'), { mode: 0o700 });
    await writeFile(join(dataDir, 'meta.sqlite'), '', { mode: 0o644 });
    await chmod(join(dataDir, 'meta.sqlite'), 0o644);
    // The embedded engines whatever the run: meta.sqlite is SQLite's file (PostgreSQL runs never open it).
    const server = await startTestServer({ dataDir, config: { databaseUrl: undefined, storageUrl: undefined } });
    servers.push(server);
    const loose = await looseModes(dataDir);
    assert.deepEqual(loose, []);
  });
});
