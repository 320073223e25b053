// What a leak would show of a server process: its open file descriptors and resident memory,
// read from /proc (Linux), and the files left in the staging folder.

import { readdir, readFile, readlink, stat } from 'node:fs/promises';

/**
 * Open file descriptors of `pid`, less those on directories: a store may keep its shard folders
 * open on purpose (to fsync them), a bounded cache rather than a leak. Sockets, pipes and files count.
 */
export async function openFdCount(pid: number): Promise<number> {
  let count = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => null);
    if (target === null) continue; // closed meanwhile
    if (target.startsWith('/') && (await stat(target).then((s) => s.isDirectory(), () => false))) continue;
    count++;
  }
  return count;
}

export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!kib) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kib[1]) * 1024;
}

/** Polls `probe` until it returns `expected` or `withinMs` passes; returns the last value. */
export async function settlesTo(probe: () => Promise<number>, expected: number, withinMs = 5000): Promise<number> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (value <= expected || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const MiB = 1024 * 1024;
