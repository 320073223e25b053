// Sends fast-check-generated multipart bodies over raw sockets to a real server process and checks
// every answer, the process and its leaks; the case of multipart-fuzz.test.ts and .stress.ts.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import fc from 'fast-check';
import { sampleOfSize } from '../../fixtures/samples.ts';
import { stagingFiles } from '../../helpers/data-folder.ts';
import { getToken, upload } from '../../helpers/e2e-http.ts';
import { httpChunk, LAST_CHUNK, openSocket, readResponse } from '../../helpers/raw-http.ts';
import { auditDataFolder } from './data-audit.ts';
import { count, recordFigures, RESULTS_DIR, type Variant } from './figures.ts';
import { fuzzedUploadArb, type FuzzedUpload } from './multipart-arbitrary.ts';
import { openFdCount, settlesTo } from './process-probe.ts';
import { seededRandom } from './seeded-random.ts';
import { startServerProcess } from './server-under-test.ts';

type Outcome = { kind: 'answer'; errcode: number } | { kind: 'closed' } | { kind: 'reset' };

async function send(url: string, token: string, fuzzed: FuzzedUpload): Promise<Outcome> {
  const socket = await openSocket(url);
  socket.on('error', () => {});
  try {
    const query = `access_token=${token}${fuzzed.type === undefined ? '' : `&type=${fuzzed.type}`}`;
    const framing = fuzzed.chunkSize === undefined ? `Content-Length: ${fuzzed.body.length}` : 'Transfer-Encoding: chunked';
    const answer = readResponse(socket, 15_000);
    answer.catch(() => {});
    socket.write(`POST /media/upload?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${fuzzed.contentType}\r\n${framing}\r\n\r\n`);
    if (fuzzed.chunkSize === undefined) socket.write(fuzzed.body);
    else {
      for (let at = 0; at < fuzzed.body.length; at += fuzzed.chunkSize) socket.write(httpChunk(fuzzed.body.subarray(at, at + fuzzed.chunkSize)));
      socket.write(LAST_CHUNK);
    }
    try {
      const response = await answer;
      assert.equal(response.status, 200, `HTTP ${response.status}: ${response.body.toString().slice(0, 200)}`);
      assert.match(response.headers['content-type'] ?? '', /^application\/json/);
      const json = JSON.parse(response.body.toString('utf8')) as { errcode: unknown; errmsg: unknown };
      assert.equal(typeof json.errcode, 'number');
      assert.equal(typeof json.errmsg, 'string');
      assert.notEqual(json.errcode, -1, 'a malformed body is the caller\'s fault, never -1');
      return { kind: 'answer', errcode: json.errcode as number };
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      if (/socket closed before a complete response \(got 0 bytes\)/.test((error as Error).message)) return { kind: 'closed' };
      // The server answered early and closed while we were still sending: our unread answer was
      // dropped by the RST (TCP), which is a close, not a crash.
      if (['EPIPE', 'ECONNRESET'].includes((error as NodeJS.ErrnoException).code ?? '')) return { kind: 'reset' };
      throw error;
    }
  } finally {
    socket.destroy();
  }
}

export async function fuzzMultipart(runs: number, variant: Variant, t: TestContext): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-fuzz-'));
  const server = await startServerProcess(dataDir, { OAPI_MEDIA_REQUEST_IDLE_TIMEOUT_MS: '2000', LOG_LEVEL: 'error' });
  const seed = seededRandom().seed;
  t.diagnostic(`fast-check seed ${seed} (replay with RELIABILITY_SEED=${seed})`);
  try {
    const token = await getToken(server.url, server.credentials!.appKey, server.credentials!.appSecret);
    assert.equal((await upload(server.url, token, 'image', sampleOfSize('png', 4096), 'warm.png')).errcode, 0);
    const baselineFds = await openFdCount(server.pid);
    const errcodes = new Map<string, number>();
    let bytesSent = 0;
    const recent: FuzzedUpload[] = [];
    let sent = 0;
    await mkdir(RESULTS_DIR, { recursive: true });
    // Four clients at once, each its own seeded stream of bodies.
    const checks = await Promise.all([0, 1, 2, 3].map((stream) => fc.check(
      fc.asyncProperty(fuzzedUploadArb, async (fuzzed) => {
        recent.push(fuzzed);
        if (recent.length > 3) recent.shift();
        const outcome = await send(server.url, token, fuzzed);
        sent++;
        bytesSent += fuzzed.body.length;
        const key = outcome.kind === 'answer' ? String(outcome.errcode) : outcome.kind;
        errcodes.set(key, (errcodes.get(key) ?? 0) + 1);
        assert.equal(server.process.child.exitCode, null, `server died: ${server.stderrTail()}`);
      }),
      { numRuns: runs / 4, seed: seed + stream, endOnFailure: true },
    )));
    const details = checks.find((c) => c.failed) ?? checks[0]!;
    if (details.failed) {
      const example = details.counterexample?.[0];
      const saved = join(RESULTS_DIR, `fuzz-counterexample-${seed}`);
      // The body that failed, and the ones just before it (a crash shows on the request after).
      await writeFile(`${saved}.json`, JSON.stringify(recent.map((r) => ({ ...r, body: r.body.toString('base64') }))));
      assert.fail(`fuzzed body ${details.numRuns} of a stream failed (seed ${seed}; Content-Type ${JSON.stringify(example?.contentType)}, ` +
        `type ${example?.type}, chunk ${example?.chunkSize}, ${example?.body.length} bytes saved to ${saved}): ${(details.errorInstance as Error)?.message}` +
        `\nserver stderr: ${server.stderrTail().slice(-3000)}`);
    }
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    const fds = await settlesTo(() => openFdCount(server.pid), baselineFds);
    // A refused upload's temp file may be unlinked a moment after its answer went out.
    for (let waited = 0; waited < 3000 && (await stagingFiles(dataDir)).length > 0; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const audit = await auditDataFolder(dataDir);
    const distribution = [...errcodes].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code}×${n}`).join(', ');
    t.diagnostic(`${sent} bodies, ${bytesSent} bytes; answers ${distribution}; fds ${baselineFds} -> ${fds}; rows ${audit.rows}, blobs ${audit.blobs}`);
    assert.ok(fds <= baselineFds, `open fds back to the baseline (${baselineFds} -> ${fds})`);
    assert.deepEqual(audit.staged, [], 'DATA/tmp empty');
    assert.deepEqual(audit.orphans, [], 'every blob has its row');
    await recordFigures({
      id: 'hostile/multipart-fuzz', section: 'Hostile input',
      title: 'fast-check fuzzing of multipart bodies (boundaries, headers, part counts, huge header lines, missing CRLFs, nested parts, byte flips, truncation) over a raw socket',
      variant,
      summary: `${count(sent)} bodies (${(bytesSent / 1024 / 1024).toFixed(0)} MiB), 0 crashes, 0 answers that are not the API's JSON, 0 errcode -1; ` +
        `fds ${baselineFds} -> ${fds}, ${audit.staged.length} temp files, ${audit.orphans.length} orphans (answers: ${distribution})`,
      figures: { bodies: sent, bytesSent, fdsBefore: baselineFds, fdsAfter: fds, tempFiles: audit.staged.length, orphans: audit.orphans.length, seed, answers: distribution },
    });
  } finally {
    await server.process.stop('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
}

