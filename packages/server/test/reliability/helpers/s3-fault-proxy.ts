// An HTTP proxy on 127.0.0.1 in front of an S3 endpoint (s3rver), switchable while a drill runs:
// pass, answer 500 / 503 (S3's XML error shape), hold each request `slowMs` before passing it, reset
// the connection on arrival, pass the request but reset the connection instead of answering (the call
// applied, its answer lost), or cut a response's body half-way. A fault may be limited to some
// operations (e.g. UploadPart only, so that a multipart upload is begun and must be aborted).
// Every request is logged with its operation, the mode that met it and the status it got.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type FaultMode = 'pass' | 'status500' | 'status503' | 'slow' | 'reset' | 'lostAnswer' | 'cutBody';

export type S3Operation =
  | 'HeadBucket' | 'CreateBucket' | 'ListObjectsV2' | 'PutObject' | 'GetObject' | 'DeleteObject'
  | 'CreateMultipartUpload' | 'UploadPart' | 'CompleteMultipartUpload' | 'AbortMultipartUpload';

export interface ProxiedRequest {
  operation: S3Operation;
  key: string;
  mode: FaultMode;
  /** The status the client got; 0 when its connection was reset or its body cut. */
  status: number;
  at: number;
}

/** The S3 call a path-style request is (the calls S3BlobStore makes). */
export function operationOf(method: string, url: URL): S3Operation {
  const q = url.searchParams;
  const isBucket = url.pathname.split('/').filter(Boolean).length === 1;
  if (method === 'HEAD') return 'HeadBucket';
  if (method === 'GET') return isBucket ? 'ListObjectsV2' : 'GetObject';
  if (method === 'POST') return q.has('uploads') ? 'CreateMultipartUpload' : 'CompleteMultipartUpload';
  if (method === 'PUT') return isBucket ? 'CreateBucket' : q.has('partNumber') ? 'UploadPart' : 'PutObject';
  return q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
}

export interface FaultProxy {
  endpoint: string;
  log: ProxiedRequest[];
  /** From now on: `mode` for `operations` (all when absent), pass for the others. */
  set(mode: FaultMode, operations?: readonly S3Operation[]): void;
  close(): Promise<void>;
}

const ERROR_BODY = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;

export async function startFaultProxy(upstream: string, options: { slowMs?: number } = {}): Promise<FaultProxy> {
  const target = new URL(upstream);
  const slowMs = options.slowMs ?? 5_000;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const sockets = new Set<Socket>();
  const log: ProxiedRequest[] = [];
  let mode: FaultMode = 'pass';
  let only: Set<S3Operation> | undefined;

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://proxy');
    const operation = operationOf(request.method ?? 'GET', url);
    const met: FaultMode = only === undefined || only.has(operation) ? mode : 'pass';
    const entry: ProxiedRequest = { operation, key: decodeURIComponent(url.pathname), mode: met, status: 0, at: performance.now() };
    log.push(entry);
    response.on('finish', () => { entry.status = response.statusCode; });
    request.on('error', () => {});
    response.on('error', () => {});

    if (met === 'reset') {
      request.socket.resetAndDestroy();
      return;
    }
    if (met === 'status500' || met === 'status503') {
      // Read the request to its end first, as a real endpoint would before answering.
      request.resume();
      request.on('end', () => {
        const [status, code] = met === 'status500' ? [500, 'InternalError'] : [503, 'ServiceUnavailable'];
        response.writeHead(status, { 'content-type': 'application/xml', connection: 'close' }).end(ERROR_BODY(code, 'injected by the fault proxy'));
      });
      return;
    }
    const forward = () => {
      const outgoing = http.request({
        host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers, agent,
      }, (answer) => {
        if (met === 'lostAnswer') {
          // The endpoint did the work; the client never learns it.
          answer.resume();
          answer.on('end', () => request.socket.resetAndDestroy());
          return;
        }
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        if (met === 'cutBody' && operation === 'GetObject') {
          // Half of the body, then the connection reset: a download whose source dies mid-way.
          const length = Number(answer.headers['content-length'] ?? 0);
          let sent = 0;
          answer.on('data', (chunk: Buffer) => {
            const room = Math.floor(length / 2) - sent;
            if (room <= 0) return;
            response.write(chunk.subarray(0, room));
            sent += Math.min(room, chunk.length);
            if (sent >= Math.floor(length / 2)) {
              answer.destroy();
              request.socket.resetAndDestroy();
            }
          });
          return;
        }
        answer.pipe(response);
      });
      outgoing.on('error', () => request.socket.destroy());
      request.pipe(outgoing);
    };
    if (met === 'slow') {
      // Hold the request silent (its body unread), then pass it, as a stalled endpoint would.
      request.pause();
      void sleep(slowMs).then(() => {
        if (!request.socket.destroyed) {
          request.resume();
          forward();
        }
      });
      return;
    }
    forward();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    log,
    set(next, operations) {
      mode = next;
      only = operations === undefined ? undefined : new Set(operations);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await closed;
    },
  };
}
