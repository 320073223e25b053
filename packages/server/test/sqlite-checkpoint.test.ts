// The SQLite store checkpoints its WAL on its own schedule, never inside a commit: nothing until
// the WAL first passes a threshold, then on the main thread between event-loop turns while writes
// are light, and from a worker thread (its fsyncs off the event loop) once one interval has put
// more than `heavyFrames` pages in the WAL. Either way the pages reach the database file without
// anyone asking.

import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { SqliteMetadataStore } from '../src/stores/metadata/sqlite.ts';
import type { CheckpointerOptions } from '../src/stores/metadata/sqlite-checkpointer.ts';

async function withStore(checkpointer: CheckpointerOptions | undefined, body: (store: SqliteMetadataStore, path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-media-checkpoint-'));
  const path = join(dir, 'meta.sqlite');
  const store = new SqliteMetadataStore(path, { checkpointer });
  await store.init();
  // The org of insertTokens' tokens: a token's org must exist (tokens.org_id references orgs).
  await store.createOrg({ id: 'o', name: 'o', corpId: 'ding-o', createdAt: Date.now(), quotaBytes: null, rateLimitPerSecond: null });
  try {
    await body(store, path);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

let tokenNumber = 0;
/** `count` commits, all at once (the store groups them into few transactions and one fsync). */
async function insertTokens(store: SqliteMetadataStore, count: number): Promise<void> {
  const now = Date.now();
  await Promise.all(Array.from({ length: count }, () => {
    const n = tokenNumber++;
    return store.insertToken({ tokenHash: `${n}`.padStart(64, '0'), nonce: 'n'.repeat(32), principal: `app:${n}`, orgId: 'o', issuedAt: now, expiresAt: now + 1, wire: 'dingtalk' });
  }));
}

async function grows(path: string, from: number): Promise<number> {
  let size = from;
  for (let waited = 0; waited < 5_000 && size <= from; waited += 50) {
    await sleep(50);
    size = (await stat(path)).size;
  }
  return size;
}

test('a heavy writer (3,000 commits at once past 4 MiB of WAL): checkpoints move to the worker thread and reach the database file', async () => {
  await withStore(undefined, async (store, path) => {
    await sleep(700);
    assert.equal(store.checkpointMode, 'idle', 'nothing while the WAL is small');
    const before = (await stat(path)).size;
    await insertTokens(store, 3000);
    assert.ok((await stat(`${path}-wal`)).size > 4 * 1024 * 1024, 'the writes went to the WAL');
    const after = await grows(path, before);
    assert.ok(after > before, `database file grew by a checkpoint (${before} -> ${after} bytes)`);
    // The first checkpoint runs here and finds the whole burst; the writes that follow decide.
    for (let i = 0; i < 20 && (store.checkpointMode as string) !== 'worker'; i++) {
      await insertTokens(store, 1500);
      await sleep(600);
    }
    assert.equal(store.checkpointMode as string, 'worker');
    assert.equal(store.integrityCheck(), 'ok');
  });
});

test('a light writer past the threshold: checkpoints stay on the main thread (no worker isolate), every page reaches the database file', async () => {
  const options = { intervalMs: 50, thresholdBytes: 256 * 1024, heavyFrames: 400 }; // a round writes 60-85 pages
  await withStore(options, async (store, path) => {
    // A burst past the threshold first (more pages than heavyFrames, within one interval): the
    // WAL's growth up to the threshold is not one interval's and must not summon the worker.
    await insertTokens(store, 1500);
    assert.ok((await stat(`${path}-wal`)).size >= options.thresholdBytes);
    // Idle intervals after a complete checkpoint find the WAL as it was: nothing was written.
    await sleep(options.intervalMs * 6);
    assert.equal(store.checkpointMode, 'main-thread', 'the burst and the idle intervals after it did not summon the worker');
    const before = (await stat(path)).size;
    for (let round = 0; round < 30; round++) {
      await insertTokens(store, 20);
      await sleep(options.intervalMs + 10);
    }
    assert.equal(store.checkpointMode, 'main-thread');
    assert.ok((await grows(path, before)) > before, 'the database file grew by main-thread checkpoints');
    // Everything written is in the database file: a checkpoint now has nothing left to copy.
    await sleep(options.intervalMs * 3);
    const db = (await import('better-sqlite3')).default(path, { readonly: true });
    try {
      const [state] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
      assert.equal(state!.checkpointed, state!.log, 'no frame left behind in the WAL');
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM tokens').get() as { n: number }).n, 1500 + 30 * 20);
    } finally {
      db.close();
    }
    assert.equal(store.integrityCheck(), 'ok');
  });
});
