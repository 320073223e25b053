// BlobStore on local disk: blobs/<k0k1>/<k2k3>/<key> under the data folder. putFile is an atomic
// rename of the fsynced staged file (same filesystem), then an fsync of the folder, so a blob is
// either wholly there or absent after a crash.

import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CoalescingSync } from '../coalescing-sync.ts';
import { BlobNotFoundError, BlobUnavailableError, type BlobInfo, type BlobStore, type ByteRange } from './interface.ts';

const KEY_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;

function translate(error: unknown, key: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new BlobNotFoundError(`blob ${key} not found`);
  return new BlobUnavailableError(`fs: ${code ?? (error as Error).message}`, code);
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Downloads are read in large chunks: fewer trips through the event loop per MiB sent. */
const READ_CHUNK_BYTES = 512 * 1024;

export class FsBlobStore implements BlobStore {
  /** The staged file must be fsynced by the stager: putFile only renames it. */
  readonly durableStaging = true;
  readonly #root: string;
  readonly #createdDirs = new Set<string>();
  /** One fsync of a folder serves every rename into it that happened before it started. */
  readonly #dirSyncs = new Map<string, CoalescingSync>();

  /** `rootDir` holds `blobs/`; staging files must live on the same filesystem. */
  constructor(rootDir: string) {
    this.#root = join(rootDir, 'blobs');
  }

  #pathOf(key: string): { dir: string; file: string } {
    if (!KEY_PATTERN.test(key)) throw new BlobUnavailableError(`invalid blob key ${JSON.stringify(key)}`);
    const dir = join(this.#root, key.slice(0, 2), key.slice(2, 4));
    return { dir, file: join(dir, key) };
  }

  async init(): Promise<void> {
    try {
      await mkdir(this.#root, { recursive: true });
    } catch (error) {
      throw translate(error, '');
    }
  }

  async close(): Promise<void> {}

  async ping(): Promise<void> {
    try {
      await stat(this.#root);
    } catch (error) {
      throw new BlobUnavailableError(`fs: blob folder unreachable: ${(error as NodeJS.ErrnoException).code}`);
    }
  }

  async putFile(key: string, stagedPath: string, _size: number): Promise<void> {
    const { dir, file } = this.#pathOf(key);
    try {
      if (!this.#createdDirs.has(dir)) {
        await mkdir(dir, { recursive: true });
        this.#createdDirs.add(dir);
      }
      await rename(stagedPath, file);
      await this.#syncDir(dir); // makes the rename itself durable
    } catch (error) {
      await unlink(stagedPath).catch(() => {});
      throw translate(error, key);
    }
  }

  #syncDir(dir: string): Promise<void> {
    let barrier = this.#dirSyncs.get(dir);
    if (!barrier) {
      barrier = new CoalescingSync(() => fsyncPath(dir));
      this.#dirSyncs.set(dir, barrier);
      if (this.#dirSyncs.size > 4096) this.#dirSyncs.clear(); // bounded; a lost barrier only costs a merge
    }
    return barrier.sync();
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const { file } = this.#pathOf(key);
    const handle = await open(file, 'r').catch((error: unknown) => {
      throw translate(error, key);
    });
    // The handle closes itself when the stream ends or is destroyed (client gone mid-download).
    return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: READ_CHUNK_BYTES });
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
    for (const level1 of await readdir(this.#root).catch(() => [] as string[])) {
      for (const level2 of await readdir(join(this.#root, level1)).catch(() => [] as string[])) {
        const dir = join(this.#root, level1, level2);
        for (const key of await readdir(dir).catch(() => [] as string[])) {
          const info = await stat(join(dir, key)).catch(() => null);
          if (info?.isFile()) yield { key, size: info.size, lastModified: info.mtimeMs };
        }
      }
    }
  }
}
