// The load generator of scenario f (large files): N upload sessions at once, each sending the same
// payload file in chunks of a fixed size, one chunk request at a time per session, over tus
// (POST, then PATCHes) or DingTalk's chunked upload (open, chunks, commit). Chunks are read from
// the file at their offset into one buffer per session, so a 1 GiB file never sits in memory.
// Every request is judged as the scenario's others are: a non-2xx or an errcode other than 0 fails
// its session, counted and reported.
//
// Runs as its own process (pinned to the load core by load-runner.ts):
//   node --import tsx bench/session-load.ts PLAN.json   -> prints one LoadResult as JSON on stdout

import { open, type FileHandle } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { loadResult, type LoadResult } from './load.ts';

export interface SessionPlan {
  protocol: 'tus' | 'dingtalk';
  /** tus: the creation URL (POST); dingtalk: the server's base URL. */
  url: string;
  /** tus: sent with every request (Authorization: Bearer for oapi-media). */
  headers?: Record<string, string>;
  /** dingtalk: the access_token. */
  accessToken?: string;
  payloadPath: string;
  payloadBytes: number;
  fileName: string;
  chunkBytes: number;
  sessions: number;
  requestTimeoutMs: number;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const MULTIPART_BOUNDARY = '----oapiMediaBenchChunkBoundary';

export async function runSessions(plan: SessionPlan): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: plan.sessions });
  const file = await open(plan.payloadPath, 'r');
  const chunkLatencies: number[] = [];
  const errors = new Map<string, number>();
  const collected: string[] = [];

  function send(method: 'GET' | 'POST' | 'PATCH', url: string, headers: Record<string, string | number>, body: Buffer[] = []): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method, agent, headers: { ...headers, 'content-length': body.reduce((n, b) => n + b.length, 0) } }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }));
        response.on('error', reject);
      });
      req.setTimeout(plan.requestTimeoutMs, () => req.destroy(new Error(`no answer within ${plan.requestTimeoutMs} ms`)));
      req.on('error', reject);
      body.forEach((part, i) => (i === body.length - 1 ? req.end(part) : req.write(part)));
      if (body.length === 0) req.end();
    });
  }

  /** One chunk request, timed (the latency figures are the chunks'). */
  async function timedChunk(call: () => Promise<Answer>): Promise<Answer> {
    const started = performance.now();
    const answer = await call();
    chunkLatencies.push(performance.now() - started);
    return answer;
  }

  function expect(answer: Answer, status: number, what: string): void {
    if (answer.status !== status) throw new Error(`${what}: HTTP ${answer.status} ${answer.text.slice(0, 160)}`);
  }

  function dingTalkJson(answer: Answer, what: string): Record<string, unknown> {
    const json = JSON.parse(answer.text) as Record<string, unknown>;
    if (answer.status !== 200 || json.errcode !== 0) throw new Error(`${what}: HTTP ${answer.status} errcode ${String(json.errcode)} ${String(json.errmsg)}`);
    return json;
  }

  async function readChunk(handle: FileHandle, buffer: Buffer, offset: number): Promise<Buffer> {
    const length = Math.min(plan.chunkBytes, plan.payloadBytes - offset);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    if (bytesRead !== length) throw new Error(`payload: read ${bytesRead} of ${length} bytes at ${offset}`);
    return buffer.subarray(0, length);
  }

  /** tus: creation, then PATCHes in order; the id is oapi-media's Oapi-Media-Id, else the upload's URL. */
  async function tusSession(buffer: Buffer): Promise<string> {
    const metadata = `filename ${Buffer.from(plan.fileName).toString('base64')}`;
    const created = await send('POST', plan.url, { ...plan.headers, 'tus-resumable': '1.0.0', 'upload-length': plan.payloadBytes, 'upload-metadata': metadata });
    expect(created, 201, 'tus POST');
    const location = new URL(String(created.headers.location), plan.url).toString();
    let mediaId: string | undefined;
    for (let offset = 0; offset < plan.payloadBytes;) {
      const chunk = await readChunk(file, buffer, offset);
      const patched = await timedChunk(() => send('PATCH', location, {
        ...plan.headers, 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream', 'upload-offset': offset,
      }, [chunk]));
      expect(patched, 204, `tus PATCH at ${offset}`);
      const next = Number(patched.headers['upload-offset']);
      if (next !== offset + chunk.length) throw new Error(`tus PATCH at ${offset}: Upload-Offset ${String(patched.headers['upload-offset'])}, expected ${offset + chunk.length}`);
      offset = next;
      const header = patched.headers['oapi-media-id'];
      if (typeof header === 'string') mediaId = header;
    }
    return mediaId ?? location;
  }

  /** DingTalk: open the transaction, every chunk as a multipart `file` part in order, commit; the media_id. */
  async function dingTalkSession(buffer: Buffer): Promise<string> {
    const chunkNumbers = Math.ceil(plan.payloadBytes / plan.chunkBytes);
    const query = (extra: Record<string, string>) => new URLSearchParams({ access_token: plan.accessToken ?? '', ...extra }).toString();
    const sizes = { file_size: String(plan.payloadBytes), chunk_numbers: String(chunkNumbers) };
    const opened = dingTalkJson(await send('GET', `${plan.url}/file/upload/transaction?${query({ ...sizes, file_name: plan.fileName })}`, {}), 'open');
    const uploadId = String(opened.upload_id);
    for (let seq = 1, offset = 0; offset < plan.payloadBytes; seq++, offset += plan.chunkBytes) {
      const chunk = await readChunk(file, buffer, offset);
      const head = Buffer.from(`--${MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="chunk${seq}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
      const tail = Buffer.from(`\r\n--${MULTIPART_BOUNDARY}--\r\n`);
      const url = `${plan.url}/file/upload/chunk?${query({ upload_id: uploadId, chunk_sequence: String(seq) })}`;
      dingTalkJson(await timedChunk(() => send('POST', url, { 'content-type': `multipart/form-data; boundary=${MULTIPART_BOUNDARY}` }, [head, chunk, tail])), `chunk ${seq}`);
    }
    const committed = dingTalkJson(await send('GET', `${plan.url}/file/upload/transaction?${query({ ...sizes, upload_id: uploadId })}`, {}), 'commit');
    return String(committed.media_id);
  }

  const start = performance.now();
  try {
    await Promise.all(Array.from({ length: plan.sessions }, async () => {
      const buffer = Buffer.allocUnsafe(plan.chunkBytes);
      try {
        collected.push(await (plan.protocol === 'tus' ? tusSession(buffer) : dingTalkSession(buffer)));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        errors.set(message, (errors.get(message) ?? 0) + 1);
      }
    }));
  } finally {
    await file.close();
    agent.destroy();
  }
  // A request here is a session: it succeeds when its whole file was acknowledged (the id answered);
  // the rate and the latencies are the chunk requests' (tus PATCHes, DingTalk chunk POSTs).
  return loadResult({
    requests: plan.sessions,
    succeeded: collected.length,
    errors,
    elapsedMs: performance.now() - start,
    payloadBytes: plan.payloadBytes,
    rated: chunkLatencies.length,
    latencies: chunkLatencies,
    collected,
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as SessionPlan;
  const result = await runSessions(plan);
  process.stdout.write(JSON.stringify(result) + '\n');
}
