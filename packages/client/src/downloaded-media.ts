// A downloaded media file, read like a fetch Response: the body can be taken once, as a
// web ReadableStream, as an ArrayBuffer, or saved to a file (written under a temporary
// name, fsynced, then renamed, so a half-written file never appears under `path`).

import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NetworkError } from './errors.ts';
import { sortFailure } from './send-request.ts';

export interface DownloadProgress {
  /** Bytes written so far. */
  readonly loaded: number;
  /** Bytes of this answer, when the server said (Content-Length). */
  readonly total: number | undefined;
}

export interface SavedFile {
  readonly path: string;
  readonly bytes: number;
}

export class DownloadedMedia {
  /** 200 for the whole file, 206 for a byte range. */
  readonly status: number;
  readonly headers: Headers;
  readonly #response: Response;
  readonly #signal: AbortSignal | undefined;
  /** Ends the call's deadline (timer, signal listener) once the body is read, failed or cancelled. */
  readonly #bodyDone: () => void;
  #taken = false;

  constructor(response: Response, signal?: AbortSignal, bodyDone: () => void = () => undefined) {
    this.#response = response;
    this.#signal = signal;
    this.#bodyDone = bodyDone;
    this.status = response.status;
    this.headers = response.headers;
  }

  get contentType(): string | undefined {
    return this.headers.get('content-type') ?? undefined;
  }

  /** Bytes in this answer (the range's length for a 206), when the server said. */
  get contentLength(): number | undefined {
    const value = this.headers.get('content-length');
    return value === null ? undefined : Number(value);
  }

  /** The original file name, from Content-Disposition (filename* preferred, api.md "GET /media/downloadFile"). */
  get filename(): string | undefined {
    return filenameOf(this.headers.get('content-disposition'));
  }

  /** True once the body was taken by stream(), arrayBuffer() or saveTo(). */
  get bodyUsed(): boolean {
    return this.#taken;
  }

  /** The body as a web ReadableStream<Uint8Array> (use Readable.fromWeb for a Node stream). */
  stream(): ReadableStream<Uint8Array> {
    this.#take();
    const body = this.#response.body;
    if (!body) {
      this.#bodyDone();
      return new ReadableStream({ start: (c) => c.close() });
    }
    return endingWith(body, this.#bodyDone);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    this.#take();
    try {
      return await this.#response.arrayBuffer();
    } catch (error) {
      throw sortFailure(error, this.#signal, 'reading the download');
    } finally {
      this.#bodyDone();
    }
  }

  /** Writes the body to `path` (replacing it), all or nothing; resolves once it is on disk. */
  async saveTo(path: string, options: { onProgress?: (progress: DownloadProgress) => void } = {}): Promise<SavedFile> {
    const body = this.stream();
    const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
    let file;
    try {
      file = await open(temporary, 'wx');
    } catch (error) {
      await body.cancel().catch(() => undefined); // the answer is not wanted: free its connection
      throw cannotWrite(path, error);
    }
    let bytes = 0;
    try {
      try {
        for await (const chunk of body) {
          await file.write(chunk);
          bytes += chunk.byteLength;
          options.onProgress?.({ loaded: bytes, total: this.contentLength });
        }
      } catch (error) {
        throw sortFailure(error, this.#signal, 'reading the download');
      }
      const expected = this.contentLength;
      if (expected !== undefined && bytes !== expected) {
        throw new NetworkError(`download cut short: ${bytes} of ${expected} bytes`, { code: 'ETRUNCATED' });
      }
      await file.sync();
      await file.close();
      await rename(temporary, path);
      return { path, bytes };
    } catch (error) {
      await file.close().catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
  }

  #take(): void {
    if (this.#taken) throw new TypeError('the download body was already read');
    this.#taken = true;
  }
}

/**
 * The error of a save whose temporary file could not be created, naming the caller's `path`
 * (the temporary name beside it is ours, not theirs). Keeps the system `code` (ENOENT...).
 */
function cannotWrite(path: string, error: unknown): Error {
  const code = (error as { code?: unknown } | null)?.code;
  const why = code === 'ENOENT' ? `the folder ${dirname(path)} does not exist`
    : code === 'ENOTDIR' ? `${dirname(path)} is not a folder`
    : code === 'EACCES' || code === 'EPERM' ? `no permission to write in ${dirname(path)}`
    : code === 'EROFS' ? `${dirname(path)} is on a read-only file system`
    : error instanceof Error ? error.message : String(error);
  const failure = new Error(`cannot write ${path}: ${why}`, { cause: error });
  return Object.assign(failure, { code: typeof code === 'string' ? code : 'EIO', path });
}

/** `body`, calling `done` once it has ended, failed or been cancelled (reading one chunk at a time). */
function endingWith(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          done();
          throw error; // errors this stream with the body's own error (an abort's reason)
        }
        if (chunk.done) {
          done();
          controller.close();
        } else {
          controller.enqueue(chunk.value);
        }
      },
      async cancel(reason) {
        done();
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** RFC 6266: filename*=UTF-8''percent-encoded wins over the plain filename="...". */
export function filenameOf(disposition: string | null): string | undefined {
  if (!disposition) return undefined;
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition);
  if (extended) {
    try {
      return decodeURIComponent(extended[1]!.trim());
    } catch {
      // malformed percent-encoding: fall back to the plain parameter
    }
  }
  const plain = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(disposition) ?? /filename\s*=\s*([^;]+)/i.exec(disposition);
  return plain ? plain[1]!.replace(/\\(.)/g, '$1').trim() : undefined;
}
