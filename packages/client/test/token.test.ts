import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { DingTalkError } from '../src/index.ts';
import { sample } from '../../server/test/fixtures/samples.ts';
import { callsTo, clientOf, sha256, storedMedia, withEmulator } from './helpers/emulator.ts';

const PNG = sample('png');
const TOKEN_TTL_MS = 7200_000;

test('50 concurrent calls with no token yet -> exactly one /gettoken, all 50 uploads succeed', async () => {
  await withEmulator(async (emu) => {
    // A slow /gettoken, so that all 50 calls need the token while it is being fetched.
    emu.faults.add({ path: '/gettoken', delayMs: 50 });
    const client = clientOf(emu);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.media.upload(PNG, { type: 'image', filename: `p${i}.png` })));
    assert.equal(callsTo(emu, '/gettoken'), 1);
    assert.equal(callsTo(emu, '/media/upload'), 50);
    assert.equal(new Set(results.map((r) => r.mediaId)).size, 50);
  });
});

test('the token is fetched lazily and cached across calls', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    assert.equal(callsTo(emu, '/gettoken'), 0);
    const first = await client.getAccessToken();
    const second = await client.getAccessToken();
    await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
    assert.equal(first, second);
    assert.equal(callsTo(emu, '/gettoken'), 1);
    // The upload was accepted with the one token issued.
    assert.equal((await emu.lookup(first)).kind, 'access_token');
    assert.deepEqual(emu.requests.list({ path: '/media/upload' }).map((r) => [r.app, r.answer.errcode]), [[emu.credentials.dingtalk.appkey, 0]]);
  });
});

test('a token is refreshed before expires_in runs out (within the last 5 minutes), not after every call', async () => {
  await withEmulator(async (emu) => {
    let clock = 1_000_000;
    const client = clientOf(emu, { now: () => clock });
    await client.getAccessToken();
    clock += TOKEN_TTL_MS - 301_000; // still more than 5 minutes left
    await client.getAccessToken();
    assert.equal(callsTo(emu, '/gettoken'), 1);
    clock += 2000; // now inside the refresh margin, but not expired
    await client.getAccessToken();
    assert.equal(callsTo(emu, '/gettoken'), 2);
  });
});

test('an upload answered 42001 (expired token) is resent once with a new token and succeeds', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    const oldToken = await client.getAccessToken();
    await emu.clock.advance(TOKEN_TTL_MS); // the client's own clock still says the token is fresh
    const result = await client.media.upload(PNG, { type: 'image', filename: 'a.png' });
    assert.deepEqual(emu.requests.list({ path: '/media/upload' }).map((r) => r.answer.errcode), [42001, 0]);
    assert.deepEqual((await storedMedia(emu)).map((m) => [m.media_id, m.sha256]), [[result.mediaId, sha256(PNG)]]);
    assert.equal(callsTo(emu, '/gettoken'), 2);
    assert.notEqual(await client.getAccessToken(), oldToken);
  });
});

test('50 concurrent calls that all fail with the same expired token -> one refresh, all succeed', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    await client.getAccessToken();
    await emu.clock.advance(TOKEN_TTL_MS);
    emu.faults.add({ path: '/gettoken', delayMs: 20 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => client.media.upload(PNG, { type: 'image', filename: `p${i}.png` })));
    assert.equal(callsTo(emu, '/gettoken'), 2);
    assert.equal(emu.requests.list({ path: '/media/upload', errcode: 42001 }).length, 50);
    assert.equal((await storedMedia(emu)).length, 50);
  });
});

test('40014 is refreshed and retried once only: a second 40014 is thrown', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    emu.faults.add({ path: '/media/downloadFile', errcode: 40014, times: 2 });
    await assert.rejects(client.media.download('@whatever'), (e: unknown) => e instanceof DingTalkError && e.errcode === 40014);
    assert.equal(callsTo(emu, '/media/downloadFile'), 2);
    assert.equal(callsTo(emu, '/gettoken'), 2);
  });
});

test('other errcodes (40007) do not refresh the token nor retry', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    await assert.rejects(client.media.download('@nope'), (e: unknown) => e instanceof DingTalkError && e.errcode === 40007);
    assert.equal(callsTo(emu, '/media/downloadFile'), 1);
    assert.equal(callsTo(emu, '/gettoken'), 1);
  });
});

test('wrong app credentials -> DingTalkError 40096, the secret appears in no error message', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu, { appSecret: 'wrong-secret-xyz' });
    await assert.rejects(client.media.upload(PNG, { type: 'image', filename: 'a.png' }), (e: unknown) => {
      assert.ok(e instanceof DingTalkError);
      assert.equal(e.errcode, 40096);
      assert.equal(e.errmsg, '不合法的appKey或appSecret');
      assert.ok(!e.message.includes('wrong-secret-xyz'));
      return true;
    });
    assert.equal(callsTo(emu, '/media/upload'), 0);
  });
});

test('a non-replayable stream answered 42001 is not resent: the 42001 is thrown, nothing empty is stored', async () => {
  await withEmulator(async (emu) => {
    const client = clientOf(emu);
    await client.getAccessToken();
    await emu.clock.advance(TOKEN_TTL_MS);
    await assert.rejects(
      client.media.upload(Readable.from([PNG]), { type: 'image', filename: 'a.png' }),
      (e: unknown) => e instanceof DingTalkError && e.errcode === 42001 && /cannot be replayed/.test(e.message),
    );
    assert.equal(callsTo(emu, '/media/upload'), 1);
    assert.equal((await storedMedia(emu)).length, 0);
    // The token was dropped: the next call refreshes and works.
    const again = await client.media.upload(Readable.from([PNG]), { type: 'image', filename: 'a.png' });
    assert.deepEqual((await storedMedia(emu)).map((m) => [m.media_id, m.sha256]), [[again.mediaId, sha256(PNG)]]);
    assert.equal(callsTo(emu, '/gettoken'), 2);
  });
});

test('a failed refresh inside the margin falls back to the still-valid token; after expiry it throws', async () => {
  await withEmulator(async (emu) => {
    let clock = 1_000_000;
    const client = clientOf(emu, { now: () => clock, retries: { limit: 1, baseDelayMs: 5 } });
    const token = await client.getAccessToken();
    clock += TOKEN_TTL_MS - 60_000; // one minute left: refresh due
    emu.faults.add({ path: '/gettoken', errcode: -1, times: 2 });
    assert.equal(await client.getAccessToken(), token);
    assert.equal(callsTo(emu, '/gettoken'), 3);
    clock += 61_000; // expired now
    emu.faults.add({ path: '/gettoken', errcode: -1, times: 2 });
    await assert.rejects(client.getAccessToken(), (e: unknown) => e instanceof DingTalkError && e.errcode === -1);
    assert.equal(callsTo(emu, '/gettoken'), 5);
  });
});
