// BlobStore on local disk: blobs/<k0k1>/<key> under the data folder (256 shards for hex keys:
// few enough that concurrent uploads share a folder fsync, enough for millions of blobs).
// putFile is an atomic rename of the fsynced staged file (same filesystem), then an fsync of the
// folder, so a blob is either wholly there or absent after a crash.

import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FOLDER_MODE } from '../../data-folder.ts';
import { CoalescingSync } from '../coalescing-sync.ts';
import { FileRangeStream } from './file-range-stream.ts';
import { BlobNotFoundError, BlobUnavailableError, type BlobInfo, type BlobStore, type ByteRange } from './interface.ts';

const KEY_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;

function translate(error: unknown, key: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new BlobNotFoundError(`blob ${key} not found`);
  return new BlobUnavailableError(`fs: ${code ?? (error as Error).message}`, code);
}

export class FsBlobStore implements BlobStore {
  /** The staged file must be fsynced by the stager: putFile only renames it. */
  readonly durableStaging = true;
  readonly #root: string;
  /**
   * Per shard folder: created once, kept open, and one fsync of it serves every rename into it
   * that happened before the fsync started (group commit).
   */
  readonly #shards = new Map<string, { handle: FileHandle | undefined; sync: CoalescingSync }>();

  /** `root`: the blobs folder (data-folder.ts); staging files must live on the same filesystem. */
  constructor(root: string) {
    this.#root = root;
  }

  #pathOf(key: string): { dir: string; file: string } {
    if (!KEY_PATTERN.test(key)) throw new BlobUnavailableError(`invalid blob key ${JSON.stringify(key)}`);
    const dir = join(this.#root, key.slice(0, 2));
    return { dir, file: join(dir, key) };
  }

  async init(): Promise<void> {
    try {
      await mkdir(this.#root, { recursive: true, mode: FOLDER_MODE });
    } catch (error) {
      throw translate(error, '');
    }
  }

  async close(): Promise<void> {
    const shards = [...this.#shards.values()];
    this.#shards.clear();
    await Promise.all(shards.map((shard) => shard.handle?.close().catch(() => {})));
  }

  async ping(): Promise<void> {
    try {
      await stat(this.#root);
    } catch (error) {
      throw new BlobUnavailableError(`fs: blob folder unreachable: ${(error as NodeJS.ErrnoException).code}`);
    }
  }

  async putFile(key: string, stagedPath: string, _size: number): Promise<void> {
    const { dir, file } = this.#pathOf(key);
    let renamed = false;
    try {
      const shard = await this.#shard(dir);
      // Taken before the rename is issued: a folder fsync that failed after it may have been the
      // one that covered this rename, whatever a later one answers.
      const ticket = shard.sync.ticket();
      await rename(stagedPath, file);
      renamed = true;
      await shard.sync.sync(ticket); // makes the rename itself durable
    } catch (error) {
      // Renamed but not made durable: the upload is refused, so its file must not stay under key.
      await unlink(renamed ? file : stagedPath).catch(() => {});
      throw translate(error, key);
    }
  }

  async #shard(dir: string): Promise<{ handle: FileHandle | undefined; sync: CoalescingSync }> {
    let shard = this.#shards.get(dir);
    if (!shard) {
      await mkdir(dir, { recursive: true, mode: FOLDER_MODE });
      const entry: { handle: FileHandle | undefined; sync: CoalescingSync } = {
        handle: undefined,
        sync: new CoalescingSync(async () => {
          entry.handle ??= await open(dir, 'r');
          await entry.handle.sync();
        }),
      };
      shard = this.#shards.get(dir) ?? entry;
      this.#shards.set(dir, shard);
    }
    return shard;
  }

  async get(key: string, range?: ByteRange): Promise<FileRangeStream> {
    const { file } = this.#pathOf(key);
    const handle = await open(file, 'r').catch((error: unknown) => {
      throw translate(error, key);
    });
    let end: number;
    try {
      end = range ? range.end + 1 : (await handle.stat()).size;
    } catch (error) {
      await handle.close().catch(() => {});
      throw translate(error, key);
    }
    // The handle closes itself when the stream ends or is destroyed (client gone mid-download).
    return new FileRangeStream(handle, range?.start ?? 0, end, (error) => translate(error, key));
  }

  async delete(key: string): Promise<void> {
    const { file } = this.#pathOf(key);
    try {
      await rm(file, { force: true });
    } catch (error) {
      throw translate(error, key);
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    for (const shard of await readdir(this.#root).catch(() => [] as string[])) {
      const dir = join(this.#root, shard);
      for (const key of await readdir(dir).catch(() => [] as string[])) {
        const info = await stat(join(dir, key)).catch(() => null);
        if (info?.isFile()) yield { key, size: info.size, lastModified: info.mtimeMs };
      }
    }
  }
}
