// Run by timeout.test.ts in a process of its own: calls that time out, and calls that succeed
// under a 10-minute deadline; then it closes its servers and must exit by itself (a timer or a
// socket left behind by the SDK would keep it alive until the test kills it).
import { Readable } from 'node:stream';
import { createClient, isTimeoutError } from '../../src/index.ts';
import { startEmulator } from '../../../server/src/emulator/index.ts';
import { sampleOfSize } from '../../../server/test/fixtures/samples.ts';
import { startSilentServer } from './silent-server.ts';

const silent = await startSilentServer({ readBodies: true });
const hung = createClient({ baseUrl: silent.baseUrl, appKey: 'k', appSecret: 's', timeout: 10 * 60_000 });
let pushed = 0; // 4 MiB, sent whole before the deadline: the server reads it and never answers
const input = new Readable({ read() { this.push(pushed++ < 64 ? Buffer.alloc(64 * 1024) : null); } });
const uploadTimedOut = await hung.media.upload(input, { type: 'file', filename: 'endless.zip', timeout: 1000 }).then(() => false, isTimeoutError);
const token = await hung.getAccessToken();
const downloadTimedOut = await hung.media.download('@x', { timeout: 200 }).then(() => false, isTimeoutError);
await silent.close(); // graceful: waits for every connection, so a socket the SDK kept would hang here

const emulator = await startEmulator();
const { appkey, appsecret } = emulator.credentials.dingtalk;
const client = createClient({ baseUrl: emulator.baseUrl, appKey: appkey, appSecret: appsecret, timeout: 10 * 60_000 });
const png = sampleOfSize('png', 100_000);
const { mediaId } = await client.media.upload(png, { type: 'image', filename: 'a.png' });
const whole = Buffer.from(await (await client.media.download(mediaId)).arrayBuffer());
let streamed = 0;
for await (const chunk of (await client.media.download(mediaId)).stream()) streamed += chunk.byteLength;
await (await client.media.download(mediaId, { range: { start: 0, end: 9 } })).stream().cancel();
await emulator.close();

process.stdout.write(JSON.stringify({
  uploadTimedOut, inputDestroyed: input.destroyed, token, roundTrip: whole.equals(png) && streamed === png.length, downloadTimedOut,
}));
