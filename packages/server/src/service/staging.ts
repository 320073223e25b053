// Streams one upload into a temp file in the staging folder: size cap, sha256 and (when the blob
// store needs it) fsync on the way, memory flat in file size. A failure leaves no file behind.
// An upload that ends within `memoryMaxBytes` never touches the disk here: it is kept in memory
// and stored with its metadata row (MetadataStore.inlineMaxBytes), so a small file costs no file
// creation, fsync or rename of its own.

import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FOLDER_MODE } from '../data-folder.ts';
import { SNIFF_BYTES } from '../formats/detect.ts';
import { randomIdBytes } from './ids.ts';
import { Readable } from 'node:stream';

interface StagedCommon {
  size: number;
  sha256: string;
  /** The first bytes (up to SNIFF_BYTES), kept so that sniffing need not reopen the file. */
  head: Buffer;
}

/** A staged upload: in a temp file, or (when small) whole in memory. */
export type StagedFile = (StagedCommon & { kind: 'file'; path: string }) | (StagedCommon & { kind: 'memory'; bytes: Buffer });

/** The body went past the cap; api.md "POST /media/upload": cut off at limit + 1 byte. */
export class StagingLimitError extends Error {
  override name = 'StagingLimitError';
}

async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  const { bytesWritten } = await handle.writev(buffers);
  if (bytesWritten === total) return;
  // A short write (rare on regular files): finish the rest byte-exact.
  let rest = Buffer.concat(buffers).subarray(bytesWritten);
  while (rest.length > 0) rest = rest.subarray((await handle.write(rest)).bytesWritten);
}

/** Bytes waiting for the disk past which reading the upload pauses (memory flat in file size). */
const MAX_QUEUED_BYTES = 64 * 1024;

/**
 * Appends chunks to the temp file in order, one writev at a time with whatever queued meanwhile,
 * so that reading the next chunks overlaps the write of the previous ones.
 */
class QueuedFileWriter {
  readonly #handle: FileHandle;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #writing: Promise<void> | undefined;
  #failure: unknown;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** Resolves at once, unless too much waits for the disk: then once it is written. */
  async append(chunks: Buffer[]): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    for (const chunk of chunks) {
      this.#queue.push(chunk);
      this.#queuedBytes += chunk.length;
    }
    // Only with something to write: on an empty queue #drain() would finish synchronously (its
    // finally clearing #writing) before ??= stores its promise, which would then stay settled and
    // keep every later append from starting a drain (the file left empty).
    if (this.#queue.length > 0) this.#writing ??= this.#drain();
    if (this.#queuedBytes > MAX_QUEUED_BYTES) await this.flushed();
  }

  /** Resolves once everything appended is written; rejects with the write's error. */
  async flushed(): Promise<void> {
    await this.#writing;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Never rejects: a failure is kept for append/flushed to throw. */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#failure === undefined) {
        const batch = this.#queue;
        this.#queue = [];
        this.#queuedBytes = 0;
        await writeAll(this.#handle, batch);
      }
    } catch (error) {
      this.#failure = error;
    } finally {
      this.#writing = undefined;
    }
  }
}

/**
 * Socket chunks are memory outside V8's heap that V8 frees only when it collects their small JS
 * objects: a young collection runs per few MB of JS allocated, far more than a 64 KiB chunk
 * costs, so dead chunks piled up to V8's external-memory limit (~40 MB of them at peak, bench (c)).
 * A young collection per 8 MiB written to staging files bounds that (~35 a second at 300 MB/s). Needs
 * node's --expose-gc, which `npm start` passes (package.json config.serve_node_flags); else none.
 */
const YOUNG_COLLECTION_EVERY_BYTES = 8 * 1024 * 1024;
const collectGarbage = (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc;
let bytesSinceYoungCollection = 0;
function youngCollectionHint(bytes: number): void {
  if (!collectGarbage) return;
  bytesSinceYoungCollection += bytes;
  if (bytesSinceYoungCollection < YOUNG_COLLECTION_EVERY_BYTES) return;
  bytesSinceYoungCollection = 0;
  collectGarbage({ type: 'minor' });
}

export class StagingArea {
  readonly dir: string;
  readonly #fsync: boolean;
  readonly #memoryMaxBytes: number;

  /** `memoryMaxBytes`: uploads up to this size stay in memory (0: every upload goes to a file). */
  constructor(dir: string, fsync: boolean, memoryMaxBytes = 0) {
    this.dir = dir;
    this.#fsync = fsync;
    this.#memoryMaxBytes = memoryMaxBytes;
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: FOLDER_MODE });
  }

  /**
   * Removes what a crash left behind: no media file is visible before it is completely stored
   * (api.md "POST /media/upload"), so a half-staged one is no one's. Only the server that owns
   * the data folder calls it, at start: the CLI must not, a server may be staging right now.
   */
  async removeLeftovers(): Promise<number> {
    const leftovers = (await readdir(this.dir)).filter((name) => name.endsWith('.part'));
    await Promise.all(leftovers.map((name) => rm(join(this.dir, name), { force: true })));
    return leftovers.length;
  }

  /**
   * Reads `source` to its end: counted (StagingLimitError past `capBytes`), hashed, kept in memory
   * while it totals at most `memoryMaxBytes`, else written to a temp file (fsynced when the blob
   * store needs it). Plain async iteration, not stream.pipeline: pipeline's per-call AbortController
   * (a DOMException with a stack trace at every finish) cost 7 % of the CPU of small uploads.
   */
  async stage(source: Readable, capBytes: number, memoryMaxBytes = this.#memoryMaxBytes): Promise<StagedFile> {
    const hash = createHash('sha256');
    let size = 0;
    const headChunks: Buffer[] = [];
    let headLength = 0;
    let held: Buffer[] = [];
    let path: string | undefined;
    let handle: FileHandle | undefined;
    let writer: QueuedFileWriter | undefined;
    const openFile = async (): Promise<QueuedFileWriter> => {
      path = join(this.dir, `${randomIdBytes(12).toString('hex')}.part`);
      handle = await open(path, 'wx', 0o600);
      return new QueuedFileWriter(handle);
    };
    try {
      if (memoryMaxBytes === 0) writer = await openFile();
      for await (const chunk of source as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > capBytes) throw new StagingLimitError(`more than ${capBytes} bytes`);
        hash.update(chunk);
        if (headLength < SNIFF_BYTES) {
          const part = chunk.subarray(0, SNIFF_BYTES - headLength);
          headChunks.push(Buffer.from(part)); // a copy: the head outlives the chunk's buffer
          headLength += part.length;
        }
        if (!writer) {
          if (size <= memoryMaxBytes) {
            held.push(chunk);
            continue;
          }
          writer = await openFile();
          await writer.append(held);
          held = [];
        }
        await writer.append([chunk]);
        youngCollectionHint(chunk.length);
      }
      const staged = { size, sha256: hash.digest('hex'), head: Buffer.concat(headChunks, headLength) };
      if (!writer) return { kind: 'memory', bytes: Buffer.concat(held, size), ...staged };
      await writer.flushed();
      if (this.#fsync) await handle!.datasync(); // data and size; the name is made durable by the store
      return { kind: 'file', path: path!, ...staged };
    } catch (error) {
      if (path !== undefined) {
        await writer?.flushed().catch(() => {}); // no write may land after the unlink
        await unlink(path).catch(() => {});
      }
      throw error;
    } finally {
      await handle?.close().catch(() => {});
    }
  }

  /** The staged upload as a file, for a store that cannot keep its bytes in memory form. */
  async toFile(staged: StagedFile): Promise<StagedFile & { kind: 'file' }> {
    if (staged.kind === 'file') return staged;
    const onDisk = await this.stage(Readable.from([staged.bytes]), staged.size, 0);
    if (onDisk.kind !== 'file') throw new Error('staging: a file was asked for');
    return onDisk;
  }

  async discard(staged: StagedFile): Promise<void> {
    if (staged.kind === 'file') await unlink(staged.path).catch(() => {});
  }
}
