// The SDK against the real oapi-media server whose clock the test moves: a token the client
// still thinks fresh has expired on the server. In-process only (the clock is set from the test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createClient, DingTalkError } from '../src/index.ts';
import { startTestServer } from '../../server/test/helpers/test-server.ts';
import { sample } from '../../server/test/fixtures/samples.ts';
import { countingFetch } from './helpers/counting-fetch.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('real server: after the token expires (server clock + 7201 s) a call gets 42001, refreshes once and succeeds', async () => {
  let clock = Date.now();
  const server = await startTestServer({ now: () => clock });
  try {
    const counter = countingFetch();
    const client = createClient({ baseUrl: server.baseUrl, appKey: server.appKey, appSecret: server.appSecret, fetch: counter.fetch });
    const png = sample('png');
    const first = await client.media.upload(png, { type: 'image', filename: 'a.png' });
    clock += 7201 * 1000; // the client's own clock still says the token is fresh
    const media = await client.media.download(first.mediaId);
    assert.equal(sha256(new Uint8Array(await media.arrayBuffer())), sha256(png));
    assert.deepEqual(counter.errcodes('/media/downloadFile'), [42001]); // then the bytes (not JSON)
    assert.equal(counter.count('/media/downloadFile'), 2);
    assert.equal(counter.count('/gettoken'), 2);

    // A stream cannot be resent: the 42001 is thrown and nothing (no empty file) is stored.
    clock += 7201 * 1000;
    await assert.rejects(
      client.media.upload(Readable.from([png]), { type: 'image', filename: 'b.png' }),
      (e: unknown) => e instanceof DingTalkError && e.errcode === 42001 && !e.local,
    );
    assert.equal((await server.mediaIds()).length, 1);
    const again = await client.media.upload(Readable.from([png]), { type: 'image', filename: 'b.png' });
    assert.equal(again.type, 'image');
    assert.equal(counter.count('/gettoken'), 3);
  } finally {
    await server.close();
  }
});
