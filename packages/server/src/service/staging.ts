// Streams one upload into a temp file in the staging folder: size cap, sha256 and (when the blob
// store needs it) fsync on the way, memory flat in file size. A failure leaves no file behind.

import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, Writable, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';

export interface StagedFile {
  path: string;
  size: number;
  sha256: string;
  /** The first bytes (up to HEAD_BYTES), kept so that sniffing need not reopen the file. */
  head: Buffer;
}

/** As many leading bytes as content sniffing looks at (formats/detect.ts SNIFF_BYTES). */
export const HEAD_BYTES = 4100;

/** The body went past the cap; api.md: cut off at limit + 1 byte. */
export class StagingLimitError extends Error {
  override name = 'StagingLimitError';
}

/** Counts and hashes what flows through, and stops the flow past `capBytes`. */
class MeasuringTransform extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  readonly #headChunks: Buffer[] = [];
  #headLength = 0;
  readonly #capBytes: number;
  constructor(capBytes: number) {
    super();
    this.#capBytes = capBytes;
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.#capBytes) {
      done(new StagingLimitError(`more than ${this.#capBytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    if (this.#headLength < HEAD_BYTES) {
      const part = chunk.subarray(0, HEAD_BYTES - this.#headLength);
      this.#headChunks.push(Buffer.from(part)); // a copy: the chunk's memory is reused downstream
      this.#headLength += part.length;
    }
    done(null, chunk);
  }

  get head(): Buffer {
    return Buffer.concat(this.#headChunks, this.#headLength);
  }
}

async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  const { bytesWritten } = await handle.writev(buffers);
  if (bytesWritten === total) return;
  // A short write (rare on regular files): finish the rest byte-exact.
  let rest = Buffer.concat(buffers).subarray(bytesWritten);
  while (rest.length > 0) rest = rest.subarray((await handle.write(rest)).bytesWritten);
}

/** Writes chunks to an open file (batched with writev); the caller syncs and closes it. */
function fileSink(handle: FileHandle): Writable {
  return new Writable({
    highWaterMark: 64 * 1024,
    writev(chunks, done) {
      writeAll(handle, chunks.map((c) => c.chunk as Buffer)).then(() => done(), done);
    },
  });
}

export class StagingArea {
  readonly dir: string;
  readonly #fsync: boolean;

  constructor(dir: string, fsync: boolean) {
    this.dir = dir;
    this.#fsync = fsync;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /**
   * Removes what a crash left behind (api.md: leftovers cleaned at start). Only the server that owns
   * the data folder calls it, at start: the CLI must not, a server may be staging right now.
   */
  async removeLeftovers(): Promise<number> {
    const leftovers = (await readdir(this.dir)).filter((name) => name.endsWith('.part'));
    await Promise.all(leftovers.map((name) => rm(join(this.dir, name), { force: true })));
    return leftovers.length;
  }

  async stage(source: Readable, capBytes: number): Promise<StagedFile> {
    const path = join(this.dir, `${randomBytes(12).toString('hex')}.part`);
    const measure = new MeasuringTransform(capBytes);
    const handle = await open(path, 'wx', 0o600);
    try {
      await pipeline(source, measure, fileSink(handle));
      if (this.#fsync) await handle.datasync(); // data and size; the name is made durable by the store
      return { path, size: measure.size, sha256: measure.hash.digest('hex'), head: measure.head };
    } catch (error) {
      await unlink(path).catch(() => {});
      throw error;
    } finally {
      await handle.close().catch(() => {});
    }
  }

  async discard(staged: StagedFile): Promise<void> {
    await unlink(staged.path).catch(() => {});
  }
}
