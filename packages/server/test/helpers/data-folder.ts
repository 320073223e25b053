// What a test sees of the embedded default's data folder: blob files (DATA/blobs/xx/<key>),
// staging temp files (DATA/tmp/*.part) and media rows; and the check that a refused upload
// left none of them behind (api.md: nothing of a refused upload stays on disk).

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestServer } from './test-server.ts';

async function listOrEmpty(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

/** Every blob file, as `xx/key` (stores/blobs/fs.ts: one level of shard folders). */
export async function blobFiles(dataDir: string): Promise<string[]> {
  const root = join(dataDir, 'blobs');
  const out: string[] = [];
  for (const shard of await listOrEmpty(root)) {
    for (const key of await listOrEmpty(join(root, shard))) out.push(`${shard}/${key}`);
  }
  return out.sort();
}

export async function stagingFiles(dataDir: string): Promise<string[]> {
  return (await listOrEmpty(join(dataDir, 'tmp'))).sort();
}

/** media_ids of every media row of org `orgName`. */
export function mediaIds(server: TestServer, orgName = 'default'): Promise<string[]> {
  return server.mediaIds(orgName);
}

export interface StoredState {
  blobs: string[];
  rows: string[];
}

export async function storedState(server: TestServer): Promise<StoredState> {
  return { blobs: await blobFiles(server.dataDir), rows: await mediaIds(server) };
}

/**
 * Staging may still be unlinking the temp file of a refused upload for a moment after the answer
 * (the answer may leave before the stager's cleanup): poll briefly before calling it a leak.
 */
async function stagingEmptySoon(dataDir: string, withinMs = 1000): Promise<string[]> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const left = await stagingFiles(dataDir);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** No new blob file, no new row, and the staging folder empty, compared with `before`. */
export async function assertNothingStored(server: TestServer, before: StoredState): Promise<void> {
  const after = await storedState(server);
  assert.deepEqual(after.blobs, before.blobs, 'no new blob file');
  assert.deepEqual(after.rows, before.rows, 'no new media row');
  assert.deepEqual(await stagingEmptySoon(server.dataDir), [], 'staging folder (DATA/tmp) empty');
}
