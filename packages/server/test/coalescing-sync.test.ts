// The group commit (stores/coalescing-sync.ts) after a failed fsync: every caller the failed fsync
// served fails, and a later successful fsync is not taken as covering a write that the failed one
// may have covered (the kernel reports a write-back error once: "fsyncgate").

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CoalescingSync } from '../src/stores/coalescing-sync.ts';

/** A flush the test settles by hand, in call order. */
function manualFlushes() {
  const pending: { resolve(): void; reject(error: Error): void }[] = [];
  const sync = new CoalescingSync(() => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })));
  return { sync, pending };
}

const settled = (promise: Promise<void>) => promise.then(() => 'ok', (error: Error) => error.message);
const turn = () => new Promise((resolve) => setImmediate(resolve));

test('every caller of a failed fsync fails; those who asked while it ran share the next one', async () => {
  const { sync, pending } = manualFlushes();
  const first = [settled(sync.sync()), settled(sync.sync())]; // the second joins the running flush's successor
  const joinedFirst = settled(sync.sync());
  assert.equal(pending.length, 1, 'one fsync runs at a time');
  pending[0]!.reject(new Error('EIO'));
  await turn();
  assert.equal(pending.length, 2, 'the callers who asked during the failed fsync get one more');
  pending[1]!.resolve();
  assert.deepEqual(await Promise.all([...first, joinedFirst]), ['EIO', 'ok', 'ok']);
});

test('a write issued before an fsync that failed is not acknowledged by a later fsync that succeeds', async () => {
  const { sync, pending } = manualFlushes();
  const ticket = sync.ticket(); // the write is issued now; its completion is seen only later
  const other = settled(sync.sync()); // another caller's fsync starts meanwhile, covers the write, fails
  pending[0]!.reject(new Error('EIO'));
  assert.equal(await other, 'EIO');
  const late = settled(sync.sync(ticket));
  await turn();
  pending[1]!.resolve(); // this one succeeds: the error was reported once, to the first fsync
  assert.equal(await late, 'EIO', 'the failure of an fsync that may have covered the write is kept');
  // A write issued after the failure is covered by the next fsync alone.
  const fresh = sync.ticket();
  const after = settled(sync.sync(fresh));
  await turn();
  pending[2]!.resolve();
  assert.equal(await after, 'ok');
});
