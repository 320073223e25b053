// Faults from the client side against a real server process (idle timeout 1 s): uploads aborted
// mid-body at several offsets (FIN and RST), slow-loris connections that go silent, clients that
// never read a 16 MiB download. Measured on the server process: open fds, DATA/tmp, RSS.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { sampleOfSize } from '../fixtures/samples.ts';
import { stagingFiles } from '../helpers/data-folder.ts';
import { downloadBytes, getToken, multipartBody, sha256, upload } from '../helpers/e2e-http.ts';
import { openSocket } from '../helpers/raw-http.ts';
import { recordFigures } from './helpers/figures.ts';
import { MiB, openFdCount, rssBytes, settlesTo } from './helpers/process-probe.ts';
import { startServerProcess, type StartedServer } from './helpers/server-under-test.ts';

const IDLE_TIMEOUT_MS = 1000;
const ABORT_OFFSETS = [0, 200, 64 * 1024, 1 * MiB, 4 * MiB];
const ABORTS_PER_OFFSET = 4;
const SLOW_LORIS_CONNECTIONS = 6;
const NEVER_READING_CLIENTS = 4;

let dataDir: string;
let server: StartedServer;
let token: string;
let bigMediaId: string;
const uploadBody = multipartBody([{ name: 'media', data: sampleOfSize('png', 8 * MiB), filename: 'big.png' }]);

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-client-faults-'));
  server = await startServerProcess(dataDir, { OAPI_MEDIA_REQUEST_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS), LOG_LEVEL: 'warn' });
  token = await getToken(server.url, server.credentials!.appKey, server.credentials!.appSecret);
  const big = sampleOfSize('png', 16 * MiB);
  const answer = await upload(server.url, token, 'image', big, 'big.png');
  assert.equal(answer.errcode, 0);
  bigMediaId = answer.media_id!;
  assert.equal(sha256((await downloadBytes(server.url, token, bigMediaId)).bytes), sha256(big));
});
after(async () => {
  if (server && server.process.child.exitCode !== null) console.error(`server exited ${server.process.child.exitCode}:\n${server.stderrTail()}`);
  await server?.process.stop('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

function requestHead(path: string, headers: Record<string, string | number>): Buffer {
  const lines = [`${path}`, `Host: 127.0.0.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

const uploadHead = (): Buffer =>
  requestHead(`POST /media/upload?access_token=${token}&type=image HTTP/1.1`, {
    'Content-Type': uploadBody.contentType,
    'Content-Length': uploadBody.body.length,
  });

const closed = (socket: Socket): Promise<void> =>
  new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends the head and `offset` body bytes, lets the server start on them, then goes away. */
async function abortAt(offset: number, reset: boolean): Promise<void> {
  const socket = await openSocket(server.url);
  socket.on('error', () => {});
  socket.write(uploadHead());
  if (offset > 0) socket.write(uploadBody.body.subarray(0, offset));
  await pause(30);
  if (reset) socket.resetAndDestroy();
  else socket.destroy();
}

/** Goes silent mid-request; resolves with how long the server took to cut the connection. */
async function slowLoris(partialHeaders: boolean): Promise<number> {
  const socket = await openSocket(server.url);
  socket.on('error', () => {});
  socket.on('data', () => {});
  const start = performance.now();
  if (partialHeaders) socket.write(uploadHead().subarray(0, 60));
  else socket.write(Buffer.concat([uploadHead(), uploadBody.body.subarray(0, 4096)]));
  await closed(socket);
  return performance.now() - start;
}

/** Asks for the 16 MiB media and never reads it; returns the socket (still open on our side). */
async function neverReading(): Promise<Socket> {
  const socket = await openSocket(server.url);
  socket.on('error', () => {});
  socket.pause();
  socket.write(requestHead(`GET /media/downloadFile?access_token=${token}&media_id=${encodeURIComponent(bigMediaId)} HTTP/1.1`, {}));
  return socket;
}

interface Snapshot {
  fds: number;
  staged: number;
  rss: number;
}

async function snapshot(baselineFds?: number): Promise<Snapshot> {
  const fds = baselineFds === undefined ? await openFdCount(server.pid) : await settlesTo(() => openFdCount(server.pid), baselineFds);
  return { fds, staged: (await stagingFiles(dataDir)).length, rss: await rssBytes(server.pid) };
}

test('aborted uploads, slow-loris and never-reading clients leak no fd, no temp file and no memory', { timeout: 120_000 }, async (t) => {
  // Warm up what the server allocates once (code paths, pools), then take the baseline.
  for (let i = 0; i < 3; i++) await abortAt(64 * 1024, false);
  await upload(server.url, token, 'image', sampleOfSize('png', 64 * 1024), 'warm.png');
  await pause(300);
  const baseline = await snapshot();

  const slowLorisCutMs: number[] = [];
  let neverReadReleasedMs = 0;
  const rounds: Snapshot[] = [];
  for (let round = 0; round < 2; round++) {
    for (const offset of ABORT_OFFSETS) {
      for (let i = 0; i < ABORTS_PER_OFFSET; i++) await abortAt(offset, i % 2 === 1);
    }
    slowLorisCutMs.push(...(await Promise.all(Array.from({ length: SLOW_LORIS_CONNECTIONS }, (_, i) => slowLoris(i % 2 === 0)))));

    const readers = await Promise.all(Array.from({ length: NEVER_READING_CLIENTS }, () => neverReading()));
    const start = performance.now();
    await pause(100);
    assert.ok((await openFdCount(server.pid)) > baseline.fds, 'the downloads are in flight (sockets and blob handles open)');
    const fdsWhileStalled = await settlesTo(() => openFdCount(server.pid), baseline.fds, 10_000);
    neverReadReleasedMs = Math.max(neverReadReleasedMs, performance.now() - start);
    assert.ok(fdsWhileStalled <= baseline.fds, 'the server released the stalled downloads while their clients still hold them open');
    for (const socket of readers) socket.destroy();

    const snap = await snapshot(baseline.fds);
    rounds.push(snap);
    t.diagnostic(`round ${round + 1}: fds ${snap.fds} (baseline ${baseline.fds}), tmp ${snap.staged}, rss ${(snap.rss / MiB).toFixed(1)} MiB (baseline ${(baseline.rss / MiB).toFixed(1)})`);
    assert.ok(snap.fds <= baseline.fds, `open fds back to the baseline (${baseline.fds} -> ${snap.fds})`);
    assert.equal(snap.staged, 0, 'DATA/tmp empty');
  }
  const rssGrowthSecondRound = rounds[1]!.rss - rounds[0]!.rss;
  const maxCut = Math.max(...slowLorisCutMs);
  const aborts = 2 * ABORT_OFFSETS.length * ABORTS_PER_OFFSET;
  assert.ok(maxCut < IDLE_TIMEOUT_MS * 3 + 1000, `a silent client is cut within about the idle timeout (${Math.round(maxCut)} ms)`);
  // A leak grows with every round; allocator noise does not. 2 rounds x 40 aborted 8 MiB uploads.
  assert.ok(rssGrowthSecondRound < 24 * MiB, `RSS grew ${(rssGrowthSecondRound / MiB).toFixed(1)} MiB in the second round`);
  await recordFigures({
    id: 'faults/client-aborts-slow-loris-never-reads',
    section: 'Faults',
    title: 'client aborts mid-body (FIN and RST at 0 B, 200 B, 64 KiB, 1 MiB, 4 MiB of 8 MiB), slow-loris, clients that never read a 16 MiB download',
    variant: 'default',
    summary: `${aborts} aborts, ${slowLorisCutMs.length} slow-loris cut after ≤ ${Math.round(maxCut)} ms (idle timeout ${IDLE_TIMEOUT_MS} ms), ` +
      `${2 * NEVER_READING_CLIENTS} stalled downloads released in ≤ ${Math.round(neverReadReleasedMs)} ms; fds ${baseline.fds} -> ${rounds[1]!.fds}, ` +
      `tmp files 0, RSS ${(baseline.rss / MiB).toFixed(0)} -> ${(rounds[0]!.rss / MiB).toFixed(0)} -> ${(rounds[1]!.rss / MiB).toFixed(0)} MiB over 2 rounds`,
    figures: {
      aborts, slowLorisConnections: slowLorisCutMs.length, slowLorisMaxCutMs: Math.round(maxCut), idleTimeoutMs: IDLE_TIMEOUT_MS,
      neverReadingClients: 2 * NEVER_READING_CLIENTS, neverReadReleasedMs: Math.round(neverReadReleasedMs),
      fdsBaseline: baseline.fds, fdsAfterRound1: rounds[0]!.fds, fdsAfterRound2: rounds[1]!.fds,
      tmpFilesAfter: rounds[1]!.staged,
      rssBaselineBytes: baseline.rss, rssAfterRound1Bytes: rounds[0]!.rss, rssAfterRound2Bytes: rounds[1]!.rss,
    },
  });
});
