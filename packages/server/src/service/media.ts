// Media upload and download (api.md "POST /media/upload", "GET /media/downloadFile"): what the
// product means, whatever the wire dialect.
// Order of a commit: staged bytes (fsynced) -> BlobStore.putFile (atomic, durable) -> metadata row.
// A crash between the last two leaves an orphan blob, never a visible half-written media; the
// sweep removes orphans. A small upload the metadata store can keep with its row (inlineMaxBytes)
// is committed in one step, row and bytes together.

import type { Readable } from 'node:stream';
import { ApiError, EXTENSION_FORMATS, MEDIA_LIFETIME_MS, extensionOf, type MediaType, type MediaTypeRule, type StoredFormat } from '@oapi-media/core';
import { detectFormat } from '../formats/detect.ts';
import { formatAllowed } from '../formats/allowed.ts';
import { BlobNotFoundError, type BlobStore, type ByteRange } from '../stores/blobs/interface.ts';
import { CommitOutcomeUnknownError, QuotaExceededError, type MediaRow, type MetadataStore } from '../stores/metadata/interface.ts';
import { safeFileName } from './file-names.ts';
import {
  MEDIA_IDS, PUBLIC_IMAGE_KEY_PATTERN, isInlineBlobKey, newBlobKey, newInlineBlobKey, newPublicImageKey, publicImageMediaId,
} from './ids.ts';
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

/** Stores the row of a media whose bytes are durable (insertMedia, or an upload session's commit). */
export type RowInsert = (row: MediaRow, quotaBytes: number | null, inlineBytes?: Buffer) => Promise<void>;

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
    const lifetime = MEDIA_LIFETIME_MS[request.caller.wire];
    return this.#store(request, MEDIA_IDS[request.caller.wire].create(request.type), (createdAt) => (lifetime === null ? null : createdAt + lifetime));
  }

  /**
   * As commit, for a permanent image read by its URL key alone (WeCom's uploadimg). The key is
   * returned once; the row's media_id is its hash, in no wire's id namespace (no media_id reaches it).
   */
  async publishImage(request: UploadRequest): Promise<{ row: MediaRow; urlKey: string }> {
    const urlKey = newPublicImageKey();
    const row = await this.#store(request, publicImageMediaId(urlKey), () => null);
    return { row, urlKey };
  }

  /**
   * As commit, under an id the caller chose (DingTalk's '#' large-file namespace), with `insert`
   * in place of the plain row insert (an upload session's commit turns the session into the row).
   */
  async commitAs(request: UploadRequest, mediaId: string, insert?: RowInsert): Promise<MediaRow> {
    const lifetime = MEDIA_LIFETIME_MS[request.caller.wire];
    return this.#store(request, mediaId, (createdAt) => (lifetime === null ? null : createdAt + lifetime), insert);
  }

  async #store(
    request: UploadRequest, mediaId: string, expiry: (createdAt: number) => number | null,
    insert: RowInsert = (row, quotaBytes, inlineBytes) => this.#metadata.insertMedia(row, quotaBytes, inlineBytes),
  ): Promise<MediaRow> {
    const { caller, type, rule, staged } = request;
    /** The blob this commit stored (deleted again if the row is refused). */
    let blobKey: string | undefined;
    /** A blob the upload brought along (its session's, which keeps it when the row is refused). */
    let adoptedKey: string | undefined;
    try {
      if (staged.size === 0) throw new ApiError('emptyMedia');
      if (staged.size > rule.maxBytes) throw new ApiError('mediaTooLarge', `${staged.size} > ${rule.maxBytes}`);
      if (staged.size < (rule.minBytes ?? 1)) throw new ApiError('mediaTooSmall', `${staged.size} < ${rule.minBytes}`);
      const detected = await detectFormat(staged.kind === 'file' ? staged.path : staged.bytes, { size: staged.size, head: staged.head });
      const rawName = request.fileName ?? '';
      let format: StoredFormat;
      if (rule.anyFormat) format = detected ?? 'bin';
      else if (formatAllowed(rule, rawName, detected) && detected !== null) format = detected;
      else throw new ApiError('formatNotAllowed', `bytes=${detected ?? 'unknown'} ext=${extensionOf(rawName) || 'none'} type=${type}`);
      const org = await this.#metadata.getOrgById(caller.orgId);
      if (!org) throw new ApiError('invalidToken', 'token of a deleted org');
      const inline = staged.kind === 'memory' && staged.size <= this.#metadata.inlineMaxBytes;
      if (!inline) {
        // An early refusal spares writing a blob that could not be kept; insertMedia checks the
        // quota atomically either way, so bytes kept with the row need no extra read here.
        const usage = org.quotaBytes === null ? undefined : await this.#metadata.usage(org.id);
        if (usage && usage.totalBytes + staged.size > org.quotaBytes!) throw new ApiError('quotaExceeded');
        if (staged.kind === 'stored') {
          adoptedKey = staged.key; // already durable in the blob store (an assembled upload session)
        } else {
          const onDisk = await this.#staging.toFile(staged);
          const key = newBlobKey();
          // A failed putFile cleans up after itself (BlobStore contract): deleting again here would
          // make the -1 wait on the very endpoint that failed (S3 slow or down: attempts x timeout).
          await this.#blobs.putFile(key, onDisk.path, onDisk.size);
          blobKey = key;
        }
      }
      const createdAt = this.#now();
      const row: MediaRow = {
        mediaId,
        orgId: caller.orgId,
        uploadedBy: caller.principal,
        type,
        format,
        fileName: safeFileName(rawName, extensionFor(format)),
        size: staged.size,
        sha256: staged.sha256,
        blobKey: blobKey ?? adoptedKey ?? newInlineBlobKey(),
        createdAt,
        wire: caller.wire,
        expiresAt: expiry(createdAt),
      };
      await insert(row, org.quotaBytes, inline ? staged.bytes : undefined);
      for (const listener of this.#committedListeners) setImmediate(() => void listener(row));
      return row;
    } catch (error) {
      await this.#staging.discard(staged);
      // Else the sweep gets it. Kept when the row may have been committed: a row must never point at nothing.
      if (blobKey !== undefined && !(error instanceof CommitOutcomeUnknownError)) await this.#blobs.delete(blobKey).catch(() => {});
      if (error instanceof QuotaExceededError) throw new ApiError('quotaExceeded', error.message);
      throw error;
    }
  }

  /**
   * The media row an app of `caller`'s org may read on the caller's wire, unexpired; 41006 / 40007
   * otherwise (api.md "Error codes").
   */
  async find(caller: Caller, mediaId: string | undefined, pattern: RegExp = MEDIA_IDS[caller.wire].pattern): Promise<MediaRow> {
    if (mediaId === undefined || mediaId === '') throw new ApiError('missingMediaId');
    if (!pattern.test(mediaId)) throw new ApiError('unknownMedia', 'malformed');
    const row = await this.#metadata.getMedia(mediaId);
    // Another org's, another wire's or an expired media answers exactly like an unknown one: ids
    // are not probeable across orgs, and each wire is its own namespace.
    if (!row) throw new ApiError('unknownMedia', 'unknown');
    if (row.orgId !== caller.orgId) throw new ApiError('unknownMedia', 'foreign org');
    if (row.wire !== caller.wire) throw new ApiError('unknownMedia', `media of the ${row.wire} wire`);
    if (this.#expired(row)) throw new ApiError('unknownMedia', 'expired');
    return row;
  }

  /** A published image by its URL key (publishImage); `unknownMedia` for anything else. */
  async findPublishedImage(urlKey: string): Promise<MediaRow> {
    if (!PUBLIC_IMAGE_KEY_PATTERN.test(urlKey)) throw new ApiError('unknownMedia', 'malformed image key');
    const row = await this.#metadata.getMedia(publicImageMediaId(urlKey));
    if (!row || this.#expired(row)) throw new ApiError('unknownMedia', 'unknown image key');
    return row;
  }

  #expired(row: MediaRow): boolean {
    return row.expiresAt !== null && row.expiresAt <= this.#now();
  }

  /**
   * Removes media past their expiry: each row first (from then on it is gone for every node), its
   * usage released in the same transaction, then its blob. Several nodes may sweep at once: a row
   * is removed, and its usage released, by the one whose delete returned it; that one removes its
   * blob. A blob whose delete fails is left to the orphan sweep. Returns how many this call removed.
   */
  async sweepExpired(batchSize = 500): Promise<number> {
    let removed = 0;
    for (;;) {
      const due = await this.#metadata.expiredMedia(this.#now(), batchSize);
      for (const candidate of due) {
        const row = await this.#metadata.deleteMedia(candidate.mediaId);
        if (!row) continue; // another node's sweep (or an operator) removed it first
        removed++;
        if (!isInlineBlobKey(row.blobKey)) await this.#blobs.delete(row.blobKey).catch(() => {});
      }
      if (due.length < batchSize) return removed;
    }
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

function extensionFor(format: StoredFormat): string {
  return Object.keys(EXTENSION_FORMATS).find((ext) => EXTENSION_FORMATS[ext] === format) ?? 'bin';
}
