// Upload bodies read at once are bounded (service/upload-slots.ts, OAPI_MEDIA_UPLOAD_STREAMS): the
// UploadSlots accounting on its own (FIFO hand-over, one release per slot, the bounded wait), then
// over real sockets against a server with a single slot: a second upload waits with its body unread
// while the first holds the slot, a client that leaves while it waits leaks neither a slot nor a
// file, and a waiter is read without a slot after half the idle timeout rather than cut off.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { ApiError } from '@oapi-media/core';
import { ConfigError, DEFAULT_UPLOAD_STREAMS, loadConfig, type ConfigInput } from '../src/config.ts';
import { readUploadForm, type UploadFormRules } from '../src/http/multipart-upload.ts';
import { StagedUpload } from '../src/service/dialect-services.ts';
import { StagingArea } from '../src/service/staging.ts';
import { UploadSlots, type ReleaseSlot } from '../src/service/upload-slots.ts';
import { sampleOfSize } from './fixtures/samples.ts';
import { assertNothingStored, blobFiles, mediaIds, stagingFiles, storedState } from './helpers/data-folder.ts';
import { downloadBytes, multipartBody, sha256, tokenOf, upload, type UploadAnswer } from './helpers/e2e-http.ts';
import { openSocket, readResponse, writeAndWait, type RawResponse } from './helpers/raw-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(condition: () => boolean | Promise<boolean>, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
}

/** A promise and whether it has resolved yet (checked after the microtasks have run). */
function tracked<T>(promise: Promise<T>): { promise: Promise<T>; done: () => boolean } {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  return { promise, done: () => done };
}

/** Lets every pending promise callback and immediate run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('UploadSlots', () => {
  test('limit 2: a third acquire waits until one of the first two is released', async () => {
    const slots = new UploadSlots(2, 60_000);
    const first = await slots.acquire();
    const second = await slots.acquire();
    assert.equal(slots.active, 2);
    assert.equal(slots.waiting, 0);
    const third = tracked(slots.acquire());
    await sleep(30);
    assert.equal(third.done(), false, 'the third acquire resolved with both slots taken');
    assert.equal(slots.active, 2);
    assert.equal(slots.waiting, 1);
    second();
    const releaseThird = await third.promise;
    assert.equal(slots.active, 2, 'the slot passed on: still 2 active');
    assert.equal(slots.waiting, 0);
    first();
    assert.equal(slots.active, 1);
    releaseThird();
    assert.equal(slots.active, 0);
    assert.equal(slots.waiting, 0);
  });

  test('waiters get slots in the order they asked (FIFO)', async () => {
    const slots = new UploadSlots(1, 60_000);
    const holder = await slots.acquire();
    const order: number[] = [];
    const releases: Array<Promise<ReleaseSlot>> = [];
    for (let i = 0; i < 4; i++) {
      releases.push(slots.acquire().then((release) => {
        order.push(i);
        return release;
      }));
    }
    assert.equal(slots.waiting, 4);
    holder();
    await settle();
    assert.deepEqual(order, [0], 'one release hands over exactly one slot, to the first waiter');
    for (let i = 0; i < 4; i++) {
      (await releases[i]!)();
      await settle();
    }
    assert.deepEqual(order, [0, 1, 2, 3]);
    assert.equal(slots.active, 0);
    assert.equal(slots.waiting, 0);
  });

  test('a release called twice gives back one slot, not two', async () => {
    const slots = new UploadSlots(2, 60_000);
    const first = await slots.acquire();
    const second = await slots.acquire();
    const a = tracked(slots.acquire());
    const b = tracked(slots.acquire());
    first();
    first();
    await settle();
    assert.equal(a.done(), true, 'the first waiter got the released slot');
    assert.equal(b.done(), false, 'a second call of the same release freed another slot');
    assert.equal(slots.active, 2);
    assert.equal(slots.waiting, 1);
    second(); // b's turn (and no waiter left behind with a 60 s timer)
    (await b.promise)();
    (await a.promise)();
    assert.deepEqual([slots.active, slots.waiting], [0, 0]);

    // Without waiters: the count does not go below zero either.
    const lone = new UploadSlots(1, 60_000);
    const release = await lone.acquire();
    release();
    release();
    assert.equal(lone.active, 0);
    const holder = await lone.acquire();
    const next = tracked(lone.acquire());
    await settle();
    assert.equal(next.done(), false, 'a double release made room for two holders in a single slot');
    assert.equal(lone.active, 1);
    assert.equal(lone.waiting, 1);
    holder();
    (await next.promise)();
    assert.deepEqual([lone.active, lone.waiting], [0, 0]);
  });

  test('active and waiting are exact through a sequence of acquires and releases', async () => {
    const slots = new UploadSlots(3, 60_000);
    const held: ReleaseSlot[] = [];
    for (let i = 1; i <= 3; i++) {
      held.push(await slots.acquire());
      assert.deepEqual([slots.active, slots.waiting], [i, 0]);
    }
    const waiters = [slots.acquire(), slots.acquire()];
    assert.deepEqual([slots.active, slots.waiting], [3, 2]);
    held.shift()!();
    assert.deepEqual([slots.active, slots.waiting], [3, 1]);
    held.push(await waiters[0]!);
    held.shift()!();
    assert.deepEqual([slots.active, slots.waiting], [3, 0]);
    held.push(await waiters[1]!);
    while (held.length > 0) held.shift()!();
    assert.deepEqual([slots.active, slots.waiting], [0, 0]);
  });

  test('limit 0 never waits and counts nothing', async () => {
    const slots = new UploadSlots(0, 60_000);
    const releases: ReleaseSlot[] = [];
    for (let i = 0; i < 50; i++) {
      const acquired = tracked(slots.acquire());
      await settle();
      assert.equal(acquired.done(), true, `acquire ${i + 1} waited with limit 0`);
      releases.push(await acquired.promise);
    }
    assert.deepEqual([slots.active, slots.waiting], [0, 0]);
    for (const release of releases) release();
    assert.deepEqual([slots.active, slots.waiting], [0, 0]);
  });

  test('a waiter past maxWaitMs goes on without a slot: no longer waiting, and its release changes nothing', async () => {
    const slots = new UploadSlots(1, 50);
    const holder = await slots.acquire();
    const startedAt = Date.now();
    const waiter = tracked(slots.acquire());
    assert.equal(slots.waiting, 1);
    await settle();
    assert.ok(!waiter.done() || Date.now() - startedAt >= 50, 'resolved before maxWaitMs');
    const releaseWaiter = await waiter.promise;
    const waited = Date.now() - startedAt;
    assert.ok(waited >= 45, `resolved after ${waited} ms, before maxWaitMs (50)`);
    assert.equal(slots.waiting, 0, 'the timed-out waiter is still counted as waiting');
    assert.equal(slots.active, 1, 'the holder still has its slot');
    releaseWaiter();
    releaseWaiter();
    assert.equal(slots.active, 1, 'the release of a waiter that had no slot freed the holder\'s');
    // The holder's release does not go to the waiter that left the queue: the slot is simply free.
    holder();
    assert.deepEqual([slots.active, slots.waiting], [0, 0]);
    const again = tracked(slots.acquire());
    await settle();
    assert.equal(again.done(), true);
    assert.equal(slots.active, 1);
  });

  test('a waiter handed a slot before maxWaitMs still holds it once maxWaitMs has passed', async () => {
    const slots = new UploadSlots(1, 50);
    const holder = await slots.acquire();
    const waiter = slots.acquire();
    const queued = tracked(new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => slots.acquire()));
    await sleep(5);
    holder();
    const release = await waiter;
    assert.deepEqual([slots.active, slots.waiting], [1, 1]);
    // The second waiter times out (50 ms) while the first holds the slot; the first still holds it.
    await queued.promise;
    assert.equal(slots.active, 1);
    release();
    assert.deepEqual([slots.active, slots.waiting], [0, 0]);
  });
});

describe('OAPI_MEDIA_UPLOAD_STREAMS', () => {
  test('default 16', () => {
    assert.equal(DEFAULT_UPLOAD_STREAMS, 16);
    assert.equal(loadConfig({}, {}).uploadStreams, 16);
  });

  for (const [value, expected] of [['0', 0], ['64', 64], ['1', 1]] as const) {
    test(`'${value}' -> ${expected}`, () => {
      assert.equal(loadConfig({}, { OAPI_MEDIA_UPLOAD_STREAMS: value }).uploadStreams, expected);
    });
  }

  for (const value of ['-1', '1.5', 'abc']) {
    test(`'${value}' -> ConfigError naming the setting`, () => {
      assert.throws(() => loadConfig({}, { OAPI_MEDIA_UPLOAD_STREAMS: value }), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, /upload streams/);
        return true;
      });
    });
  }

  test('a flag wins over the environment, with the same bounds', () => {
    assert.equal(loadConfig({ uploadStreams: 4 }, { OAPI_MEDIA_UPLOAD_STREAMS: '64' }).uploadStreams, 4);
    for (const value of [-1, 1.5, Number.NaN]) {
      assert.throws(() => loadConfig({ uploadStreams: value }, {}), ConfigError, String(value));
    }
  });
});

/** DingTalk's rules for the form: the file part `media`, staged into `staging`. */
function formRules(staging: StagingArea): UploadFormRules {
  return { fileFields: ['media'], receive: async (source, capBytes) => new StagedUpload(staging, await staging.stage(source, capBytes)) };
}

describe('readUploadForm on a request destroyed before its body was read', () => {
  /**
   * A stand-in for an IncomingMessage whose whole body had arrived (`complete`) and sits unread in
   * its buffer: what Node hands over when the client leaves after sending everything.
   */
  function arrivedRequest(): IncomingMessage {
    const { contentType, body } = multipartBody([{ name: 'media', data: sampleOfSize('png', 8 * KiB), filename: 'gone.png' }]);
    const request = new Readable({ read() {} }) as Readable & { headers: Record<string, string>; complete: boolean };
    request.headers = { 'content-type': contentType, 'content-length': String(body.length) };
    request.push(body);
    request.push(null);
    request.complete = true;
    return request as unknown as IncomingMessage;
  }

  async function outcomeOf(form: Promise<unknown>): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('still pending after 2 s'), 2000);
    });
    try {
      return await Promise.race([
        form.then(() => 'resolved', (error: unknown) => (error instanceof ApiError ? error.kind : String(error))),
        hung,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  test('destroyed while it waited (its \'close\' already past) -> missingMedia at once, nothing staged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oapi-media-slots-'));
    try {
      const request = arrivedRequest();
      request.destroy();
      await settle();
      assert.equal(await outcomeOf(readUploadForm(request, formRules(new StagingArea(dir, false, 0)), MiB)), 'missingMedia');
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('destroyed just after reading began, before the body reached the parser -> missingMedia, nothing staged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oapi-media-slots-'));
    try {
      const request = arrivedRequest();
      const form = readUploadForm(request, formRules(new StagingArea(dir, false, 0)), MiB);
      request.destroy(); // the pipe starts flowing on the next tick: no byte was read
      assert.equal(await outcomeOf(form), 'missingMedia');
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------ over real sockets

/** The embedded default (SQLite + disk) with a single upload slot, whatever CI selects. */
function startSingleSlot(config: ConfigInput = {}): Promise<TestServer> {
  return startTestServer({ config: { databaseUrl: undefined, storageUrl: undefined, uploadStreams: 1, ...config } });
}

interface RawUpload {
  socket: Socket;
  body: Buffer;
  data: Buffer;
  /** Bytes of `body` sent so far. */
  sent: number;
  /** The answer; rejects if the socket closes first (already handled: await it to see). */
  answer: Promise<RawResponse>;
  answered(): boolean;
  /** Sends the next `bytes` of the body (all of the rest when omitted). */
  send(bytes?: number): Promise<void>;
}

/** Opens a socket and sends the head of a Content-Length upload of `data`; no body byte yet. */
async function openUpload(server: TestServer, token: string, type: string, data: Buffer, filename: string): Promise<RawUpload> {
  const { contentType, body } = multipartBody([{ name: 'media', data, filename }]);
  const socket = await openSocket(server.baseUrl);
  let answered = false;
  const answer = readResponse(socket, 20_000).finally(() => {
    answered = true;
  });
  answer.catch(() => {});
  const head = [
    `POST /media/upload?access_token=${encodeURIComponent(token)}&type=${type} HTTP/1.1`,
    `Host: ${new URL(server.baseUrl).host}`,
    `Content-Type: ${contentType}`,
    `Content-Length: ${body.length}`,
    '', '',
  ].join('\r\n');
  await writeAndWait(socket, Buffer.from(head));
  const upload: RawUpload = {
    socket, body, data, sent: 0, answer,
    answered: () => answered,
    async send(bytes = body.length - upload.sent) {
      const piece = body.subarray(upload.sent, upload.sent + bytes);
      upload.sent += piece.length;
      await writeAndWait(socket, piece);
    },
  };
  return upload;
}

function answerOf(response: RawResponse): UploadAnswer {
  return JSON.parse(response.body.toString('utf8')) as UploadAnswer;
}

async function assertDownloadsAs(server: TestServer, token: string, answer: UploadAnswer, data: Buffer): Promise<void> {
  assert.equal(answer.errcode, 0, JSON.stringify(answer));
  const { bytes } = await downloadBytes(server.baseUrl, token, answer.media_id!);
  assert.equal(bytes.length, data.length);
  assert.equal(sha256(bytes), sha256(data));
}

/** Size of the one temp file in DATA/tmp (the upload holding the slot), or -1 if there is not exactly one. */
async function onlyStagingFileSize(dataDir: string): Promise<number> {
  const files = await stagingFiles(dataDir);
  if (files.length !== 1) return -1;
  return (await stat(join(dataDir, 'tmp', files[0]!)).catch(() => ({ size: -1 }))).size;
}

function openConnections(server: TestServer): Promise<number> {
  return server.connections();
}

/** Upload A: 1 MiB of mp4 (a temp file from the first 64 KiB on), its first 256 KiB sent. */
async function holdSlotWithUploadA(server: TestServer, token: string): Promise<RawUpload> {
  const slots = server.server.services.uploadSlots;
  const a = await openUpload(server, token, 'video', sampleOfSize('mp4', MiB), 'a.mp4');
  await a.send(256 * KiB);
  assert.ok(await waitUntil(() => slots.active === 1, 2000), 'A took the slot');
  assert.ok(await waitUntil(async () => (await onlyStagingFileSize(server.dataDir)) > 64 * KiB, 2000), 'A is being staged');
  return a;
}

describe('uploadStreams 1: a second upload waits, unread, while the first holds the slot', () => {
  test('B (fully sent) is not answered while A holds the slot mid-body; once A finishes both are stored byte for byte', async () => {
    const server = await startSingleSlot();
    const sockets: Socket[] = [];
    try {
      const token = await tokenOf(server);
      const slots = server.server.services.uploadSlots;
      assert.equal(slots.limit, 1);
      const a = await holdSlotWithUploadA(server, token);
      sockets.push(a.socket);

      const b = await openUpload(server, token, 'image', sampleOfSize('png', 200 * KiB), 'b.png');
      sockets.push(b.socket);
      await b.send();
      assert.ok(await waitUntil(() => slots.waiting === 1, 2000), 'B waits for the slot');
      await sleep(300);
      assert.equal(b.answered(), false, 'B was answered while A held the only slot');
      assert.deepEqual([slots.active, slots.waiting], [1, 1]);
      const sizeBefore = await onlyStagingFileSize(server.dataDir);
      assert.ok(sizeBefore > 0, 'exactly one temp file (A\'s): B\'s body is not being read');

      // A's body goes on being read while B's is not.
      await a.send(256 * KiB);
      assert.ok(
        await waitUntil(async () => (await onlyStagingFileSize(server.dataDir)) >= 400 * KiB, 2000),
        `A's temp file grew past 400 KiB (from ${sizeBefore})`,
      );
      assert.equal(b.answered(), false, 'B was answered while A held the only slot');
      assert.deepEqual([slots.active, slots.waiting], [1, 1]);

      await a.send();
      const answerA = answerOf(await a.answer);
      const answerB = answerOf(await b.answer);
      await assertDownloadsAs(server, token, answerA, a.data);
      await assertDownloadsAs(server, token, answerB, b.data);
      assert.deepEqual([slots.active, slots.waiting], [0, 0]);
      assert.deepEqual(await stagingFiles(server.dataDir), []);
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.close();
    }
  });
});

describe('uploadStreams 1: a client that leaves while its upload waits for the slot', () => {
  const variants = [
    // Less than the request's buffer: the server reads the socket on and sees it close at once.
    { sent: 'its head and 8 KiB of a 200 KiB body', size: 200 * KiB, sendBytes: 8 * KiB, serverSeesItGo: true },
    // The whole request arrived (request.complete) before the client left, and the server saw it go.
    { sent: 'the whole of an 8 KiB body', size: 8 * KiB, sendBytes: undefined, serverSeesItGo: true },
    // The unread body filled the request's buffer: the socket is paused, its end is seen once read.
    // The server cannot tell this from a client that half-closed after a complete request: it may
    // read and store the body, or see the end before it has read it all; either way exactly.
    { sent: 'the whole of a 200 KiB body', size: 200 * KiB, sendBytes: undefined, serverSeesItGo: false },
  ];
  for (const { sent, size, sendBytes, serverSeesItGo } of variants) {
    test(`B sent ${sent} then vanished: no slot leaked, no file left, the next upload goes straight through`, async (t) => {
      const server = await startSingleSlot();
      const sockets: Socket[] = [];
      try {
        const token = await tokenOf(server);
        const slots = server.server.services.uploadSlots;
        const before = await mediaIds(server);
        const a = await holdSlotWithUploadA(server, token);
        sockets.push(a.socket);

        const b = await openUpload(server, token, 'image', sampleOfSize('png', size), 'b.png');
        sockets.push(b.socket);
        await b.send(sendBytes);
        assert.ok(await waitUntil(() => slots.waiting === 1, 2000), 'B waits for the slot');
        const connections = await openConnections(server);
        b.socket.destroy();
        if (serverSeesItGo) {
          assert.ok(await waitUntil(async () => (await openConnections(server)) === connections - 1, 2000), 'the server saw B go');
        }

        await a.send();
        const answerA = answerOf(await a.answer);
        assert.equal(answerA.errcode, 0, JSON.stringify(answerA));
        assert.ok(
          await waitUntil(() => slots.active === 0 && slots.waiting === 0, 2000),
          `slots after A finished and B left: ${slots.active} active, ${slots.waiting} waiting (want 0, 0)`,
        );
        // B, if it was read, may still be committing (temp file -> blob -> row): every upload here is
        // a blob file (over 64 KiB), so it is done once DATA/tmp is empty and each blob has its row.
        const settled = async (): Promise<boolean> =>
          (await stagingFiles(server.dataDir)).length === 0 && (await blobFiles(server.dataDir)).length === (await mediaIds(server)).length;
        assert.ok(await waitUntil(settled, 2000), 'DATA/tmp empty and no blob without its row');
        const added = (await mediaIds(server)).filter((id) => !before.includes(id) && id !== answerA.media_id);
        if (serverSeesItGo) {
          assert.deepEqual(added, [], 'a row was added for B, whose client left before its body was read');
        } else {
          t.diagnostic(added.length === 1 ? 'B was read to its end and stored' : 'B was refused: its client was seen gone before its end was read');
          assert.ok(added.length <= 1, `rows added besides A's: ${added.join(', ')}`);
          if (added.length === 1) await assertDownloadsAs(server, token, { errcode: 0, errmsg: 'ok', media_id: added[0] }, b.data);
        }

        const next = sampleOfSize('png', 100 * KiB);
        const startedAt = Date.now();
        const answer = await upload(server.baseUrl, token, 'image', next, 'next.png');
        const took = Date.now() - startedAt;
        await assertDownloadsAs(server, token, answer, next);
        assert.ok(took < 5000, `the next upload took ${took} ms: it waited for a slot nobody held`);
        assert.deepEqual([slots.active, slots.waiting], [0, 0]);
      } finally {
        for (const socket of sockets) socket.destroy();
        await server.close();
      }
    });
  }
});

describe('uploadStreams 1, idle timeout 2 s: a waiter is read without a slot after 1 s rather than cut off', () => {
  /** Keeps A slowly sending (1 KiB every 200 ms) so that its idle timeout does not cut it off. */
  function trickle(a: RawUpload): () => Promise<void> {
    let stop = false;
    const loop = (async () => {
      while (!stop && a.sent < a.body.length - 2 * KiB) {
        await sleep(200);
        if (!stop) await a.send(KiB).catch(() => {});
      }
    })();
    return async () => {
      stop = true;
      await loop;
    };
  }

  for (const ending of ['finishes', 'is destroyed'] as const) {
    test(`B is answered after ~1 s while A still holds the slot; then A ${ending}: nothing left behind, slots at 0`, async () => {
      const server = await startSingleSlot({ requestIdleTimeoutMs: 2000 });
      const sockets: Socket[] = [];
      try {
        const token = await tokenOf(server);
        const slots = server.server.services.uploadSlots;
        const a = await holdSlotWithUploadA(server, token);
        sockets.push(a.socket);
        const stopTrickle = trickle(a);

        const data = sampleOfSize('png', 200 * KiB);
        const startedAt = Date.now();
        const b = await openUpload(server, token, 'image', data, 'b.png');
        sockets.push(b.socket);
        await b.send();
        assert.ok(await waitUntil(() => slots.waiting === 1 || b.answered(), 2000), 'B waits for the slot');
        const responseB = await b.answer; // rejects if the idle timeout cut B off
        const waited = Date.now() - startedAt;
        const aAnsweredYet = a.answered();
        const counts = [slots.active, slots.waiting];
        await stopTrickle();
        assert.ok(waited >= 900, `B answered after ${waited} ms, before its wait (1000 ms) was up`);
        assert.equal(aAnsweredYet, false, 'A was answered before B: B did not go on without the slot');
        assert.deepEqual(counts, [1, 0], 'while B was read: A held the slot, nobody waited');
        await assertDownloadsAs(server, token, answerOf(responseB), data);

        if (ending === 'finishes') {
          await a.send();
          await assertDownloadsAs(server, token, answerOf(await a.answer), a.data);
          assert.deepEqual([slots.active, slots.waiting], [0, 0]);
          assert.deepEqual(await stagingFiles(server.dataDir), []);
        } else {
          const stored = await storedState(server);
          a.socket.destroy();
          assert.ok(await waitUntil(() => slots.active === 0 && slots.waiting === 0, 2000), 'A\'s slot came back');
          await assertNothingStored(server, stored);
        }
      } finally {
        for (const socket of sockets) socket.destroy();
        await server.close();
      }
    });
  }
});
