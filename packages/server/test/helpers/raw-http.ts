// HTTP/1.1 over a bare TCP socket, for tests that must control the bytes on the wire: send only
// the headers of a request and see whether the answer comes before the body, or stream a chunked
// body slowly and see when the answer arrives.

import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export function openSocket(baseUrl: string): Promise<Socket> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Resolves with the first complete response on `socket` (headers and a Content-Length body),
 * or rejects if the socket closes first or nothing complete arrives within `timeoutMs`.
 */
export function readResponse(socket: Socket, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`no complete response within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const headEnd = received.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const [statusLine, ...lines] = received.subarray(0, headEnd).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      const body = received.subarray(headEnd + 4);
      if (body.length < length) return;
      finish(undefined, { status: Number(statusLine!.split(' ')[1]), headers, body: body.subarray(0, length) });
    };
    const onClose = (): void => finish(new Error(`socket closed before a complete response (got ${received.length} bytes)`));
    const onError = (error: Error): void => finish(error);
    function finish(error: Error | undefined, response?: RawResponse): void {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (error) reject(error);
      else resolve(response!);
    }
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onError);
  });
}

/** One HTTP/1.1 chunk of the chunked transfer coding (RFC 9112 §7.1). */
export function httpChunk(data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
}

export const LAST_CHUNK = Buffer.from('0\r\n\r\n');

/** Writes and waits until the socket accepted the bytes (backpressure), or rejects if it broke. */
export function writeAndWait(socket: Socket, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * Sends `HEAD url` on a fresh connection (Connection: close) and returns every byte that came
 * back: `head` is the status line and headers, lower-cased; `bodyBytes` what followed them.
 */
export async function rawHead(url: string): Promise<{ head: string; bodyBytes: number }> {
  const target = new URL(url);
  const socket = await openSocket(target.origin);
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await writeAndWait(socket, Buffer.from(`HEAD ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nConnection: close\r\n\r\n`));
  await closed;
  const raw = Buffer.concat(received);
  const headEnd = raw.indexOf('\r\n\r\n');
  return { head: raw.subarray(0, headEnd).toString('latin1').toLowerCase(), bodyBytes: raw.length - (headEnd + 4) };
}
