// S3 failing under load (issue 15): 64 concurrent uploads against SQLite + S3 (s3rver) reached through
// a fault proxy the test runs, which answers 503 or 500, holds every request 5 s (past a 3 s
// OAPI_MEDIA_S3_TIMEOUT_MS), resets connections, applies a call but loses its answer, or cuts a
// download half-way. Each upload in a fault answers -1 within the bound the retries allow (attempts
// x timeout + backoff); only idempotent calls are retried (CreateMultipartUpload and
// CompleteMultipartUpload are sent once); the server serves again as soon as the fault stops; every
// acknowledged upload downloads with its sha256; no row points at a missing or partial object; and
// after the orphan sweep no object lacks its row (the answers that were lost leave orphans only).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { S3_MAX_ATTEMPTS } from '../../src/config.ts';
import { parseS3Url, S3BlobStore } from '../../src/stores/blobs/s3.ts';
import { downloadBytes, tokenOf } from '../helpers/e2e-http.ts';
import { startS3rver } from '../helpers/s3rver.ts';
import { startTestServer } from '../helpers/test-server.ts';
import { recordFigures } from './helpers/figures.ts';
import { startFaultProxy, type FaultMode, type S3Operation } from './helpers/s3-fault-proxy.ts';
import { seededRandom } from './helpers/seeded-random.ts';
import { auditStores } from './helpers/store-audit.ts';
import { errcodeSummary, prepareUploads, timeToRecover, uploadWave, verifyAcknowledged, type Acknowledged, type PreparedUpload, type WaveResult } from './helpers/upload-waves.ts';

const S3_TIMEOUT_MS = 3_000;
const SLOW_MS = 5_000;
/** Above the 64 KiB kept inline with the row: every upload goes to S3. */
const MIN_BYTES = 96 * 1024;
/** What "answers fast" allows on a loaded 2-core machine beyond the retries' own bound. */
const SLACK_MS = 5_000;
/** The SDK's standard backoff before the 2nd and 3rd attempts is at most 2 x 20 s in theory; in practice ≤ 100 ms x 2^n jittered. */
const BACKOFF_MS = 1_000;

test('S3 answering 503/500, slow past its timeout, resetting, losing answers and cutting downloads, under 64 concurrent uploads: -1 in bound, recovery, 0 lost, 0 partial, 0 orphans after the sweep',
  { timeout: 240_000 }, async (t) => {
    const random = seededRandom();
    t.diagnostic(`seed ${random.seed} (replay with RELIABILITY_SEED=${random.seed})`);
    const s3 = await startS3rver();
    const proxy = await startFaultProxy(s3.endpoint, { slowMs: SLOW_MS });
    const savedEnv = { ...process.env };
    Object.assign(process.env, s3.env);
    const direct = new S3BlobStore({ ...parseS3Url(s3.url), credentials: s3.credentials });
    try {
      const server = await startTestServer({
        config: { databaseUrl: undefined, storageUrl: s3.url.replace(encodeURIComponent(s3.endpoint), encodeURIComponent(proxy.endpoint)), s3TimeoutMs: S3_TIMEOUT_MS },
      });
      try {
        const token = await tokenOf(server);
        const acknowledged: Acknowledged[] = [];
        const uploads = (count = 64, largeCount = 0): PreparedUpload[] => prepareUploads(random, { count, minBytes: MIN_BYTES, largeCount });
        const figures: Record<string, string | number | boolean> = { s3TimeoutMs: S3_TIMEOUT_MS, attempts: S3_MAX_ATTEMPTS, slowMs: SLOW_MS, seed: random.seed };
        const faulted: Record<string, string> = {};

        /** A wave of `prepared` under `mode` (for `operations`), then the fault stops and an upload must succeed again. */
        async function underFault(name: string, mode: FaultMode, prepared: PreparedUpload[], operations?: readonly S3Operation[]): Promise<WaveResult & { recoveryMs: number; logFrom: number }> {
          const logFrom = proxy.log.length;
          proxy.set(mode, operations);
          const wave = await uploadWave(server.baseUrl, token, prepared);
          proxy.set('pass');
          acknowledged.push(...wave.acknowledged);
          const recoveryMs = await timeToRecover(server.baseUrl, token, uploads(1)[0]!, 30_000, acknowledged);
          faulted[name] = `${errcodeSummary(wave.byErrcode)}, last answer at ${wave.maxAnswerMs} ms, acknowledged again ${recoveryMs} ms after`;
          t.diagnostic(`${name}: ${faulted[name]}`);
          assert.deepEqual(Object.keys(wave.byErrcode).filter((code) => code !== '0' && code !== '-1'), [], `${name}: only 0 or -1 (never cut): ${JSON.stringify(wave.byErrcode)}`);
          return { ...wave, recoveryMs, logFrom };
        }
        const requestsOf = (from: number, operation: S3Operation) => proxy.log.slice(from).filter((r) => r.operation === operation);

        const calm = await uploadWave(server.baseUrl, token, uploads(64, 8));
        assert.deepEqual(calm.byErrcode, { 0: 64 }, 'undisturbed: every upload acknowledged');
        acknowledged.push(...calm.acknowledged);
        figures.calmMaxAnswerMs = calm.maxAnswerMs;
        // Bound of a faulted upload: every attempt of one call (the slowest fault) plus backoff, once queued behind the others.
        const bound = calm.maxAnswerMs + S3_MAX_ATTEMPTS * S3_TIMEOUT_MS + BACKOFF_MS + SLACK_MS;

        // 503 on every call: all refused fast, /readyz says the storage is gone.
        const logBefore503 = proxy.log.length;
        proxy.set('status503');
        const readyIn503 = (await fetch(`${server.baseUrl}/readyz`)).status;
        proxy.set('pass');
        const unavailable = await underFault('503 on every call', 'status503', uploads(64, 8));
        assert.deepEqual(unavailable.byErrcode, { '-1': 64 });
        assert.ok(unavailable.maxAnswerMs < bound, `503: -1 within ${bound} ms: ${unavailable.maxAnswerMs} ms`);
        assert.equal(readyIn503, 503, '/readyz answers 503 while S3 answers 503');
        const puts503 = requestsOf(logBefore503, 'PutObject').length;
        assert.ok(puts503 <= 56 * S3_MAX_ATTEMPTS, `PutObject tried at most ${S3_MAX_ATTEMPTS} times each: ${puts503} for 56`);
        const creates503 = requestsOf(logBefore503, 'CreateMultipartUpload').filter((r) => r.mode === 'status503').length;
        assert.equal(creates503, 8, 'CreateMultipartUpload is never sent twice');
        figures.readyzIn503 = readyIn503;
        figures.putObjectAttemptsIn503 = puts503;

        // 500 on UploadPart only: multipart uploads begun are refused (and aborted), single puts go through.
        const parts500 = await underFault('500 on UploadPart', 'status500', uploads(64, 16), ['UploadPart']);
        assert.deepEqual(parts500.byErrcode, { 0: 48, '-1': 16 }, 'the 16 multipart uploads refused, the 48 single puts acknowledged');
        assert.ok(parts500.maxAnswerMs < bound, `500: within ${bound} ms: ${parts500.maxAnswerMs} ms`);
        assert.equal(requestsOf(parts500.logFrom, 'CompleteMultipartUpload').length, 0, 'no Complete after a failed part');
        assert.ok(requestsOf(parts500.logFrom, 'AbortMultipartUpload').length >= 16, 'each failed multipart upload aborted');

        // 503 on CompleteMultipartUpload: not idempotent, sent once, the upload refused.
        const complete503 = await underFault('503 on CompleteMultipartUpload', 'status503', uploads(32, 16), ['CompleteMultipartUpload']);
        assert.deepEqual(complete503.byErrcode, { 0: 16, '-1': 16 });
        assert.equal(requestsOf(complete503.logFrom, 'CompleteMultipartUpload').filter((r) => r.mode === 'status503').length, 16, 'CompleteMultipartUpload never retried');

        // Every request held 5 s, past the 3 s timeout: each attempt cut, -1 within attempts x timeout.
        const slow = await underFault(`every call held ${SLOW_MS} ms (timeout ${S3_TIMEOUT_MS} ms)`, 'slow', uploads(64, 8));
        assert.deepEqual(slow.byErrcode, { '-1': 64 });
        assert.ok(slow.maxAnswerMs < bound, `slow: -1 within ${bound} ms: ${slow.maxAnswerMs} ms`);

        // Connections reset on arrival: retried, then -1.
        const reset = await underFault('connections reset', 'reset', uploads(64, 8));
        assert.deepEqual(reset.byErrcode, { '-1': 64 });
        assert.ok(reset.maxAnswerMs < bound, `reset: -1 within ${bound} ms: ${reset.maxAnswerMs} ms`);

        // PutObject applied but its answer lost: refused, the object left behind deleted by the store.
        const lostPut = await underFault('PutObject answers lost', 'lostAnswer', uploads(64), ['PutObject']);
        assert.deepEqual(lostPut.byErrcode, { '-1': 64 });
        // Every answer lost (deletes too): refused; what was applied stays as orphans for the sweep.
        const lostAll = await underFault('every answer lost', 'lostAnswer', uploads(64, 8));
        assert.deepEqual(lostAll.byErrcode, { '-1': 64 });
        assert.ok(lostAll.maxAnswerMs < bound, `lost answers: -1 within ${bound} ms: ${lostAll.maxAnswerMs} ms`);

        // A download whose S3 body is cut half-way fails visibly (never a short 200), then works again.
        const sample = calm.acknowledged.slice(0, 8);
        proxy.set('cutBody', ['GetObject']);
        const cutDownloads = await Promise.allSettled(sample.map((m) => downloadBytes(server.baseUrl, token, m.mediaId)));
        proxy.set('pass');
        assert.deepEqual(cutDownloads.map((d) => d.status), sample.map(() => 'rejected'), 'a cut download is an error to the client, not fewer bytes');
        assert.deepEqual(await verifyAcknowledged(server.baseUrl, token, sample), { lost: 0, corrupt: 0 }, 'downloads work again');

        const after = await uploadWave(server.baseUrl, token, uploads(64, 8));
        assert.deepEqual(after.byErrcode, { 0: 64 }, 'recovered: 64 at once acknowledged again');
        acknowledged.push(...after.acknowledged);

        const checked = await verifyAcknowledged(server.baseUrl, token, acknowledged);
        assert.deepEqual(checked, { lost: 0, corrupt: 0 }, 'every acknowledged upload downloads with its sha256');
        const { metadata, media } = server.server.services;
        const org = (await metadata.getOrgByName('default'))!;
        // Background deletes of failed uploads settle before the audit (each bounded by the retries).
        await new Promise((resolve) => setTimeout(resolve, S3_MAX_ATTEMPTS * S3_TIMEOUT_MS + BACKOFF_MS));
        const before = await auditStores(metadata, direct, [org.id]);
        assert.deepEqual([before.missing, before.corrupt], [[], []], 'no row points at a missing or partial object');
        const swept = await media.sweepOrphans(0);
        const audit = await auditStores(metadata, direct, [org.id]);
        assert.deepEqual([audit.orphans, audit.missing, audit.corrupt], [[], [], []], 'after the sweep no object without a row');
        assert.equal(audit.rows, acknowledged.length, 'one row per acknowledged upload, none for a refused one');

        Object.assign(figures, {
          acknowledged: acknowledged.length, lost: checked.lost, corrupt: checked.corrupt, boundMs: bound,
          unavailableMaxMs: unavailable.maxAnswerMs, slowMaxMs: slow.maxAnswerMs, resetMaxMs: reset.maxAnswerMs, lostMaxMs: lostAll.maxAnswerMs,
          orphansBeforeSweep: before.orphans.length, orphansSwept: swept, orphansAfterSweep: audit.orphans.length, rowsAtEnd: audit.rows,
          proxiedRequests: proxy.log.length,
        });
        await recordFigures({
          id: 'faults/s3-errors-slow-resets', section: 'Faults',
          title: `S3 (s3rver through a fault proxy) answering 503/500, slow (${SLOW_MS / 1000} s vs a ${S3_TIMEOUT_MS / 1000} s timeout), resetting, losing answers, cutting downloads, during 64 concurrent uploads (SQLite + S3)`,
          variant: 'default',
          summary: `${Object.entries(faulted).map(([name, what]) => `${name}: ${what}`).join('; ')}; ` +
            `/readyz ${readyIn503} in the 503 outage; ${puts503} PutObject attempts for 56 uploads under 503 (≤ ${S3_MAX_ATTEMPTS} each), Create/Complete sent once; ` +
            `a cut download fails (8/8 rejected); ${acknowledged.length} acknowledged, ${checked.lost} lost, ${checked.corrupt} corrupt (sha256), ` +
            `${before.orphans.length} orphans before the sweep, ${audit.orphans.length} after`,
          figures,
        });
      } finally {
        await server.close();
      }
    } finally {
      await direct.close();
      await proxy.close();
      await s3.stop();
      for (const key of Object.keys(s3.env)) {
        if (savedEnv[key] === undefined) delete process.env[key];
        else process.env[key] = savedEnv[key];
      }
    }
  });
