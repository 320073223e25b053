// What `media.upload` accepts, turned into one shape: a file name, a size when it is known,
// and a way to open the bytes as a web stream. Paths, buffers and Blobs can be opened again
// (so a call can be resent); a stream can be read once only.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { readableToWeb } from './readable-to-web.ts';

/** A file path, bytes, a Blob (or File), a Node Readable or a web ReadableStream. */
export type UploadInput = string | Uint8Array | ArrayBuffer | Blob | Readable | ReadableStream<Uint8Array>;

export interface UploadSource {
  /** The name the input itself carries (a path's base name, a File's name), if any. */
  readonly filename: string | undefined;
  /** Bytes in total, when known before reading (Content-Length is sent then). */
  readonly size: number | undefined;
  /** True when `open` may be called again to send the same bytes once more. */
  readonly replayable: boolean;
  open(): ReadableStream<Uint8Array>;
  /**
   * The call failed: release a stream input that was never opened (a Node stream is destroyed,
   * so its file descriptor closes). An opened one was released with its request body.
   */
  discard(): Promise<void>;
}

const NOTHING_TO_DISCARD = async (): Promise<void> => undefined;

export async function toUploadSource(input: UploadInput, declaredSize?: number): Promise<UploadSource> {
  if (typeof input === 'string') return fileSource(input);
  if (input instanceof ArrayBuffer) return bytesSource(new Uint8Array(input));
  if (input instanceof Uint8Array) return bytesSource(input);
  if (input instanceof Blob) {
    const name = (input as Partial<File>).name;
    return { filename: name || undefined, size: input.size, replayable: true, open: () => input.stream(), discard: NOTHING_TO_DISCARD };
  }
  if (input instanceof ReadableStream) return onceSource(input, undefined, declaredSize);
  if (isNodeReadable(input)) {
    const path = (input as { path?: unknown }).path; // an fs.ReadStream knows its file
    const name = typeof path === 'string' ? basename(path) : undefined;
    return onceSource(readableToWeb(input), name, declaredSize);
  }
  throw new TypeError('upload input must be a file path, a Buffer/Uint8Array, a Blob, or a readable stream');
}

async function fileSource(path: string): Promise<UploadSource> {
  const info = await stat(path);
  if (!info.isFile()) throw new TypeError(`not a regular file: ${path}`);
  return {
    filename: basename(path),
    size: info.size,
    replayable: true,
    open: () => readableToWeb(createReadStream(path)),
    discard: NOTHING_TO_DISCARD,
  };
}

function bytesSource(bytes: Uint8Array): UploadSource {
  return {
    filename: undefined,
    size: bytes.byteLength,
    replayable: true,
    open: () => new ReadableStream<Uint8Array>({
      start(controller) {
        if (bytes.byteLength > 0) controller.enqueue(bytes);
        controller.close();
      },
    }),
    discard: NOTHING_TO_DISCARD,
  };
}

function onceSource(stream: ReadableStream<Uint8Array>, filename: string | undefined, size: number | undefined): UploadSource {
  let opened = false;
  return {
    filename,
    size,
    replayable: false,
    open() {
      if (opened) throw new Error('an upload stream can be read only once');
      opened = true;
      return stream;
    },
    async discard() {
      if (opened) return;
      opened = true;
      await stream.cancel().catch(() => undefined);
    },
  };
}

function isNodeReadable(value: unknown): value is Readable {
  return value !== null && typeof value === 'object'
    && typeof (value as Readable).pipe === 'function'
    && typeof (value as Readable)[Symbol.asyncIterator] === 'function';
}
