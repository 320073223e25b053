// The SQLite store's own cost per call (statement binding, row mapping, group commit), the disk
// left out: the WAL fsync is skipped through the syncWal option, and CPU time is what is measured.
//   node --import tsx bench/sqlite-store-calls.ts [calls]      (default 20,000 per method)
// OAPI_BENCH_SQLITE_STORE=path/to/sqlite.ts times another version of the store (before/after).
// Prints µs per call of insertMedia (in groups of 16, as concurrent uploads commit), getMedia and
// getToken: the best and the median of 7 rounds, each on the same temp store.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MediaRow } from '../packages/server/src/stores/metadata/interface.ts';
import type { SqliteMetadataStore as Store } from '../packages/server/src/stores/metadata/sqlite.ts';

const storeModule = process.env.OAPI_BENCH_SQLITE_STORE
  ? pathToFileURL(process.env.OAPI_BENCH_SQLITE_STORE).href
  : '../packages/server/src/stores/metadata/sqlite.ts';
const { SqliteMetadataStore } = (await import(storeModule)) as { SqliteMetadataStore: typeof Store };

const calls = Number(process.argv[2] ?? 20_000);
const rounds = 7;
const group = 16;

const dir = await mkdtemp(join(tmpdir(), 'oapi-bench-sqlite-'));
const store = new SqliteMetadataStore(join(dir, 'meta.sqlite'), { syncWal: async () => {} });
await store.init();
const org = { id: 'org_bench', name: 'bench', corpId: 'dingbench', createdAt: Date.now(), quotaBytes: null, rateLimitPerSecond: null };
await store.createOrg(org);
const tokenHash = randomBytes(32).toString('hex');
await store.insertToken({ tokenHash, nonce: 'n', principal: 'app_bench', orgId: org.id, issuedAt: Date.now(), expiresAt: Date.now() + 7_200_000, wire: 'dingtalk' });

function media(i: number, round: number): MediaRow {
  const mediaId = `@r${round}m${i}${randomBytes(6).toString('base64url')}`;
  return {
    mediaId, orgId: org.id, uploadedBy: 'app_bench', type: 'file', format: 'pdf', fileName: 'report.pdf', size: 1000 + i,
    sha256: 'ab'.repeat(32), blobKey: `blob-${mediaId.slice(1)}`, createdAt: Date.now(), wire: 'dingtalk', expiresAt: null,
  };
}

/** CPU time of this process in µs: on a shared machine, less noisy than the wall clock. */
function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

const results: Record<'insertMedia' | 'getMedia' | 'getToken', number[]> = { insertMedia: [], getMedia: [], getToken: [] };
for (let round = 0; round < rounds; round++) {
  const rows = Array.from({ length: calls }, (_, i) => media(i, round));
  let start = cpuNow();
  for (let i = 0; i < rows.length; i += group) await Promise.all(rows.slice(i, i + group).map((row) => store.insertMedia(row, null)));
  results.insertMedia.push((cpuNow() - start) / calls);

  start = cpuNow();
  for (const row of rows) if ((await store.getMedia(row.mediaId)) === null) throw new Error('missing row');
  results.getMedia.push((cpuNow() - start) / calls);

  start = cpuNow();
  for (let i = 0; i < calls; i++) if ((await store.getToken(tokenHash)) === null) throw new Error('missing token');
  results.getToken.push((cpuNow() - start) / calls);
}
await store.close();
await rm(dir, { recursive: true, force: true });

// The machine is shared: the best round is the store's cost, the median shows the noise.
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
for (const [method, values] of Object.entries(results)) {
  const [best, median] = [sorted(values)[0]!, sorted(values)[Math.floor(values.length / 2)]!];
  console.log(`${method.padEnd(12)} best ${best.toFixed(2).padStart(6)} µs/call, median ${median.toFixed(2).padStart(6)}`);
}
