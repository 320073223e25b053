// `timeout` on every call (and a client-wide default): a deadline for the whole call, retries
// and backoff waits included; on expiry the call rejects with a TimeoutError and leaves nothing
// behind: the upload's source stream destroyed (a file's descriptor closed), no socket, no timer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createClient, isTimeoutError, TimeoutError, type Client } from '../src/index.ts';
import { startSilentServer, type SilentServer, type SilentServerOptions } from './helpers/silent-server.ts';

const ZIP_HEAD = Buffer.from('504b0304', 'hex');
const BIG_FILE_BYTES = 20 * 1024 * 1024;

async function withSilent(options: SilentServerOptions, run: (server: SilentServer, client: (extra?: object) => Client) => Promise<void>) {
  const server = await startSilentServer(options);
  try {
    await run(server, (extra = {}) => createClient({ baseUrl: server.baseUrl, appKey: 'k', appSecret: 's', ...extra }));
  } finally {
    await server.destroy();
  }
}

async function withBigFile(run: (path: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'oapi-timeout-'));
  try {
    const path = join(dir, 'big.zip');
    // The largest file allowed (20 MiB): far more than loopback socket buffers take in unread.
    await writeFile(path, Buffer.concat([ZIP_HEAD, Buffer.alloc(BIG_FILE_BYTES - ZIP_HEAD.length, 7)]));
    await run(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function timedOut(ms: number, what: string) {
  return (error: unknown) => {
    assert.ok(isTimeoutError(error), `a TimeoutError, got ${String(error)}`);
    assert.ok(error instanceof TimeoutError);
    assert.equal(error.timeoutMs, ms);
    assert.equal(error.message, `${what} timed out after ${ms} ms`);
    return true;
  };
}

async function closedWithin(stream: ReadStream, ms: number): Promise<void> {
  if (stream.closed) return;
  await Promise.race([once(stream, 'close'), new Promise((_, reject) => setTimeout(() => reject(new Error('the read stream was not closed')), ms))]);
}

test('timeout: an upload to a server that never reads it rejects with TimeoutError on time; the file stream is closed mid-way', async () => {
  await withBigFile(async (path) => {
    await withSilent({}, async (server, client) => {
      const input = createReadStream(path);
      const started = performance.now();
      await assert.rejects(client().media.upload(input, { type: 'file', timeout: 300 }), timedOut(300, 'POST /media/upload'));
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 290 && elapsed < 3000, `rejected after ${elapsed} ms`);
      await closedWithin(input, 1000);
      assert.ok(input.destroyed);
      assert.ok(input.bytesRead < BIG_FILE_BYTES, `the upload was cut mid-way, not read to its end (${input.bytesRead} bytes read)`);
      assert.equal(server.count('/media/upload'), 1);
      // Not asserted here: the connection. Node 20's fetch (undici 6) does not close a connection
      // whose request body is blocked on a peer that stopped reading, abort or not; it holds no
      // reference on the event loop, and goes when the server drops it (README "Timeouts").
    });
  });
});

test('timeout: an upload sent whole to a server that never answers rejects with TimeoutError and releases its connection', async () => {
  await withBigFile(async (path) => {
    await withSilent({ readBodies: true }, async (server, client) => {
      const input = createReadStream(path);
      await assert.rejects(client().media.upload(input, { type: 'file', timeout: 500 }), timedOut(500, 'POST /media/upload'));
      await closedWithin(input, 1000);
      await server.socketsClosed(2000);
      assert.equal(server.openSockets(), 0);
    });
  });
});

test('timeout: the client-wide default applies to every call; a call\'s own timeout overrides it', async () => {
  await withBigFile(async (path) => {
    await withSilent({}, async (_server, client) => {
      const slowByDefault = client({ timeout: 250 });
      await assert.rejects(slowByDefault.media.upload(path, { type: 'file' }), timedOut(250, 'POST /media/upload'));
      await assert.rejects(slowByDefault.media.upload(path, { type: 'file', timeout: 150 }), timedOut(150, 'POST /media/upload'));
      await assert.rejects(slowByDefault.media.download('@x'), timedOut(250, 'GET /media/downloadFile'));
      // Infinity turns the default off for one call: it is still pending when its own signal ends it.
      const signal = AbortSignal.timeout(600);
      await assert.rejects(slowByDefault.media.download('@x', { timeout: Infinity, signal }), (e: unknown) => e === signal.reason);
    });
  });
});

test('timeout: bad values are refused at once, naming the option', async () => {
  assert.throws(() => createClient({ baseUrl: 'http://127.0.0.1:1', appKey: 'k', appSecret: 's', timeout: 0 }), /createClient timeout must be a number of milliseconds > 0/);
  const client = createClient({ baseUrl: 'http://127.0.0.1:1', appKey: 'k', appSecret: 's' });
  await assert.rejects(client.media.upload(Buffer.from('x'), { type: 'file', filename: 'a.zip', timeout: -5 }), /upload options.timeout must be a number/);
  await assert.rejects(client.media.download('@x', { timeout: Number.NaN }), /download options.timeout must be a number/);
  await assert.rejects(client.getAccessToken({ timeout: '5' as unknown as number }), /getAccessToken timeout must be a number/);
});

test('timeout: for the whole call, not per try: retries of -1 stop at the deadline with a TimeoutError', async () => {
  await withSilent({ busyDownloadAfterMs: 150 }, async (server, client) => {
    const retrying = client({ retries: { limit: 10, baseDelayMs: 100, maxDelayMs: 100 } });
    await retrying.getAccessToken();
    const started = performance.now();
    await assert.rejects(retrying.media.download('@x', { timeout: 500 }), timedOut(500, 'GET /media/downloadFile'));
    const elapsed = performance.now() - started;
    // Per try, 11 tries of 150 ms with 10 waits of 50-100 ms would take over 2 s.
    assert.ok(elapsed < 1200, `rejected after ${elapsed} ms`);
    assert.ok(server.count('/media/downloadFile') >= 2 && server.count('/media/downloadFile') <= 3, `${server.count('/media/downloadFile')} tries`);
  });
});

test('timeout: a download body that stalls rejects its reading with TimeoutError; saveTo leaves no file', async () => {
  await withSilent({ stallDownloadAfterBytes: 64 * 1024 }, async (server, client) => {
    const media = await client().media.download('@x', { timeout: 400 });
    assert.equal(media.status, 200);
    await assert.rejects(media.arrayBuffer(), timedOut(400, 'GET /media/downloadFile'));

    const dir = await mkdtemp(join(tmpdir(), 'oapi-timeout-save-'));
    try {
      const again = await client().media.download('@x', { timeout: 400 });
      await assert.rejects(again.saveTo(join(dir, 'out.zip')), timedOut(400, 'GET /media/downloadFile'));
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await server.socketsClosed(2000);
  });
});

test('timeout: a token that never comes ends the call; a stream input that was never opened is destroyed all the same', async () => {
  await withBigFile(async (path) => {
    await withSilent({ tokenDelayMs: Infinity }, async (server, client) => {
      const c = client();
      await assert.rejects(c.getAccessToken({ timeout: 200 }), timedOut(200, 'getting an access_token'));
      const input = createReadStream(path);
      await assert.rejects(c.media.upload(input, { type: 'file', timeout: 200 }), timedOut(200, 'POST /media/upload'));
      await closedWithin(input, 1000);
      assert.equal(server.count('/media/upload'), 0);
    });
  });
});

test('timeout: nothing is left behind: a process that timed out an upload and finished calls with a long timeout exits on its own', async () => {
  // A leaked timer (the 10-minute deadline of a finished call) or socket would keep the child
  // alive: it must exit by itself, with its listener closed gracefully (server.close waits for sockets).
  // It loads the emulator too (seconds on a busy machine): 30 s is still far short of the 10-minute deadline a leak would wait for.
  const child = new URL('./helpers/timeout-child.ts', import.meta.url).pathname;
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }>((resolve) => {
    const run = execFile(process.execPath, ['--import', 'tsx', child], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr, killed: run.killed });
    });
  });
  assert.equal(result.killed, false, `the child did not exit on its own: ${result.stdout}${result.stderr}`);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { uploadTimedOut: true, inputDestroyed: true, token: 'silent-token', roundTrip: true, downloadTimedOut: true });
});
