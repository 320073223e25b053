// The SQLite store checkpoints its WAL from a worker thread (never inside a commit on the event
// loop), started only once the WAL first passes 4 MiB: after enough writes the pages reach the
// database file without anyone asking.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { SqliteMetadataStore } from '../src/stores/metadata/sqlite.ts';

/** Threads of this process (the worker is one more). */
function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

test('writes past the WAL threshold are checkpointed into the database file by the background worker', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-media-checkpoint-'));
  const path = join(dir, 'meta.sqlite');
  const threadsBefore = threadCount();
  const store = new SqliteMetadataStore(path);
  await store.init();
  try {
    await sleep(700);
    assert.equal(threadCount(), threadsBefore, 'no worker thread while the WAL is small');
    const before = (await stat(path)).size;
    const now = Date.now();
    for (let i = 0; i < 3000; i++) {
      await store.insertToken({ tokenHash: `${i}`.padStart(64, '0'), nonce: 'n'.repeat(32), principal: `app:${i}`, orgId: 'o', issuedAt: now, expiresAt: now + 1 });
    }
    assert.ok((await stat(`${path}-wal`)).size > 4 * 1024 * 1024, 'the writes went to the WAL');
    let after = before;
    for (let waited = 0; waited < 5_000 && after <= before; waited += 100) {
      await sleep(100);
      after = (await stat(path)).size;
    }
    assert.ok(after > before, `database file grew by a checkpoint (${before} -> ${after} bytes)`);
    assert.equal(store.integrityCheck(), 'ok');
    assert.equal(threadCount() - threadsBefore >= 1, true, 'the worker thread started once the WAL passed 4 MiB');
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
