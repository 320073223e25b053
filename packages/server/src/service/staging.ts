// Streams one upload into a temp file in the staging folder: size cap, sha256 and (when the blob
// store needs it) fsync on the way, memory flat in file size. A failure leaves no file behind.
// An upload that ends within `memoryMaxBytes` never touches the disk here: it is kept in memory
// and stored with its metadata row (MetadataStore.inlineMaxBytes), so a small file costs no file
// creation, fsync or rename of its own.

import { createHash } from 'node:crypto';
import { link, mkdir, open, readdir, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FOLDER_MODE } from '../data-folder.ts';
import { SNIFF_BYTES, type StoredBytes } from '../formats/detect.ts';
import { readAt } from '../formats/read-at.ts';
import { randomIdBytes } from './ids.ts';
import { Readable } from 'node:stream';

interface StagedCommon {
  size: number;
  sha256: string;
  /** The first bytes (up to SNIFF_BYTES), kept so that sniffing need not reopen the file. */
  head: Buffer;
}

/**
 * A staged upload: in a temp file, or (when small) whole in memory; or, for an upload session
 * assembled by the blob store (S3 multipart), already in the blob store under `key`, which the
 * commit adopts as the media's blob instead of storing a copy (and never deletes on a refusal:
 * the session owns it until it ends).
 */
export type StagedFile = (StagedCommon & { kind: 'file'; path: string }) | (StagedCommon & { kind: 'memory'; bytes: Buffer })
  | (StagedCommon & { kind: 'stored'; key: string; bytes: StoredBytes });

/** The body went past the cap; api.md "POST /media/upload": cut off at limit + 1 byte. */
export class StagingLimitError extends Error {
  override name = 'StagingLimitError';
}

/** Writes every buffer, at `position` (null: the file's current position); returns the bytes written. */
async function writeAll(handle: FileHandle, buffers: Buffer[], position: number | null): Promise<number> {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  const { bytesWritten } = await handle.writev(buffers, position ?? undefined);
  if (bytesWritten === total) return total;
  // A short write (rare on regular files): finish the rest byte-exact.
  let rest = Buffer.concat(buffers).subarray(bytesWritten);
  let at = position === null ? null : position + bytesWritten;
  while (rest.length > 0) {
    const written = (await handle.write(rest, 0, rest.length, at)).bytesWritten;
    rest = rest.subarray(written);
    if (at !== null) at += written;
  }
  return total;
}

/** Bytes waiting for the disk past which reading the upload pauses (memory flat in file size). */
const MAX_QUEUED_BYTES = 64 * 1024;

/**
 * Appends chunks to the temp file in order, one writev at a time with whatever queued meanwhile,
 * so that reading the next chunks overlaps the write of the previous ones.
 */
class QueuedFileWriter {
  readonly #handle: FileHandle;
  /** Where the next batch goes; null: the file's own position (a file written from its start). */
  #position: number | null;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #writing: Promise<void> | undefined;
  #failure: unknown;

  readonly #maxQueuedBytes: number;

  constructor(handle: FileHandle, position: number | null = null, maxQueuedBytes = MAX_QUEUED_BYTES) {
    this.#handle = handle;
    this.#position = position;
    this.#maxQueuedBytes = maxQueuedBytes;
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
    if (this.#queuedBytes > this.#maxQueuedBytes) await this.flushed();
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
        const written = await writeAll(this.#handle, batch, this.#position);
        if (this.#position !== null) this.#position += written;
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

/** The source failed after `written` bytes were read (client gone, body too slow); those bytes are written and synced. */
export class InterruptedWriteError extends Error {
  override name = 'InterruptedWriteError';
  readonly written: number;
  constructor(written: number, cause: unknown) {
    super(`interrupted after ${written} bytes: ${(cause as Error)?.message ?? cause}`, { cause });
    this.written = written;
  }
}

/**
 * A session file's writes wait for at most this much: larger than an upload's (a few sessions at
 * a time carry large files), so that each write hands the thread pool many socket chunks at once.
 */
const SESSION_FILE_MAX_QUEUED_BYTES = 1024 * 1024;

/** Bytes written to a session file between two early writebacks (EarlyWriteback). */
const EARLY_WRITEBACK_BYTES = 2 * 1024 * 1024;

/**
 * Starts a file's writeback while the rest of a long write still arrives: a datasync, not awaited,
 * after every EARLY_WRITEBACK_BYTES written (one at a time), so that the datasync which makes the
 * whole write durable only has the last pages left to write, instead of all of them at once.
 * A failed early datasync fails the write: a later one that succeeds says nothing of the pages
 * the failed one covered (fsyncgate).
 */
class EarlyWriteback {
  readonly #handle: FileHandle;
  #sinceLast = 0;
  #running: Promise<void> | undefined;
  #failure: unknown;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  wrote(bytes: number): void {
    this.#sinceLast += bytes;
    if (this.#sinceLast < EARLY_WRITEBACK_BYTES || this.#running !== undefined) return;
    this.#sinceLast = 0;
    this.#running = this.#handle.datasync().catch((error: unknown) => {
      this.#failure ??= error;
    }).finally(() => {
      this.#running = undefined;
    });
  }

  async settled(): Promise<void> {
    await this.#running;
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** The datasync that makes everything written durable; throws any early one's failure. */
  async finish(): Promise<void> {
    await this.settled();
    await this.#handle.datasync();
  }
}

/** A session file's name: `<session id>.session` (not a `.part`: it outlives restarts). */
const SESSION_FILE = /^([A-Za-z0-9_-]{32})\.session$/;

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

  /** The file an upload session appends to in place (tus on a disk store), kept across restarts until the session ends. */
  sessionFilePath(sessionId: string): string {
    return join(this.dir, `${sessionId}.session`);
  }

  /** The session ids whose file is in the staging folder, with when each was last written. */
  async sessionFiles(): Promise<Array<{ sessionId: string; modifiedAt: number }>> {
    const found: Array<{ sessionId: string; modifiedAt: number }> = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const sessionId = SESSION_FILE.exec(name)?.[1];
      if (sessionId === undefined) continue;
      const info = await stat(join(this.dir, name)).catch(() => null);
      if (info) found.push({ sessionId, modifiedAt: info.mtimeMs });
    }
    return found;
  }

  /**
   * Writes `source` into the file at `path` from `position` on (creating the file, and making its
   * name durable, when `position` is 0), at most `capBytes` (StagingLimitError), then syncs it.
   * `onBytes` sees every chunk in order before it is written. When the source fails, what it
   * delivered is written and synced, and InterruptedWriteError says how much; a failed write
   * throws its own error. Either way nothing past `position` counts until the caller records it.
   */
  async writeAt(path: string, position: number, source: AsyncIterable<Buffer>, capBytes: number, onBytes: (chunk: Buffer) => void): Promise<number> {
    const handle = await open(path, position === 0 ? 'w' : 'r+', 0o600);
    try {
      if (position === 0 && this.#fsync) await this.#syncFolder();
      const writer = new QueuedFileWriter(handle, position, SESSION_FILE_MAX_QUEUED_BYTES);
      const early = this.#fsync ? new EarlyWriteback(handle) : undefined;
      let size = 0;
      try {
        for await (const chunk of source) {
          size += chunk.length;
          if (size > capBytes) throw new StagingLimitError(`more than ${capBytes} bytes`);
          onBytes(chunk);
          await writer.append([chunk]);
          early?.wrote(chunk.length);
          youngCollectionHint(chunk.length);
        }
      } catch (error) {
        if (error instanceof StagingLimitError) {
          await writer.flushed().catch(() => {});
          await early?.settled().catch(() => {});
          throw error;
        }
        await writer.flushed(); // a failed write wins over the source's failure
        if (early) await early.finish();
        throw new InterruptedWriteError(size, error);
      }
      await writer.flushed();
      if (early) await early.finish();
      return size;
    } finally {
      await handle.close().catch(() => {});
    }
  }

  /**
   * A staged file for the commit of a session file: a second name (a hard link, no copy) that the
   * commit consumes as it does any staged file, so a refused commit leaves the session's bytes.
   */
  async linkForCommit(sessionPath: string, size: number, sha256: string): Promise<StagedFile & { kind: 'file' }> {
    const path = join(this.dir, `${randomIdBytes(12).toString('hex')}.part`);
    await link(sessionPath, path);
    const handle = await open(path, 'r').catch(async (error: unknown) => {
      await unlink(path).catch(() => {});
      throw error;
    });
    try {
      return { kind: 'file', path, size, sha256, head: await readAt(handle, 0, Math.min(SNIFF_BYTES, size)) };
    } catch (error) {
      await unlink(path).catch(() => {});
      throw error;
    } finally {
      await handle.close().catch(() => {});
    }
  }

  async #syncFolder(): Promise<void> {
    const folder = await open(this.dir, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close().catch(() => {});
    }
  }

  /** The staged upload as a file, for a store that cannot keep its bytes in memory form. */
  async toFile(staged: StagedFile): Promise<StagedFile & { kind: 'file' }> {
    if (staged.kind === 'file') return staged;
    if (staged.kind === 'stored') throw new Error('staging: bytes in the blob store are not copied back');
    const onDisk = await this.stage(Readable.from([staged.bytes]), staged.size, 0);
    if (onDisk.kind !== 'file') throw new Error('staging: a file was asked for');
    return onDisk;
  }

  async discard(staged: StagedFile): Promise<void> {
    if (staged.kind === 'file') await unlink(staged.path).catch(() => {});
  }
}
