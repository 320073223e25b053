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

/**
 * An object assembled from parts sent one at a time, from any node (S3's multipart upload): what
 * an upload session's parts go to on a shared store, so that its commit is the store's own
 * assembly instead of a second copy of every byte.
 */
export interface PartedUploads {
  /** Every part but the last must hold at least this many bytes. */
  readonly minPartBytes: number;
  /** Starts the object under `key`; resolves to the upload's id. */
  begin(key: string): Promise<string>;
  /** Sends part `partNumber` (1 … 10,000) from `body`, `size` bytes; resolves to its tag, for complete(). */
  putPart(key: string, uploadId: string, partNumber: number, body: Readable, size: number): Promise<string>;
  /**
   * The object under `key` becomes its parts, in order; durable when it resolves. Completing again
   * an upload already completed resolves (its object is there).
   */
  complete(key: string, uploadId: string, parts: Array<{ partNumber: number; tag: string }>): Promise<void>;
  /** Drops an upload and its parts (one already gone is not an error; a store that cannot abort leaves them to its lifecycle rules). */
  abort(key: string, uploadId: string): Promise<void>;
}

export interface BlobStore {
  /** Present when the store assembles objects from parts (S3). */
  readonly parted?: PartedUploads;

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
