// A Node Readable as a web ReadableStream that reads a chunk only when the consumer pulls
// one (highWaterMark 0), so a large stream is never buffered whole, and that destroys the
// Readable when the request is cancelled (an abort, a failed upload).

import type { Readable } from 'node:stream';

export function readableToWeb(readable: Readable): ReadableStream<Uint8Array> {
  const chunks = readable[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await chunks.next();
        if (done) controller.close();
        else controller.enqueue(toBytes(value));
      },
      async cancel() {
        readable.destroy();
        await chunks.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new TypeError('an upload stream must yield bytes (Buffer/Uint8Array) or strings');
}
