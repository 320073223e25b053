// The bytes seam: one implementation per backend (fs.ts, s3.ts). Uploads are first staged by the
// service in a local, fsynced temp file (sniffing needs random access to it); `putFile` then makes
// that file durable under a key. Backend errors (ENOENT, NoSuchKey, ...) are translated here.

import type { Readable } from 'node:stream';

export type { ByteRange } from '@oapi-media/core';
import type { ByteRange } from '@oapi-media/core';

export interface BlobInfo {
  key: string;
  size: number;
  lastModified: number;
}

export interface BlobStore {
  /**
   * True when putFile only moves the staged file (so the stager must fsync it first); false or
   * absent when the store copies the bytes elsewhere and the local staged file may stay volatile.
   */
  readonly durableStaging?: boolean;

  init(): Promise<void>;
  close(): Promise<void>;
  /** Throws BlobUnavailableError when the backend cannot answer (for /readyz). */
  ping(): Promise<void>;

  /**
   * Stores the complete staged file under `key`; durable when it resolves. The staged file is
   * consumed (moved or deleted) whether it resolves or rejects. A failure leaves nothing under key,
   * except an object the backend applied but whose answer was lost, which the orphan sweep collects:
   * the caller never deletes after a failed putFile.
   */
  putFile(key: string, stagedPath: string, size: number): Promise<void>;
  /** The bytes of a blob, or of one range of it. Rejects with BlobNotFoundError. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Removes a blob; removing a missing blob is not an error. */
  delete(key: string): Promise<void>;
  /** Every blob, for the orphan sweep; order unspecified. */
  list(): AsyncIterable<BlobInfo>;
}

export class BlobNotFoundError extends Error {
  override name = 'BlobNotFoundError';
}

/** The backend is down or refused (disk full, S3 unreachable): the API answers -1. */
export class BlobUnavailableError extends Error {
  override name = 'BlobUnavailableError';
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}
