// Media upload and download (api.md "POST /media/upload", "GET /media/downloadFile"): what the
// product means, whatever the wire dialect.
// Order of a commit: staged bytes (fsynced) -> BlobStore.putFile (atomic, durable) -> metadata row.
// A crash between the last two leaves an orphan blob, never a visible half-written media; the
// sweep removes orphans. A small upload the metadata store can keep with its row (inlineMaxBytes)
// is committed in one step, row and bytes together.

import type { Readable } from 'node:stream';
import { ApiError, EXTENSION_FORMATS, extensionOf, type MediaType, type MediaTypeRule } from '@oapi-media/core';
import { detectFormat } from '../formats/detect.ts';
import { formatAllowed } from '../formats/allowed.ts';
import { BlobNotFoundError, type BlobStore, type ByteRange } from '../stores/blobs/interface.ts';
import { QuotaExceededError, type MediaRow, type MetadataStore } from '../stores/metadata/interface.ts';
import { safeFileName } from './file-names.ts';
import { MEDIA_ID_PATTERN, isInlineBlobKey, newBlobKey, newInlineBlobKey, newMediaId } from './ids.ts';
import type { StagedFile, StagingArea } from './staging.ts';
import type { Caller } from './tokens.ts';

export interface UploadRequest {
  caller: Caller;
  type: MediaType;
  /** The wire's rule for `type`: each wire has its own limits and formats. */
  rule: MediaTypeRule;
  fileName: string | undefined;
  staged: StagedFile;
}

/** Told of every media once it is stored (durable, visible): the seam media processing will use. */
export type CommittedListener = (row: MediaRow) => void | Promise<void>;

export class MediaService {
  readonly #metadata: MetadataStore;
  readonly #blobs: BlobStore;
  readonly #staging: StagingArea;
  readonly #now: () => number;
  readonly #committedListeners: CommittedListener[] = [];

  constructor(metadata: MetadataStore, blobs: BlobStore, staging: StagingArea, now: () => number) {
    this.#metadata = metadata;
    this.#blobs = blobs;
    this.#staging = staging;
    this.#now = now;
  }

  get staging(): StagingArea {
    return this.#staging;
  }

  /**
   * Calls `listener` after each upload is stored, once its answer is decided: a listener never
   * delays nor fails the upload. A listener that throws or rejects is reported to `onError`.
   */
  onCommitted(listener: CommittedListener, onError: (error: unknown, row: MediaRow) => void = () => {}): void {
    this.#committedListeners.push(async (row) => {
      try {
        await listener(row);
      } catch (error) {
        onError(error, row);
      }
    });
  }

  /**
   * Checks a staged upload and, when it is acceptable, stores it. The staged file is consumed in
   * every case: stored, or removed with nothing left behind.
   */
  async commit(request: UploadRequest): Promise<MediaRow> {
    const { caller, type, rule, staged } = request;
    let blobKey: string | undefined;
    try {
      if (staged.size === 0) throw new ApiError('emptyMedia');
      if (staged.size > rule.maxBytes) throw new ApiError('mediaTooLarge', `${staged.size} > ${rule.maxBytes}`);
      const format = await detectFormat(staged.kind === 'file' ? staged.path : staged.bytes, { size: staged.size, head: staged.head });
      const rawName = request.fileName ?? '';
      if (!formatAllowed(rule, rawName, format) || format === null) {
        throw new ApiError('formatNotAllowed', `bytes=${format ?? 'unknown'} ext=${extensionOf(rawName) || 'none'} type=${type}`);
      }
      const org = await this.#metadata.getOrgById(caller.orgId);
      if (!org) throw new ApiError('invalidToken', 'token of a deleted org');
      const inline = staged.kind === 'memory' && staged.size <= this.#metadata.inlineMaxBytes;
      if (!inline) {
        // An early refusal spares writing a blob that could not be kept; insertMedia checks the
        // quota atomically either way, so bytes kept with the row need no extra read here.
        const usage = org.quotaBytes === null ? undefined : await this.#metadata.usage(org.id);
        if (usage && usage.totalBytes + staged.size > org.quotaBytes!) throw new ApiError('quotaExceeded');
        const onDisk = await this.#staging.toFile(staged);
        blobKey = newBlobKey();
        await this.#blobs.putFile(blobKey, onDisk.path, onDisk.size);
      }
      const row: MediaRow = {
        mediaId: newMediaId(),
        orgId: caller.orgId,
        uploadedBy: caller.principal,
        type,
        format,
        fileName: safeFileName(rawName, extensionFor(format)),
        size: staged.size,
        sha256: staged.sha256,
        blobKey: blobKey ?? newInlineBlobKey(),
        createdAt: this.#now(),
      };
      await this.#metadata.insertMedia(row, org.quotaBytes, inline ? staged.bytes : undefined);
      for (const listener of this.#committedListeners) setImmediate(() => void listener(row));
      return row;
    } catch (error) {
      await this.#staging.discard(staged);
      if (blobKey !== undefined) await this.#blobs.delete(blobKey).catch(() => {}); // else the sweep gets it
      if (error instanceof QuotaExceededError) throw new ApiError('quotaExceeded', error.message);
      throw error;
    }
  }

  /** The media row an app of `caller`'s org may read; 41006 / 40007 otherwise (api.md "Error codes"). */
  async find(caller: Caller, mediaId: string | undefined): Promise<MediaRow> {
    if (mediaId === undefined || mediaId === '') throw new ApiError('missingMediaId');
    if (!MEDIA_ID_PATTERN.test(mediaId)) throw new ApiError('unknownMedia', 'malformed');
    const row = await this.#metadata.getMedia(mediaId);
    // Another org's media answers exactly like an unknown one: ids are not probeable across orgs.
    if (!row || row.orgId !== caller.orgId) throw new ApiError('unknownMedia', row ? 'foreign org' : 'unknown');
    return row;
  }

  /** The bytes of a media (or one range): a stream from the blob store, or those kept with the row. */
  async read(row: MediaRow, range?: ByteRange): Promise<Readable | Buffer> {
    if (!isInlineBlobKey(row.blobKey)) return this.#blobs.get(row.blobKey, range);
    const bytes = await this.#metadata.getInlineBytes(row.mediaId);
    if (!bytes) throw new BlobNotFoundError(`media ${row.mediaId}: bytes kept with the row are missing`);
    return range ? bytes.subarray(range.start, range.end + 1) : bytes;
  }

  /**
   * Removes blobs that no media row references and that are older than `graceMs` (a blob of an
   * upload in flight on another node is younger). Returns how many were removed.
   */
  async sweepOrphans(graceMs: number): Promise<number> {
    const cutoff = this.#now() - graceMs;
    let removed = 0;
    let batch: string[] = [];
    const flush = async (): Promise<void> => {
      const referenced = await this.#metadata.referencedBlobKeys(batch);
      for (const key of batch) {
        if (!referenced.has(key)) {
          await this.#blobs.delete(key);
          removed++;
        }
      }
      batch = [];
    };
    for await (const blob of this.#blobs.list()) {
      if (blob.lastModified > cutoff) continue;
      batch.push(blob.key);
      if (batch.length >= 500) await flush();
    }
    if (batch.length > 0) await flush();
    return removed;
  }
}

function extensionFor(format: string): string {
  return Object.keys(EXTENSION_FORMATS).find((ext) => EXTENSION_FORMATS[ext] === format) ?? 'bin';
}
