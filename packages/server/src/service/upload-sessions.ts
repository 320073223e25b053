// Upload sessions (issue 18): one file sent in several requests, DingTalk's chunked upload and tus
// on one engine. A session is a row of the metadata store, each acknowledged chunk a blob of its own
// (durable before it is acknowledged), so a session survives a restart and continues on any node.
// The commit streams the chunks, in order, through staging (hashed, size-checked, sniffable) and
// then takes the same path as every upload (MediaService.commitAs: format check, quota, blob then
// row), the session turned into the media row in one transaction. Memory stays flat: no session's
// bytes are ever held whole.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ApiError, type MediaType, type MediaTypeRule } from '@oapi-media/core';
import type { BlobStore } from '../stores/blobs/interface.ts';
import {
  QuotaExceededError, UploadSessionGoneError, type MediaRow, type MetadataStore, type UploadChunkRow, type UploadSessionRow,
} from '../stores/metadata/interface.ts';
import { CHUNKED_MEDIA_ID_PATTERN, UPLOAD_SESSION_ID_PATTERN, chunkedMediaIdOf, newBlobKey, newUploadSessionId } from './ids.ts';
import type { MediaService } from './media.ts';
import { StagingLimitError, type StagedFile, type StagingArea } from './staging.ts';
import type { Caller } from './tokens.ts';

/** api.md "Large files": the default cap of one chunked file per organization (org limits --max-chunked-bytes). */
export const DEFAULT_MAX_CHUNKED_BYTES = 4 * 1024 ** 3;
/** DingTalk: a transaction not committed within 24 h is deleted with its chunks; tus uploads too. */
export const UPLOAD_SESSION_LIFETIME_MS = 24 * 3600_000;
/** Chunk rows read per page while a commit streams the chunks. */
const CHUNK_PAGE_ROWS = 256;

export type SessionProtocol = UploadSessionRow['protocol'];

export interface OpenSessionRequest {
  protocol: SessionProtocol;
  fileSize: number;
  chunkCount: number | null;
  /** Kept with the session (tus: type and filename of Upload-Metadata). */
  metadata: Record<string, string>;
}

/** Where a chunk goes and how large it may be: the protocol's rules, decided by the dialect. */
export interface ChunkPlacement {
  seq: number;
  /** Where it starts in the file; DingTalk's chunks are placed at commit (offset = -1 while unknown). */
  offset: number;
  /** Checked once the chunk is received, before it is stored: throws its refusal. */
  accept(size: number, sha256: string): void;
}

export interface StoredChunk {
  chunk: UploadChunkRow;
  /** The same bytes were acknowledged before under this seq (a retry after a lost answer). */
  repeated: boolean;
}

export interface CommitRules {
  type: MediaType;
  /** The format rule of that type, its size limit replaced by the organization's chunked cap. */
  rule: MediaTypeRule;
  fileName: string | undefined;
}

export class UploadSessionService {
  readonly #metadata: MetadataStore;
  readonly #blobs: BlobStore;
  readonly #staging: StagingArea;
  readonly #media: MediaService;
  readonly #now: () => number;

  constructor(metadata: MetadataStore, blobs: BlobStore, staging: StagingArea, media: MediaService, now: () => number) {
    this.#metadata = metadata;
    this.#blobs = blobs;
    this.#staging = staging;
    this.#media = media;
    this.#now = now;
  }

  /** The caller's organization's cap for one chunked file (api.md "Large files"). */
  async maxChunkedBytes(caller: Caller): Promise<number> {
    return (await this.#metadata.getMaxChunkedBytes(caller.orgId)) ?? DEFAULT_MAX_CHUNKED_BYTES;
  }

  /** Opens a session, its file size reserved of the org's quota (quotaExceeded) and within its chunked cap (mediaTooLarge). */
  async open(caller: Caller, request: OpenSessionRequest): Promise<UploadSessionRow> {
    const cap = await this.maxChunkedBytes(caller);
    if (request.fileSize > cap) throw new ApiError('mediaTooLarge', `file_size ${request.fileSize} > chunked cap ${cap}`);
    const org = await this.#metadata.getOrgById(caller.orgId);
    if (!org) throw new ApiError('invalidToken', 'token of a deleted org');
    const createdAt = this.#now();
    const session: UploadSessionRow = {
      id: newUploadSessionId(),
      orgId: caller.orgId,
      wire: caller.wire,
      principal: caller.principal,
      protocol: request.protocol,
      fileSize: request.fileSize,
      chunkCount: request.chunkCount,
      metadata: JSON.stringify(request.metadata),
      createdAt,
      expiresAt: createdAt + UPLOAD_SESSION_LIFETIME_MS,
    };
    try {
      await this.#metadata.createUploadSession(session, org.quotaBytes);
    } catch (error) {
      if (error instanceof QuotaExceededError) throw new ApiError('quotaExceeded', error.message);
      throw error;
    }
    return session;
  }

  /**
   * The caller's open session of `protocol`; unknownUploadSession for anything else (another org's,
   * another wire's or protocol's, expired, committed): ids are not probeable across organizations.
   */
  async find(caller: Caller, id: string | undefined, protocol: SessionProtocol): Promise<UploadSessionRow> {
    if (id === undefined || id === '') throw new ApiError('missingParameter', 'upload_id');
    if (!UPLOAD_SESSION_ID_PATTERN.test(id)) throw new ApiError('unknownUploadSession', 'malformed');
    const session = await this.#metadata.getUploadSession(id);
    if (!session) throw new ApiError('unknownUploadSession', 'unknown');
    if (session.orgId !== caller.orgId || session.wire !== caller.wire) throw new ApiError('unknownUploadSession', 'foreign');
    if (session.protocol !== protocol) throw new ApiError('unknownUploadSession', `a ${session.protocol} session`);
    if (session.expiresAt <= this.#now()) throw new ApiError('unknownUploadSession', 'expired');
    return session;
  }

  /** The media a session of the caller's became, if it was committed (a retried commit, a tus HEAD after completion). */
  async committedMedia(caller: Caller, sessionId: string): Promise<MediaRow | null> {
    if (!UPLOAD_SESSION_ID_PATTERN.test(sessionId)) return null;
    return this.#media.find(caller, chunkedMediaIdOf(sessionId), CHUNKED_MEDIA_ID_PATTERN).catch((error: unknown) => {
      if (error instanceof ApiError && error.kind === 'unknownMedia') return null;
      throw error;
    });
  }

  progress(session: UploadSessionRow): Promise<{ chunks: number; bytes: number; lastSeq: number }> {
    return this.#metadata.uploadProgress(session.id);
  }

  /** Reads one chunk's bytes into staging; chunkOutOfRules past `capBytes`, nothing left behind. */
  async receiveChunk(source: Readable, capBytes: number): Promise<StagedFile> {
    try {
      return await this.#staging.stage(source, capBytes);
    } catch (error) {
      if (error instanceof StagingLimitError) throw new ApiError('chunkOutOfRules', `chunk over ${capBytes} bytes`);
      throw error;
    }
  }

  /**
   * Stores one received chunk as a blob of its own (durable), then records it. A chunk sent again with
   * the same bytes under the same seq is acknowledged again and changes nothing; with other bytes
   * it is chunkConflict. A refused chunk leaves nothing behind.
   */
  async putChunk(session: UploadSessionRow, placement: ChunkPlacement, received: StagedFile): Promise<StoredChunk> {
    let staged: StagedFile = received;
    try {
      staged = await this.#staging.toFile(received);
    } finally {
      if (staged !== received) await this.#staging.discard(received);
    }
    if (staged.kind !== 'file') throw new Error('staging: a file was asked for');
    const blobKey = newBlobKey();
    let stored = false;
    try {
      placement.accept(staged.size, staged.sha256);
      await this.#blobs.putFile(blobKey, staged.path, staged.size);
      stored = true;
      const chunk: UploadChunkRow = {
        sessionId: session.id, seq: placement.seq, offset: placement.offset, size: staged.size, sha256: staged.sha256, blobKey, createdAt: this.#now(),
      };
      const existing = await this.#metadata.addUploadChunk(chunk);
      if (existing === null) return { chunk, repeated: false };
      await this.#blobs.delete(blobKey).catch(() => {}); // the one acknowledged before stays
      if (existing.sha256 !== chunk.sha256 || existing.size !== chunk.size) throw new ApiError('chunkConflict', `chunk ${placement.seq}`);
      return { chunk: existing, repeated: true };
    } catch (error) {
      if (!stored) await this.#staging.discard(staged);
      else if (!(error instanceof ApiError)) await this.#blobs.delete(blobKey).catch(() => {});
      if (error instanceof UploadSessionGoneError) throw new ApiError('unknownUploadSession', 'gone while its chunk was stored');
      throw error;
    }
  }

  /**
   * Turns a complete session into a media: its chunks streamed in order through staging, every
   * chunk's size and sha256 checked again on the way, then MediaService's commit (format, quota,
   * blob, row). A commit that lost the race to another (a retry, another node) answers that one's media.
   */
  async commit(caller: Caller, session: UploadSessionRow, rules: CommitRules): Promise<MediaRow> {
    const progress = await this.#metadata.uploadProgress(session.id);
    if (progress.bytes !== session.fileSize) throw new ApiError('uploadIncomplete', `${progress.bytes} of ${session.fileSize} bytes`);
    if (session.chunkCount !== null && (progress.chunks !== session.chunkCount || progress.lastSeq !== session.chunkCount)) {
      throw new ApiError('uploadIncomplete', `${progress.chunks} of ${session.chunkCount} chunks`);
    }
    const mediaId = chunkedMediaIdOf(session.id);
    const staged = await this.#staging.stage(Readable.from(this.#chunkBytes(session.id)), session.fileSize, 0);
    let chunkKeys: string[] = [];
    try {
      const row = await this.#media.commitAs({ caller, ...rules, staged }, mediaId, async (media, quotaBytes) => {
        const keys = await this.#metadata.commitUploadSession(session.id, media, quotaBytes);
        if (keys === null) throw new UploadSessionGoneError(`upload session ${session.id}`);
        chunkKeys = keys;
      });
      await Promise.all(chunkKeys.map((key) => this.#blobs.delete(key).catch(() => {}))); // else the orphan sweep
      return row;
    } catch (error) {
      if (error instanceof UploadSessionGoneError) {
        const committed = await this.committedMedia(caller, session.id);
        if (committed) return committed;
        throw new ApiError('unknownUploadSession', 'gone before its commit');
      }
      throw error;
    }
  }

  /** The session's chunks, in seq order, one blob at a time; each checked against what was acknowledged. */
  async *#chunkBytes(sessionId: string): AsyncGenerator<Buffer> {
    let afterSeq = 0;
    for (;;) {
      const page = await this.#metadata.listUploadChunks(sessionId, afterSeq, CHUNK_PAGE_ROWS);
      for (const chunk of page) {
        const hash = createHash('sha256');
        let size = 0;
        for await (const bytes of await this.#blobs.get(chunk.blobKey) as AsyncIterable<Buffer>) {
          hash.update(bytes);
          size += bytes.length;
          yield bytes;
        }
        if (size !== chunk.size || hash.digest('hex') !== chunk.sha256) {
          throw new ApiError('systemBusy', `chunk ${chunk.seq} of session ${sessionId}: stored bytes differ from the acknowledged ones`);
        }
        afterSeq = chunk.seq;
      }
      if (page.length < CHUNK_PAGE_ROWS) return;
    }
  }

  /** Removes a session with its chunks (tus termination); false when it was gone already. */
  async terminate(session: UploadSessionRow): Promise<boolean> {
    const keys = await this.#metadata.deleteUploadSession(session.id);
    if (keys === null) return false;
    await Promise.all(keys.map((key) => this.#blobs.delete(key).catch(() => {})));
    return true;
  }

  /**
   * Removes sessions past their expiry with their chunks and reservations. Safe on many nodes at
   * once: each session is removed by the one node whose delete returned it, which then deletes its
   * chunk blobs. Returns how many this call removed.
   */
  async sweepExpired(batchSize = 200): Promise<number> {
    let removed = 0;
    for (;;) {
      const due = await this.#metadata.expiredUploadSessions(this.#now(), batchSize);
      for (const session of due) {
        const keys = await this.#metadata.deleteUploadSession(session.id);
        if (keys === null) continue;
        removed++;
        await Promise.all(keys.map((key) => this.#blobs.delete(key).catch(() => {})));
      }
      if (due.length < batchSize) return removed;
    }
  }
}
