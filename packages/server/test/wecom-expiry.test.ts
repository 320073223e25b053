// Media lifetimes per wire (issue 16), with the server's clock in the test's hands: a WeCom
// media_id answers until 3 days after its upload, then exactly as an unknown one (40007); DingTalk's
// media and WeCom's published images are permanent. The background sweep removes what expired —
// the row (its usage released with it), then the blob — once, even with two sweeps at once.
// In-process only: the clock (now) cannot be set from outside the server's process.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sample, sampleOfSize } from './fixtures/samples.ts';
import { downloadUrl, getToken, sha256, upload as dingtalkUpload } from './helpers/e2e-http.ts';
import { startTestServer, type TestServer } from './helpers/test-server.ts';
import { assertWeComError, mediaPart, wecomGet, wecomGetError, wecomPost, wecomToken, wecomUpload } from './helpers/wecom-http.ts';
import { withAnotherFirstCharacter } from './helpers/near-miss.ts';

const THREE_DAYS_MS = 3 * 24 * 3600 * 1000;
/** Larger than the inline limit (64 KiB): its bytes are a blob of their own, not kept with the row. */
const BLOB_SIZE = 200_000;

const clock = { now: Date.UTC(2026, 0, 5, 9, 0, 0) };

let server: TestServer;

before(async () => {
  // No timer here: the sweeps under test are the ones this file calls (the timer has its own test).
  server = await startTestServer({ now: () => clock.now, config: { expirySweepIntervalMs: 0 } });
});
after(async () => {
  await server?.close();
});

async function blobKeys(): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const blob of server.server.services.blobs.list()) keys.add(blob.key);
  return keys;
}

async function orgUsage(org: string) {
  const { metadata } = server.server.services;
  return metadata.usage((await metadata.getOrgByName(org))!.id);
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('a WeCom media_id lives 3 days', () => {
  test('readable until the last millisecond; at 3 days 40007, exactly as an unknown id; DingTalk media and published images stay', async () => {
    const org = 'expiry-a';
    const wecom = await server.createApp(org, 'wecom');
    const dingtalk = await server.createApp(org, 'dingtalk');
    const start = clock.now;
    const token = await wecomToken(server.baseUrl, wecom.appKey, wecom.appSecret);
    const big = sampleOfSize('png', BLOB_SIZE);
    const small = sample('amr');
    const blob = await wecomUpload(server.baseUrl, token, 'image', 'big.png', big);
    const inline = await wecomUpload(server.baseUrl, token, 'voice', 'small.amr', small);
    assert.equal(blob.createdAt, String(Math.floor(start / 1000)));
    const dingtalkToken = await getToken(server.baseUrl, dingtalk.appKey, dingtalk.appSecret);
    const permanent = await dingtalkUpload(server.baseUrl, dingtalkToken, 'image', sample('png'), 'p.png');
    assert.equal(permanent.errcode, 0);
    const published = await wecomPost(server.baseUrl, '/cgi-bin/media/uploadimg', { access_token: token }, mediaPart('logo.png', sample('png')));
    const url = String(published.json.url);

    clock.now = start + THREE_DAYS_MS - 1;
    // Tokens live 7200 s: a new one for the later calls (the media, not the token, is under test).
    const lateToken = await wecomToken(server.baseUrl, wecom.appKey, wecom.appSecret);
    const lastMoment = await wecomGet(server.baseUrl, lateToken, blob.mediaId);
    assert.equal(lastMoment.status, 200);
    assert.equal(sha256(new Uint8Array(await lastMoment.arrayBuffer())), sha256(big));
    assert.equal(lastMoment.headers.get('cache-control'), 'private, max-age=0');

    clock.now = start + THREE_DAYS_MS;
    const expired = await wecomGetError(server.baseUrl, lateToken, blob.mediaId);
    assertWeComError(expired, 40007, 'invalid media_id');
    assertWeComError(await wecomGetError(server.baseUrl, lateToken, inline.mediaId), 40007, 'invalid media_id');
    const unknown = await wecomGetError(server.baseUrl, lateToken, withAnotherFirstCharacter(blob.mediaId, '98'));
    assert.equal(String(expired.json.errmsg).split(', hint:')[0], String(unknown.json.errmsg).split(', hint:')[0]);

    const lateDingTalk = await getToken(server.baseUrl, dingtalk.appKey, dingtalk.appSecret);
    const stillThere = await fetch(downloadUrl(server.baseUrl, lateDingTalk, permanent.media_id!));
    assert.equal(stillThere.status, 200);
    await stillThere.arrayBuffer();
    assert.equal((await fetch(url)).status, 200);
  });
});

describe('the expiry sweep (background, multi-node safe)', () => {
  test('removes each expired row once (usage released once), then its blob; keeps what has not expired', async () => {
    const org = 'expiry-sweep';
    const wecom = await server.createApp(org, 'wecom');
    const start = clock.now;
    const token = await wecomToken(server.baseUrl, wecom.appKey, wecom.appSecret);
    const { media, metadata } = server.server.services;
    // What the test above left expired (its two WeCom media) goes first: the sweep is server-wide.
    assert.equal(await media.sweepExpired(), 2);
    assert.deepEqual(await orgUsage('expiry-a'), { mediaCount: 2, totalBytes: sample('png').length * 2 });
    const blobsBefore = await blobKeys();
    const doomed = [
      await wecomUpload(server.baseUrl, token, 'image', 'a.png', sampleOfSize('png', BLOB_SIZE)),
      await wecomUpload(server.baseUrl, token, 'image', 'b.png', sampleOfSize('png', BLOB_SIZE + 1)),
      await wecomUpload(server.baseUrl, token, 'voice', 'c.amr', sample('amr')),
    ];
    const newBlobs = [...(await blobKeys())].filter((key) => !blobsBefore.has(key));
    // On SQLite the amr is kept with its row; with PostgreSQL every media is a blob.
    assert.equal(newBlobs.length, metadata.inlineMaxBytes > 0 ? 2 : 3);
    clock.now = start + 1000;
    const survivor = await wecomUpload(server.baseUrl, token, 'file', 'keep.txt', Buffer.from('survives'));
    assert.deepEqual((await orgUsage(org)).mediaCount, 4);

    // Past the first three's 3 days, not the survivor's. Two sweeps at once, as two nodes would.
    clock.now = start + THREE_DAYS_MS + 500;
    const [first, second] = await Promise.all([media.sweepExpired(), media.sweepExpired()]);
    assert.equal(first + second, 3, `each expired media removed once (${first} + ${second})`);
    assert.deepEqual(await server.mediaIds(org), [survivor.mediaId]);
    assert.deepEqual(await orgUsage(org), { mediaCount: 1, totalBytes: 'survives'.length });
    const blobsAfter = await blobKeys();
    for (const key of newBlobs) assert.ok(!blobsAfter.has(key), `blob ${key} of an expired media removed`);
    for (const { mediaId } of doomed) assert.equal(await metadata.getMedia(mediaId), null);
    const lateToken = await wecomToken(server.baseUrl, wecom.appKey, wecom.appSecret);
    assert.deepEqual(Buffer.from(await (await wecomGet(server.baseUrl, lateToken, survivor.mediaId)).arrayBuffer()), Buffer.from('survives'));

    clock.now = start + 1000 + THREE_DAYS_MS;
    assert.equal(await media.sweepExpired(), 1);
    assert.deepEqual(await orgUsage(org), { mediaCount: 0, totalBytes: 0 });
    assert.equal(await media.sweepExpired(), 0, 'nothing left to sweep');
  });

  test('the quota is the same code on every wire: WeCom uploads fill it (45010), and the sweep gives back what expired', async () => {
    const org = 'expiry-quota';
    const wecom = await server.createApp(org, 'wecom');
    const png = sampleOfSize('png', BLOB_SIZE);
    await server.server.services.admin.setOrgLimits(org, { quotaBytes: png.length });
    const start = clock.now;
    const token = await wecomToken(server.baseUrl, wecom.appKey, wecom.appSecret);
    const first = await wecomUpload(server.baseUrl, token, 'image', 'a.png', png);
    const over = await wecomPost(server.baseUrl, '/cgi-bin/media/upload', { access_token: token, type: 'image' }, mediaPart('b.png', png));
    assertWeComError(over, 45010, 'organization storage quota exceeded');
    assert.deepEqual(await server.mediaIds(org), [first.mediaId]);
    clock.now = start + THREE_DAYS_MS;
    assert.ok((await server.server.services.media.sweepExpired()) >= 1);
    assert.deepEqual(await orgUsage(org), { mediaCount: 0, totalBytes: 0 });
    const lateToken = await wecomToken(server.baseUrl, wecom.appKey, wecom.appSecret);
    const again = await wecomUpload(server.baseUrl, lateToken, 'image', 'b.png', png);
    assert.deepEqual(await server.mediaIds(org), [again.mediaId]);
  });

  test('OAPI_MEDIA_EXPIRY_SWEEP_INTERVAL_MS: the node sweeps by itself on its timer', async () => {
    const timerClock = { now: Date.UTC(2026, 1, 1) };
    const node = await startTestServer({ now: () => timerClock.now, config: { expirySweepIntervalMs: 50 } });
    try {
      const wecom = await node.createApp('timer', 'wecom');
      const token = await wecomToken(node.baseUrl, wecom.appKey, wecom.appSecret);
      const { mediaId } = await wecomUpload(node.baseUrl, token, 'image', 'a.png', sampleOfSize('png', BLOB_SIZE));
      await new Promise((resolve) => setTimeout(resolve, 200)); // a few sweeps: nothing is due yet
      assert.deepEqual(await node.mediaIds('timer'), [mediaId]);
      timerClock.now += THREE_DAYS_MS;
      await until(async () => (await node.mediaIds('timer')).length === 0, 'the timer to sweep the expired media');
      const { metadata } = node.server.services;
      assert.deepEqual(await metadata.usage((await metadata.getOrgByName('timer'))!.id), { mediaCount: 0, totalBytes: 0 });
    } finally {
      await node.close();
    }
  });
});
