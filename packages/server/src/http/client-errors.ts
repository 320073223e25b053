// HTTP that never became a request: Node's parser refused it (a malformed request line, headers
// past 16 KiB, headers not in before their deadline) and fastify's clientErrorHandler gets the
// socket, not a request. The answer is written raw, in the root wire's error shape, with a request
// id (api.md "Conventions": every answer carries x-request-id), and the connection is closed.

import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorKind } from '@oapi-media/core';

export type MalformedHttpKind = Extract<ErrorKind, 'malformedHttpRequest' | 'requestHeadersTimeout' | 'requestHeadersTooLarge' | 'requestTooLarge'>;

/** Node's client error codes (its llhttp parser's HPE_*, and its header deadline) as error kinds. */
export function malformedHttpKind(error: NodeJS.ErrnoException): MalformedHttpKind {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT': return 'requestHeadersTimeout';
    case 'HPE_HEADER_OVERFLOW': return 'requestHeadersTooLarge';
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW': return 'requestTooLarge';
    default: return 'malformedHttpRequest';
  }
}

export interface RawAnswer {
  status: number;
  /** JSON. */
  body: string;
}

/**
 * Writes `answer` on the socket as a complete HTTP/1.1 response (Connection: close), then closes it.
 * Returns the request id it carries.
 */
export function answerOnSocket(socket: Socket, answer: (requestId: string) => RawAnswer): string | undefined {
  const requestId = randomUUID();
  if (!socket.writable) {
    socket.destroy();
    return undefined;
  }
  const { status, body } = answer(requestId);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    'connection: close',
  ].join('\r\n');
  // The answer is flushed before the socket goes; a client that never reads cannot hold it open.
  const closing = setTimeout(() => socket.destroy(), 2_000);
  closing.unref();
  socket.end(`${head}\r\n\r\n${body}`, () => {
    clearTimeout(closing);
    socket.destroy();
  });
  return requestId;
}
