// A tiny stand-in for DingTalk's oapi, for the paths the real oapi-media server cannot be made
// to take (DingTalk-only errcodes, resets, rate limits on demand). It answers as api.md
// documents DingTalk (HTTP 200 + errcode, x-request-id, request_id), counts every call, and
// lets a test script the next answers of a path.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export type ScriptedAnswer =
  /** Answer this JSON (HTTP 200 unless `status`), after reading the request body. */
  | { json: Record<string, unknown>; status?: number; headers?: Record<string, string> }
  /** Read the request body, then drop the connection without answering. */
  | { reset: true }
  /** Answer a non-JSON body, e.g. a proxy's error page. */
  | { text: string; status: number; contentType?: string };

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** Bytes of the request body received; `complete` false if the client went away first. */
  readonly bodyBytes: number;
  readonly complete: boolean;
}

export interface StoredMedia {
  readonly bytes: Buffer;
  readonly filename: string;
  readonly type: string;
}

export interface FakeDingTalkOptions {
  appKey?: string;
  appSecret?: string;
  expiresIn?: number;
  /** Hold each /gettoken answer this long (to let many callers pile up behind one). */
  tokenDelayMs?: number;
}

export interface FakeDingTalk {
  readonly baseUrl: string;
  readonly appKey: string;
  readonly appSecret: string;
  readonly requests: RecordedRequest[];
  readonly media: Map<string, StoredMedia>;
  /** Calls received on a path (answered or not). */
  count(path: string): number;
  /** The next answers of `path`, in order, before the default behaviour resumes. */
  script(path: string, ...answers: ScriptedAnswer[]): void;
  /** Every token issued so far now answers 42001, as after 7200 s. */
  expireTokens(): void;
  /** Resolves once a request to `path` has delivered at least `bytes` of its body. */
  receivedBytes(path: string, bytes: number): Promise<void>;
  close(): Promise<void>;
}

const TEXT = {
  ok: 'ok',
  40004: '不合法的媒体文件类型',
  40007: '不合法的媒体文件id',
  40014: '不合法的access_token',
  40035: '缺少参数',
  40096: '不合法的appKey或appSecret',
  41001: '缺少access_token参数',
  41005: '缺少多媒体文件数据',
  42001: 'access_token超时',
  44001: '多媒体文件为空',
} as const;

export async function startFakeDingTalk(options: FakeDingTalkOptions = {}): Promise<FakeDingTalk> {
  const appKey = options.appKey ?? 'dingfakeappkey';
  const appSecret = options.appSecret ?? 'fake-app-secret';
  const tokens = new Map<string, 'valid' | 'expired'>();
  const scripts = new Map<string, ScriptedAnswer[]>();
  const counts = new Map<string, number>();
  const requests: RecordedRequest[] = [];
  const media = new Map<string, StoredMedia>();
  const byteWaiters: { path: string; bytes: number; resolve: () => void }[] = [];

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://fake');
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    const requestId = request.headers['x-request-id']?.toString() ?? `fake-${randomBytes(6).toString('hex')}`;
    response.setHeader('x-request-id', requestId);
    const chunks: Buffer[] = [];
    let received = 0;
    request.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      for (const waiter of byteWaiters.filter((w) => w.path === url.pathname && received >= w.bytes)) {
        byteWaiters.splice(byteWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    });
    const record = (complete: boolean) => requests.push({
      method: request.method ?? '', path: url.pathname, query: url.searchParams, headers: request.headers, bodyBytes: received, complete,
    });
    request.on('aborted', () => record(false));
    request.on('end', () => {
      record(true);
      const scripted = scripts.get(url.pathname)?.shift();
      if (scripted) return answerScripted(response, scripted, requestId);
      const body = Buffer.concat(chunks);
      const answer = (errcode: keyof typeof TEXT | 0, extra: Record<string, unknown> = {}) =>
        sendJson(response, { errcode, errmsg: errcode === 0 ? 'ok' : TEXT[errcode], ...extra, ...(errcode === 0 ? {} : { request_id: requestId }) });
      const checkToken = (): boolean => {
        const token = url.searchParams.get('access_token');
        if (!token) return answer(41001), false;
        const state = tokens.get(token);
        if (state === undefined) return answer(40014), false;
        if (state === 'expired') return answer(42001), false;
        return true;
      };
      switch (url.pathname) {
        case '/gettoken': {
          const key = url.searchParams.get('appkey');
          const secret = url.searchParams.get('appsecret');
          if (!key || !secret) return answer(40035);
          if (key !== appKey || secret !== appSecret) return answer(40096);
          const token = randomBytes(16).toString('hex');
          tokens.set(token, 'valid');
          setTimeout(() => answer(0, { access_token: token, expires_in: options.expiresIn ?? 7200 }), options.tokenDelayMs ?? 0);
          return;
        }
        case '/media/upload': {
          if (!checkToken()) return;
          const type = url.searchParams.get('type');
          if (!type || !['image', 'voice', 'video', 'file'].includes(type)) return answer(40004);
          const part = parseSingleFilePart(request.headers['content-type'] ?? '', body);
          if (!part) return answer(41005);
          if (part.bytes.length === 0) return answer(44001);
          const mediaId = `@fake${randomBytes(12).toString('base64url')}`;
          media.set(mediaId, { bytes: part.bytes, filename: part.filename, type });
          return answer(0, { media_id: mediaId, created_at: Date.now(), type });
        }
        case '/media/downloadFile': {
          if (!checkToken()) return;
          const id = url.searchParams.get('media_id');
          const stored = id ? media.get(id) : undefined;
          if (!stored) return answer(40007);
          return sendBytes(response, stored, request.headers.range);
        }
        default:
          response.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
          response.end(JSON.stringify({ errcode: 404, errmsg: '请求的URI地址不存在' }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    appKey,
    appSecret,
    requests,
    media,
    count: (path) => counts.get(path) ?? 0,
    script: (path, ...answers) => scripts.set(path, [...(scripts.get(path) ?? []), ...answers]),
    expireTokens: () => {
      for (const token of tokens.keys()) tokens.set(token, 'expired');
    },
    receivedBytes: (path, bytes) => new Promise((resolve) => byteWaiters.push({ path, bytes, resolve })),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function sendJson(response: ServerResponse, body: Record<string, unknown>, status = 200, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  response.end(JSON.stringify(body));
}

function answerScripted(response: ServerResponse, answer: ScriptedAnswer, requestId: string): void {
  if ('reset' in answer) {
    response.socket?.destroy();
    return;
  }
  if ('text' in answer) {
    response.writeHead(answer.status, { 'content-type': answer.contentType ?? 'text/html' });
    response.end(answer.text);
    return;
  }
  const body = answer.json.errcode === 0 ? answer.json : { request_id: requestId, ...answer.json };
  sendJson(response, body, answer.status, answer.headers);
}

function sendBytes(response: ServerResponse, stored: StoredMedia, range: string | undefined): void {
  const headers = {
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${encodeURIComponent(stored.filename)}"; filename*=UTF-8''${encodeURIComponent(stored.filename)}`,
    'accept-ranges': 'bytes',
  };
  const match = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
  if (!match) {
    response.writeHead(200, { ...headers, 'content-length': stored.bytes.length });
    response.end(stored.bytes);
    return;
  }
  const start = Number(match[1]);
  const end = Math.min(match[2] ? Number(match[2]) : stored.bytes.length - 1, stored.bytes.length - 1);
  response.writeHead(206, {
    ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${stored.bytes.length}`,
  });
  response.end(stored.bytes.subarray(start, end + 1));
}

/** The first part of a multipart body that has a filename (enough for one-file uploads). */
function parseSingleFilePart(contentType: string, body: Buffer): { filename: string; bytes: Buffer } | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) return undefined;
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  const start = body.indexOf(delimiter);
  const headerEnd = body.indexOf('\r\n\r\n', start);
  if (start < 0 || headerEnd < 0) return undefined;
  const headers = body.subarray(start, headerEnd).toString('utf8');
  const name = /name="media"/.exec(headers);
  const filename = /filename="([^"]*)"/.exec(headers);
  const end = body.indexOf(`\r\n${delimiter}`, headerEnd);
  if (!name || !filename || end < 0) return undefined;
  return { filename: filename[1]!, bytes: body.subarray(headerEnd + 4, end) };
}
