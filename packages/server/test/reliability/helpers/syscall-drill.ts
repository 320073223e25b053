// Syscall faults (issue 15, item 2): a real `oapi-media serve` with the LD_PRELOAD injector
// (syscall-faults.ts) loaded; for each upload path (a blob file > inlineMaxBytes, and a small media
// kept inside meta.sqlite) and each fault (EIO on fsync/fdatasync, ENOSPC and EIO on write, EIO on
// rename, EMFILE on open), the 1st, 2nd, ... Nth matching call under the data folder of one upload
// fails. Each such upload must answer DingTalk's system-busy -1 (HTTP 200) and leave nothing (no
// row, no blob, no temp file), the database's integrity_check stays ok, the server keeps serving,
// and the next upload (no fault) round-trips its sha256. A sweep ends at the first N the upload
// no longer reaches: that upload must then succeed. After a failed fsync the same descriptor is
// never fsynced again as if it had worked ("fsyncgate"); a failed WAL fsync is followed by a
// checkpoint that fsyncs meta.sqlite itself before anything more is acknowledged.

import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { DINGTALK_ERRORS } from '@oapi-media/core';
import { sampleOfSize } from '../../fixtures/samples.ts';
import { downloadBytes, getToken, multipartBody, sha256, type UploadAnswer } from '../../helpers/e2e-http.ts';
import { auditDataFolder } from './data-audit.ts';
import { count, recordFigures, type Variant } from './figures.ts';
import { startServerProcess, type StartedServer } from './server-under-test.ts';
import { missingCompiler, SyscallInjector, type InjectedErrno, type MatchedCall, type SyscallFamily } from './syscall-faults.ts';

export type UploadPath = 'blob' | 'inline';

export interface Fault {
  family: SyscallFamily;
  errno: InjectedErrno;
}

export const FAULTS: readonly Fault[] = [
  { family: 'fsync', errno: 'EIO' },
  { family: 'write', errno: 'ENOSPC' },
  { family: 'write', errno: 'EIO' },
  { family: 'rename', errno: 'EIO' },
  { family: 'open', errno: 'EMFILE' },
];

export interface DrillOptions {
  variant: Variant;
  /** Rounds of the whole matrix (each round: new sample sizes, so other call counts). */
  rounds: number;
  /** A sweep stops past this N even if the upload reaches further (the stress variant goes on). */
  maxNth: number;
  /** Rounds of GROUP_UPLOADS concurrent small uploads whose shared WAL fsync fails. */
  groupRounds: number;
}

const GROUP_UPLOADS = 8;

const BUSY = DINGTALK_ERRORS.systemBusy;

async function uploadWithStatus(url: string, token: string, bytes: Buffer, name: string): Promise<{ status: number; answer: UploadAnswer }> {
  const { contentType, body } = multipartBody([{ name: 'media', data: bytes, filename: name }]);
  const response = await fetch(`${url}/media/upload?${new URLSearchParams({ access_token: token, type: 'image' })}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: new Uint8Array(body),
  });
  return { status: response.status, answer: (await response.json()) as UploadAnswer };
}

/**
 * Past 4 MiB of WAL the server's own checkpointer starts (sqlite-checkpointer.ts) and would then
 * run inside a case's armed window and take its fault (harmlessly: a failed checkpoint only keeps
 * the WAL longer). A checkpoint from outside between cases, as an operator's would, keeps it idle.
 */
async function keepWalSmall(dataDir: string): Promise<void> {
  const size = await stat(join(dataDir, 'meta.sqlite-wal')).then((s) => s.size, () => 0);
  if (size < 1024 * 1024) return;
  const db = new Database(join(dataDir, 'meta.sqlite'));
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** The staging folder may still be unlinking a refused upload's temp file just after the answer. */
async function auditSettled(dataDir: string, hashes = false) {
  const deadline = Date.now() + 2000;
  for (;;) {
    const audit = await auditDataFolder(dataDir, { hashes });
    if ((audit.staged.length === 0 && audit.orphans.length === 0) || Date.now() > deadline) return audit;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * "fsyncgate": after the injected fsync failed, that descriptor of that file is not fsynced again
 * as if that could make up for it. The WAL's may be, once a checkpoint (an fsync of meta.sqlite
 * itself) has put every committed page into the database file: frames after it are new.
 */
function fsyncRetriedAfterFailure(calls: MatchedCall[], databaseFile: string): MatchedCall | undefined {
  const failed = calls.find((c) => c.injected && c.family === 'fsync');
  if (!failed) return undefined;
  const checkpoint = calls.find((c) => c.n > failed.n && c.family === 'fsync' && c.path === databaseFile);
  const until = failed.path === `${databaseFile}-wal` && checkpoint ? checkpoint.n : Infinity;
  return calls.find((c) => c.n > failed.n && c.n < until && c.family === 'fsync' && c.fd === failed.fd && c.path === failed.path);
}

export async function syscallFaultDrill(t: TestContext, options: DrillOptions): Promise<void> {
  const missing = missingCompiler();
  if (missing !== null) {
    // Under CI a missing tool is a failure, never a skip.
    if (process.env.CI === 'true') assert.fail(missing);
    t.skip(missing);
    return;
  }
  const started = performance.now();
  // The injector first: a failed build leaves no folder behind.
  const injectorDir = await mkdtemp(join(tmpdir(), 'oapi-media-syscall-injector-'));
  const injector = await SyscallInjector.create(injectorDir).catch(async (error: unknown) => {
    await rm(injectorDir, { recursive: true, force: true });
    throw error;
  });
  const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-syscalls-'));
  let server: StartedServer | undefined;
  const injectedBy: Record<string, number> = {};
  const answers: Record<string, number> = {};
  let injected = 0;
  let reachedEnd = 0;
  let recoveries = 0;
  let walCheckpoints = 0;
  const prefix = `${dataDir}/`;
  try {
    server = await startServerProcess(dataDir, injector.env);
    const token = await getToken(server.url, server.credentials!.appKey, server.credentials!.appSecret);
    let rows = (await auditDataFolder(dataDir)).rows;

    const expectRoundTrip = async (bytes: Buffer, what: string): Promise<void> => {
      const { status, answer } = await uploadWithStatus(server!.url, token, bytes, 'next.png');
      assert.deepEqual([status, answer.errcode], [200, 0], `${what}: ${JSON.stringify(answer)}\n${server!.stderrTail().slice(-2000)}`);
      const { bytes: back } = await downloadBytes(server!.url, token, answer.media_id!);
      assert.equal(sha256(back), sha256(bytes), `${what}: sha256 round trip`);
      rows++;
    };

    for (let round = 0; round < options.rounds; round++) {
      for (const path of ['blob', 'inline'] as const) {
        // Blob: past inlineMaxBytes (64 KiB), a few staging writes; inline: a few WAL pages.
        const size = path === 'blob' ? 100 * 1024 + round * 37 * 1024 : 2 * 1024 + (round % 12) * 5 * 1024;
        for (const fault of FAULTS) {
          for (let nth = 1; nth <= options.maxNth; nth++) {
            const what = `round ${round}, ${path} upload of ${size} bytes, ${fault.errno} on the ${nth}. ${fault.family}`;
            const bytes = sampleOfSize('png', size + nth);
            await keepWalSmall(dataDir);
            const generation = await injector.arm(fault.family, fault.errno, nth, prefix);
            let outcome: { status: number; answer: UploadAnswer };
            try {
              outcome = await uploadWithStatus(server.url, token, bytes, 'fault.png');
            } finally {
              await injector.disarm();
            }
            const calls = await injector.calls(generation);
            const hit = calls.find((c) => c.injected);
            if (!hit) {
              // This upload makes fewer than N such calls: it is untouched and must succeed.
              assert.deepEqual([outcome.status, outcome.answer.errcode], [200, 0], `${what} (not reached): ${JSON.stringify(outcome.answer)}`);
              const { bytes: back } = await downloadBytes(server.url, token, outcome.answer.media_id!);
              assert.equal(sha256(back), sha256(bytes));
              rows++;
              reachedEnd++;
              break;
            }
            injected++;
            const key = `${fault.errno} ${hit.fn}`;
            injectedBy[key] = (injectedBy[key] ?? 0) + 1;
            answers[String(outcome.answer.errcode)] = (answers[String(outcome.answer.errcode)] ?? 0) + 1;
            const where = `${what} (${hit.fn} of ${hit.path.slice(prefix.length)})`;
            assert.deepEqual(
              [outcome.status, outcome.answer.errcode, outcome.answer.errmsg],
              [BUSY.httpStatus, BUSY.errcode, BUSY.zh],
              `${where}: ${JSON.stringify(outcome.answer)}\n${server.stderrTail().slice(-2000)}`,
            );
            const retried = fsyncRetriedAfterFailure(calls, join(dataDir, 'meta.sqlite'));
            assert.equal(retried, undefined, `${where}: the failed fsync's descriptor was fsynced again (${JSON.stringify(retried)})`);
            const audit = await auditSettled(dataDir);
            assert.deepEqual(
              { rows: audit.rows, orphans: audit.orphans, staged: audit.staged, missing: audit.missing, integrity: audit.integrity },
              { rows, orphans: [], staged: [], missing: [], integrity: 'ok' },
              `${where}: nothing left behind`,
            );
            if (hit.family === 'fsync' && hit.path === join(dataDir, 'meta.sqlite-wal')) {
              // The WAL's fsync failed: its frames may never reach the disk, so durability is
              // re-established by a checkpoint into meta.sqlite, fsynced.
              const checkpoint = calls.find((c) => c.n > hit.n && c.family === 'fsync' && c.path === join(dataDir, 'meta.sqlite'));
              assert.ok(checkpoint, `${where}: no fsync of meta.sqlite after the failed WAL fsync: ${JSON.stringify(calls)}`);
              walCheckpoints++;
            }
            await expectRoundTrip(sampleOfSize('png', size + nth + 1), `${where}: the next upload`);
            recoveries++;
          }
        }
      }
    }
    // Group commit: concurrent small uploads share one WAL fsync; when it fails, each upload it
    // served answers -1 and leaves no row, the others are stored whole.
    let groupRefused = 0;
    let groupStored = 0;
    let mostRefusedAtOnce = 0;
    for (let round = 0; round < options.groupRounds; round++) {
      const bodies = Array.from({ length: GROUP_UPLOADS }, (_, i) => sampleOfSize('png', 3 * 1024 + round * 64 + i));
      // The 2nd: the uploads that committed while the 1st ran wait for it together.
      await keepWalSmall(dataDir);
      const generation = await injector.arm('fsync', 'EIO', 2, join(dataDir, 'meta.sqlite'));
      let outcomes: { status: number; answer: UploadAnswer }[];
      try {
        outcomes = await Promise.all(bodies.map((bytes, i) => uploadWithStatus(server!.url, token, bytes, `group-${i}.png`)));
      } finally {
        await injector.disarm();
      }
      const calls = await injector.calls(generation);
      const what = `group round ${round}`;
      if (!calls.some((c) => c.injected)) {
        // All eight committed before the first fsync started, and it served them all: none failed.
        assert.deepEqual(outcomes.map((o) => o.answer.errcode), outcomes.map(() => 0), `${what} (no 2nd fsync)`);
        rows += outcomes.length;
        continue;
      }
      assert.equal(fsyncRetriedAfterFailure(calls, join(dataDir, 'meta.sqlite')), undefined, `${what}: the failed fsync's descriptor was fsynced again: ${JSON.stringify(calls)}`);
      const refused = outcomes.filter((o) => o.answer.errcode !== 0);
      for (const o of refused) assert.deepEqual([o.status, o.answer.errcode, o.answer.errmsg], [BUSY.httpStatus, BUSY.errcode, BUSY.zh], what);
      assert.ok(refused.length >= 1, `${what}: the uploads of the failed fsync answer -1`);
      for (const [i, o] of outcomes.entries()) {
        if (o.answer.errcode !== 0) continue;
        const { bytes: back } = await downloadBytes(server.url, token, o.answer.media_id!);
        assert.equal(sha256(back), sha256(bodies[i]!), `${what}: a stored upload round-trips`);
        rows++;
      }
      const audit = await auditSettled(dataDir);
      assert.deepEqual([audit.rows, audit.orphans, audit.staged, audit.missing, audit.integrity], [rows, [], [], [], 'ok'], `${what}: no row of a refused upload`);
      groupRefused += refused.length;
      mostRefusedAtOnce = Math.max(mostRefusedAtOnce, refused.length);
      groupStored += outcomes.length - refused.length;
      injected++;
      injectedBy['EIO fdatasync'] = (injectedBy['EIO fdatasync'] ?? 0) + 1;
      answers['-1'] = (answers['-1'] ?? 0) + refused.length;
    }

    if (options.groupRounds > 0) assert.ok(groupRefused > 0, 'some group round reached its 2nd WAL fsync');
    const final = await auditSettled(dataDir, true); // every blob and inline media hashed against its row
    assert.deepEqual([final.rows, final.orphans.length, final.staged.length, final.missing.length, final.corrupt.length, final.integrity], [rows, 0, 0, 0, 0, 'ok']);
    const seconds = (performance.now() - started) / 1000;
    const byFault = Object.entries(injectedBy).sort().map(([k, v]) => `${k} ${v}`).join(', ');
    await recordFigures({
      id: 'faults/syscall-faults',
      section: 'Faults',
      title: 'syscall faults (LD_PRELOAD injector in a real server): EIO on fsync/fdatasync, ENOSPC and EIO on write, EIO on rename, EMFILE on open, at each Nth call of an upload',
      variant: options.variant,
      summary: `${count(injected)} injected faults (${byFault}) over blob and inline uploads -> every one errcode -1 (HTTP 200), ` +
        `0 rows, 0 blobs, 0 temp files left, integrity_check ok; ${count(recoveries)} next uploads after a fault and ${reachedEnd} untouched ones ok with the same sha256; ` +
        `${walCheckpoints} failed WAL fsyncs each followed by a checkpoint fsync of meta.sqlite, 0 fsync retries on a failed descriptor; ` +
        `${options.groupRounds} failed WAL fsyncs shared by ${GROUP_UPLOADS} concurrent uploads: ${groupRefused} answered -1 with no row (up to ${mostRefusedAtOnce} by one fsync), ${groupStored} stored whole; ${seconds.toFixed(1)} s`,
      figures: {
        injected, recoveries, untouched: reachedEnd, groupRefused, groupStored, mostRefusedAtOnce, walCheckpoints, rowsAtEnd: final.rows, leftovers: 0, integrity: final.integrity,
        seconds: Math.round(seconds * 10) / 10, ...Object.fromEntries(Object.entries(answers).map(([k, v]) => [`errcode ${k}`, v])),
        ...injectedBy,
      },
    });
  } finally {
    await injector.disarm().catch(() => {});
    await server?.process.stop();
    await rm(dataDir, { recursive: true, force: true });
    await rm(injectorDir, { recursive: true, force: true });
    await rm(injector.shimPath, { force: true });
  }
}
