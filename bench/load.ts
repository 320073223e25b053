// The load generator: N keep-alive connections (one node:http Agent) sending the same request
// again and again for a fixed time, recording each request's latency. Bodies are one payload file
// read once into a Buffer and written to every request as is (issue 6: no body generated per
// request). A non-success answer is an error, counted and reported, never a silent success.
//
// Runs as its own process (pinned to the load core by load-runner.ts):
//   node --import tsx bench/load.ts PLAN.json   -> prints one LoadResult as JSON on stdout

import { Agent, request, type IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

export type LoadBody =
  | {
      kind: 'multipart';
      payloadPath: string;
      fieldName: string;
      fileName: string;
      contentType: string;
      /** Text fields sent before the file part, in this order (Feishu's file_type, file_name). */
      fields?: [name: string, value: string][];
    }
  | { kind: 'raw'; payloadPath: string }
  | { kind: 'none' };

export interface LoadPlan {
  method: 'POST' | 'PUT' | 'GET';
  /** Used in turn. `{n}` in a URL is replaced by a number unique to the request (WebDAV PUT names). */
  urls: string[];
  body: LoadBody;
  /** Sent with every request besides content-length/content-type (Feishu's `Authorization: Bearer`). */
  headers?: Record<string, string>;
  concurrency: number;
  durationMs: number;
  /**
   * 'http-2xx': any 2xx is a success; 'errcode-0': also needs JSON `"errcode":0` (DingTalk and
   * WeCom); 'code-0': also needs JSON `"code":0` (Feishu).
   */
  success: 'http-2xx' | 'errcode-0' | 'code-0';
  /** GET: a success must carry exactly this many body bytes. */
  expectedResponseBytes?: number;
  /** Bytes of media each success stands for (uploaded or downloaded), for MB/s. */
  payloadBytes: number;
  /**
   * A JSON field of each successful answer to keep (oapi-media's media_id), for verification; a
   * dotted path reaches into objects (Feishu's `data.file_key`).
   */
  collectField?: string;
  requestTimeoutMs: number;
  /**
   * The HTTP client: node:http's Agent (default), or undici (a Pool per origin, every connection
   * opened as its first request starts, the body written as one Buffer): issue 19 (c) saw another
   * peak RSS under undici's pattern than under node:http's.
   */
  client?: 'node-http' | 'undici';
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  requests: number;
  succeeded: number;
  failed: number;
  /** The distinct errors, most frequent first, with their counts. */
  errors: { message: string; count: number }[];
  elapsedMs: number;
  /** payloadBytes × succeeded: what the target acknowledged. */
  acknowledgedBytes: number;
  megabytesPerSecond: number;
  requestsPerSecond: number;
  /** Latency of successful requests, in milliseconds. */
  latencyMs: LatencySummary;
  collected: string[];
}

const MULTIPART_BOUNDARY = '----oapiMediaBenchBoundary7MA4YWxkTrZu0gW';

interface PreparedBody {
  chunks: Buffer[];
  length: number;
  contentType?: string;
}

function prepareBody(body: LoadBody): PreparedBody {
  if (body.kind === 'none') return { chunks: [], length: 0 };
  const payload = readFileSync(body.payloadPath);
  if (body.kind === 'raw') return { chunks: [payload], length: payload.length, contentType: 'application/octet-stream' };
  const fields = (body.fields ?? [])
    .map(([name, value]) => `--${MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
    .join('');
  const head = Buffer.from(
    fields +
      `--${MULTIPART_BOUNDARY}\r\n` +
      `Content-Disposition: form-data; name="${body.fieldName}"; filename="${body.fileName}"\r\n` +
      `Content-Type: ${body.contentType}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${MULTIPART_BOUNDARY}--\r\n`);
  return {
    chunks: [head, payload, tail],
    length: head.length + payload.length + tail.length,
    contentType: `multipart/form-data; boundary=${MULTIPART_BOUNDARY}`,
  };
}

export function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

function summarise(latencies: number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  const values = Array.from(sorted);
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    p50: percentile(values, 0.5),
    p90: percentile(values, 0.9),
    p99: percentile(values, 0.99),
    max: values.length ? values[values.length - 1]! : 0,
    mean: values.length ? sum / values.length : 0,
  };
}

/** `answer.a.b` for the path "a.b"; undefined where a step is missing or not an object. */
export function fieldAt(answer: Record<string, unknown>, path: string): unknown {
  let value: unknown = answer;
  for (const step of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value;
}

type Outcome = { ok: true; collected?: string } | { ok: false; message: string };

function judge(plan: LoadPlan, response: IncomingMessage, text: string, receivedBytes: number): Outcome {
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) return { ok: false, message: `HTTP ${status} ${text.slice(0, 120)}` };
  if (plan.expectedResponseBytes !== undefined && receivedBytes !== plan.expectedResponseBytes) {
    return { ok: false, message: `HTTP ${status} with ${receivedBytes} bytes, expected ${plan.expectedResponseBytes}: ${text.slice(0, 120)}` };
  }
  if (plan.success === 'http-2xx' && !plan.collectField) return { ok: true };
  let answer: Record<string, unknown>;
  try {
    answer = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { ok: false, message: `HTTP ${status}, not JSON: ${text.slice(0, 120)}` };
  }
  if (plan.success === 'errcode-0' && answer.errcode !== 0) {
    return { ok: false, message: `errcode ${String(answer.errcode)} ${String(answer.errmsg)}` };
  }
  if (plan.success === 'code-0' && answer.code !== 0) {
    return { ok: false, message: `code ${String(answer.code)} ${String(answer.msg)}` };
  }
  const collected = plan.collectField ? fieldAt(answer, plan.collectField) : undefined;
  return typeof collected === 'string' ? { ok: true, collected } : { ok: true };
}

/** Sends one request (the n-th of the run) and settles with its outcome; never rejects. */
type SendOne = (url: string) => Promise<Outcome>;

/**
 * `concurrency` workers sending requests one after the other until the duration is over (each at
 * least once, so "64 concurrent uploads" really happen even when one round outlasts the duration);
 * every outcome tallied, the result in loadResult's terms.
 */
async function drive(plan: LoadPlan, sendOne: SendOne): Promise<LoadResult> {
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  const collected: string[] = [];
  let requests = 0;
  let succeeded = 0;
  let sequence = 0;
  const once = async (): Promise<void> => {
    const n = sequence++;
    requests += 1;
    const started = performance.now();
    const outcome = await sendOne(plan.urls[n % plan.urls.length]!.replace('{n}', String(n)));
    if (outcome.ok) {
      succeeded += 1;
      latencies.push(performance.now() - started);
      if (outcome.collected !== undefined) collected.push(outcome.collected);
    } else {
      errors.set(outcome.message, (errors.get(outcome.message) ?? 0) + 1);
    }
  };
  const start = performance.now();
  const deadline = start + plan.durationMs;
  const worker = async (): Promise<void> => {
    do await once();
    while (performance.now() < deadline);
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  const elapsedMs = performance.now() - start;
  return loadResult({ requests, succeeded, errors, elapsedMs, payloadBytes: plan.payloadBytes, rated: succeeded, latencies, collected });
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  if (plan.client === 'undici') return runUndiciLoad(plan);
  const body = prepareBody(plan.body);
  const agent = new Agent({ keepAlive: true, maxSockets: plan.concurrency, maxFreeSockets: plan.concurrency, scheduling: 'fifo' });
  const keepsText = plan.method !== 'GET' || plan.expectedResponseBytes === undefined;
  const sendOne: SendOne = (url) => new Promise<Outcome>((settle) => {
    const headers: Record<string, string | number> = { ...plan.headers, 'content-length': body.length };
    if (body.contentType) headers['content-type'] = body.contentType;
    const req = request(url, { method: plan.method, agent, headers }, (response) => {
      let text = '';
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        // A download keeps only its first bytes: enough to show an error answer in its place.
        if (keepsText ? text.length < 65536 : text.length === 0) text += chunk.toString('utf8', 0, keepsText ? chunk.length : Math.min(chunk.length, 200));
      });
      response.on('end', () => settle(judge(plan, response, text, received)));
      response.on('error', (error) => settle({ ok: false, message: `response ${(error as NodeJS.ErrnoException).code ?? error.message}` }));
    });
    req.setTimeout(plan.requestTimeoutMs, () => req.destroy(new Error(`no answer within ${plan.requestTimeoutMs} ms`)));
    req.on('error', (error) => settle({ ok: false, message: `request ${(error as NodeJS.ErrnoException).code ?? error.message}` }));
    const last = body.chunks.length - 1;
    body.chunks.forEach((chunk, i) => (i === last ? req.end(chunk) : req.write(chunk)));
    if (body.chunks.length === 0) req.end();
  });
  try {
    return await drive(plan, sendOne);
  } finally {
    agent.destroy();
  }
}

/** runLoad with undici: the same requests, judged alike, from a Pool of `concurrency` connections per origin. */
async function runUndiciLoad(plan: LoadPlan): Promise<LoadResult> {
  const { Agent: UndiciAgent, request: undiciRequest } = await import('undici');
  const body = prepareBody(plan.body);
  const whole = Buffer.concat(body.chunks, body.length);
  const dispatcher = new UndiciAgent({ connections: plan.concurrency, pipelining: 1, headersTimeout: plan.requestTimeoutMs, bodyTimeout: plan.requestTimeoutMs });
  const headers: Record<string, string> = { ...plan.headers };
  if (body.contentType) headers['content-type'] = body.contentType;
  const sendOne: SendOne = async (url) => {
    try {
      const response = await undiciRequest(url, { dispatcher, method: plan.method, headers, body: plan.method === 'GET' ? null : whole });
      let text = '';
      let received = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (text.length < 65536) text += chunk.toString('utf8', 0, Math.min(chunk.length, 65536));
      }
      return judge(plan, { statusCode: response.statusCode } as IncomingMessage, text, received);
    } catch (error) {
      return { ok: false, message: `request ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` };
    }
  };
  try {
    return await drive(plan, sendOne);
  } finally {
    await dispatcher.close();
  }
}

export interface LoadCounts {
  requests: number;
  succeeded: number;
  /** Each distinct error message with its count. */
  errors: Map<string, number>;
  elapsedMs: number;
  /** Bytes of media each success stands for. */
  payloadBytes: number;
  /** The requests the req/s figure counts (the successes; scenario f: its chunk requests). */
  rated: number;
  /** Of the requests `rated` counts, in milliseconds. */
  latencies: number[];
  collected: string[];
}

/** A load's figures from its counts: MB/s of what was acknowledged, req/s of the rated requests, their latencies. */
export function loadResult(counts: LoadCounts): LoadResult {
  const { requests, succeeded, errors, elapsedMs } = counts;
  const acknowledgedBytes = succeeded * counts.payloadBytes;
  return {
    requests,
    succeeded,
    failed: requests - succeeded,
    errors: [...errors].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([message, count]) => ({ message, count })),
    elapsedMs,
    acknowledgedBytes,
    megabytesPerSecond: acknowledgedBytes / 1e6 / (elapsedMs / 1000),
    requestsPerSecond: counts.rated / (elapsedMs / 1000),
    latencyMs: summarise(counts.latencies),
    collected: counts.collected,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadPlan;
  // A last guard besides the parent's timeout: this process never outlives its plan by much.
  setTimeout(() => {
    process.stderr.write('load: hard deadline passed, exiting\n');
    process.exit(3);
  }, plan.durationMs + plan.requestTimeoutMs + 30_000).unref();
  const result = await runLoad(plan);
  process.stdout.write(JSON.stringify(result) + '\n');
}
