// Scenario g's measurements in a fresh node process (bench/emulator.ts runs it on the server core):
// what ships — the built @oapi-media/server (dist/emulator.js, dist/index.js) and the built SDK —
// in-process, as a test runner uses it. The peer is the server itself (startServer on a temp data
// folder), measured the same way in the same process. Prints one JSON line.
//   node bench/emulator-probe.mjs emulator|server ROUND_TRIPS STARTS
// One kind per process, so that the first start of each pays its own module loading.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const kind = process.argv[2];
const [roundTrips = 1000, starts = 20] = process.argv.slice(3).map(Number);
const server = new URL('../packages/server/dist/', import.meta.url);
const client = new URL('../packages/client/dist/index.js', import.meta.url);

const importStarted = performance.now();
const { startEmulator } = kind === 'emulator' ? await import(new URL('emulator.js', server)) : {};
const { startServer, loadConfig } = kind === 'server' ? await import(new URL('index.js', server)) : {};
const importMs = performance.now() - importStarted;
const { createClient } = await import(client);
const { pino } = await import('pino');

/** An 8 KiB PDF (type file): a header, then padding, as the server's format check takes it. */
const payload = Buffer.alloc(8 * 1024, 0x20);
payload.write('%PDF-1.4\n', 0, 'latin1');

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The well-known app of an emulator, or org default's app of a first start. */
async function tokenOf(baseUrl, appkey, appsecret) {
  const body = await (await fetch(`${baseUrl}/gettoken?appkey=${appkey}&appsecret=${appsecret}`)).json();
  if (body.errcode !== 0) throw new Error(`gettoken: ${JSON.stringify(body)}`);
  return body.access_token;
}

async function uploadOnce(baseUrl, token) {
  const form = new FormData();
  form.append('media', new Blob([payload]), 'a.pdf');
  const body = await (await fetch(`${baseUrl}/media/upload?access_token=${token}&type=file`, { method: 'POST', body: form })).json();
  if (body.errcode !== 0) throw new Error(`upload: ${JSON.stringify(body)}`);
  return body.media_id;
}

async function downloadOnce(baseUrl, token, mediaId) {
  const response = await fetch(`${baseUrl}/media/downloadFile?access_token=${token}&media_id=${encodeURIComponent(mediaId)}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  if (bytes.length !== payload.length) throw new Error(`download: ${response.status} ${bytes.length} bytes`);
}

/** A node of each kind: started, its first upload, and how long each step took. */
const kinds = {
  async emulator() {
    const started = performance.now();
    const emu = await startEmulator({ seed: 1 });
    const ready = performance.now();
    const { appkey, appsecret } = emu.credentials.dingtalk;
    const token = await tokenOf(emu.baseUrl, appkey, appsecret);
    await uploadOnce(emu.baseUrl, token);
    const firstUpload = performance.now();
    return { baseUrl: emu.baseUrl, appkey, appsecret, startMs: ready - started, firstUploadMs: firstUpload - started, close: () => emu.close() };
  },
  async server() {
    const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-bench-g-'));
    const started = performance.now();
    const running = await startServer(loadConfig({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent', shutdownGraceMs: 2000 }, {}), { logger: pino({ level: 'silent' }) });
    const ready = performance.now();
    const { appkey, appsecret } = running.firstStartCredentials;
    const token = await tokenOf(running.url, appkey, appsecret);
    await uploadOnce(running.url, token);
    const firstUpload = performance.now();
    return {
      baseUrl: running.url, appkey, appsecret, startMs: ready - started, firstUploadMs: firstUpload - started,
      close: async () => { await running.close(); await rm(dataDir, { recursive: true, force: true }); },
    };
  },
};

const result = { importMs, roundTrips };
{
  const start = kinds[kind];
  if (!start) throw new Error(`kind: emulator or server, not ${kind}`);
  const firstUploads = [];
  const startsMs = [];
  const closes = [];
  let firstInProcess;
  for (let i = 0; i < starts; i++) {
    const node = await start();
    if (i === 0) firstInProcess = node.firstUploadMs;
    firstUploads.push(node.firstUploadMs);
    startsMs.push(node.startMs);
    const closing = performance.now();
    await node.close();
    closes.push(performance.now() - closing);
  }
  const node = await start();
  const token = await tokenOf(node.baseUrl, node.appkey, node.appsecret);
  let began = performance.now();
  for (let i = 0; i < roundTrips; i++) await downloadOnce(node.baseUrl, token, await uploadOnce(node.baseUrl, token));
  const fetchSeconds = (performance.now() - began) / 1000;
  const sdk = createClient({ baseUrl: node.baseUrl, appKey: node.appkey, appSecret: node.appsecret });
  began = performance.now();
  for (let i = 0; i < roundTrips; i++) {
    const { mediaId } = await sdk.media.upload(payload, { type: 'file', filename: 'a.pdf' });
    const bytes = await (await sdk.media.download(mediaId)).arrayBuffer();
    if (bytes.byteLength !== payload.length) throw new Error('SDK download: wrong size');
  }
  const sdkSeconds = (performance.now() - began) / 1000;
  await node.close();
  Object.assign(result, {
    firstInProcessMs: firstInProcess,
    startToFirstUploadMs: median(firstUploads.slice(1)),
    startMs: median(startsMs.slice(1)),
    closeMs: median(closes.slice(1)),
    fetch: { seconds: fetchSeconds, perSecond: roundTrips / fetchSeconds },
    sdk: { seconds: sdkSeconds, perSecond: roundTrips / sdkSeconds },
  });
}
process.stdout.write(`${JSON.stringify(result)}\n`);
