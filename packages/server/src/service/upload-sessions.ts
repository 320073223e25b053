// Upload sessions (issue 18): one file sent in several requests, DingTalk's chunked upload and tus
// on one engine. A session is a row of the metadata store and each acknowledged chunk a row too,
// its bytes durable before it is acknowledged, so a session survives a restart. Where the bytes go:
// - chunk blobs: each chunk a blob of its own (any store: on S3 a session continues on any node).
//   The commit streams the chunks, in order, through staging (hashed, size-checked, sniffable).
// - the session file: on a disk store (one node owns the data folder), a tus upload's PATCHes,
//   sequential by protocol, are written in place into one file in the staging folder, hashed as
//   they arrive; the commit is then a hard link and a rename, not a second copy of every byte.
// - parts: on a store that assembles objects from parts (S3 multipart upload), a tus upload's
//   bytes are cut into parts of PART_BYTES at fixed offsets, each sent as it fills; what is left
//   at a PATCH's end (less than a part) is a "tail" blob of its own, read back and completed by the
//   next PATCH, from any node. The commit is S3's own assembly, its object adopted as the media's.
// Which one a session uses is chosen when it opens and kept in its metadata (PLACEMENT_KEY).
// Either way the commit takes the same path as every upload (MediaService.commitAs: format check,
// quota, blob then row), the session turned into the media row in one transaction. Memory stays
// flat: no session's bytes are ever held whole.

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ApiError, type MediaType, type MediaTypeRule } from '@oapi-media/core';
import type { BlobStore } from '../stores/blobs/interface.ts';
import {
  QuotaExceededError, UploadSessionGoneError, type MediaRow, type MetadataStore, type UploadChunkRow, type UploadSessionRow,
} from '../stores/metadata/interface.ts';
import { CHUNKED_MEDIA_ID_PATTERN, UPLOAD_SESSION_ID_PATTERN, chunkedMediaIdOf, newBlobKey, newUploadSessionId } from './ids.ts';
import type { MediaService } from './media.ts';
import { rangeReader, readAt } from '../formats/read-at.ts';
import { SNIFF_BYTES, type StoredBytes } from '../formats/detect.ts';
import { InterruptedWriteError, StagingLimitError, type StagedFile, type StagingArea } from './staging.ts';
import type { Caller } from './tokens.ts';

/** api.md "Large files": the default cap of one chunked file per organization (org limits --max-chunked-bytes). */
export const DEFAULT_MAX_CHUNKED_BYTES = 4 * 1024 ** 3;
/** DingTalk: a transaction not committed within 24 h is deleted with its chunks; tus uploads too. */
export const UPLOAD_SESSION_LIFETIME_MS = 24 * 3600_000;
/** Chunk rows read per page while a commit streams the chunks. */
const CHUNK_PAGE_ROWS = 256;
/** Where a session's bytes go (see the top of this file), kept in the session's metadata under PLACEMENT_KEY. */
export type BytesPlacement = 'chunk-blobs' | 'session-file' | 'parts';
const PLACEMENT_KEY = 'oapi-media:bytes';
/** A part's size on a parted store, unless the store wants more (S3: 5 MiB but for the last); 8 MiB = DingTalk's and our clients' chunk. */
const PART_BYTES = 8 * 1024 * 1024;
/** A part row's blob key: `part:` and JSON [object key, upload id, part number, tag, part size]; never a real key (':'). */
const PART_ROW = 'part:';
interface PartRow { key: string; uploadId: string; partNumber: number; tag: string; size: number }
const isPartRow = (blobKey: string): boolean => blobKey.startsWith(PART_ROW);
function partOf(blobKey: string): PartRow {
  const [key, uploadId, partNumber, tag, size] = JSON.parse(blobKey.slice(PART_ROW.length)) as [string, string, number, string, number];
  return { key, uploadId, partNumber, tag, size };
}
/** The part rows among a session's chunk rows, in seq order (= part number order). */
const partsOf = (rows: UploadChunkRow[]): PartRow[] => rows.filter((row) => isPartRow(row.blobKey)).map((row) => partOf(row.blobKey));
const partRowKey = (part: PartRow): string => PART_ROW + JSON.stringify([part.key, part.uploadId, part.partNumber, part.tag, part.size]);

/** What the protocol keeps with a session (tus: its Upload-Metadata), without the engine's own key. */
export function sessionMetadata(session: UploadSessionRow): Record<string, string> {
  const { [PLACEMENT_KEY]: _placement, ...metadata } = JSON.parse(session.metadata) as Record<string, string>;
  return metadata;
}

function placementOf(session: UploadSessionRow): BytesPlacement {
  const placement = (JSON.parse(session.metadata) as Record<string, string>)[PLACEMENT_KEY];
  return placement === 'session-file' || placement === 'parts' ? placement : 'chunk-blobs';
}

/** The blob key of a chunk whose bytes are in its session's file (never a real key: ':' is not allowed in one). */
const IN_SESSION_FILE = 'session-file:';
const inSessionFile = (blobKey: string): boolean => blobKey.startsWith(IN_SESSION_FILE);
/** Session files without a session (a crash between the row's delete and the file's) are removed past this age. */
const SESSION_FILE_GRACE_MS = 60_000;
/** At most this many sessions keep their running sha256 in memory (each a few hundred bytes); others are hashed at commit. */
const MAX_RUNNING_HASHES = 10_000;

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

/** One run of bytes appended at the session's end (a tus PATCH). */
export interface AppendRequest {
  offset: number;
  source: Readable;
  /** The size the request announced (Content-Length), refused before reading when past the session's end. */
  declaredSize: number | undefined;
  /** Checked once the bytes are received, before they count: throws its refusal (a checksum). */
  accept(size: number): void;
  /** When the source fails midway, keep what arrived (tus: a resumed upload goes on from there). */
  keepInterrupted: boolean;
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
  /** One append or commit at a time per session (session files are written in place, by this node only). */
  readonly #busy = new Map<string, Promise<unknown>>();
  /** The sha256 of each session file's bytes so far, while this process saw them all arrive in order. */
  readonly #runningHashes = new Map<string, { offset: number; hash: Hash }>();

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
      metadata: JSON.stringify({ ...request.metadata, [PLACEMENT_KEY]: this.#placementFor(request.protocol) }),
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

  /** Runs `work` once no other append or commit of the session runs here. */
  async #exclusively<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    const before = this.#busy.get(sessionId);
    const run = (before ?? Promise.resolve()).catch(() => {}).then(work);
    this.#busy.set(sessionId, run);
    try {
      return await run;
    } finally {
      if (this.#busy.get(sessionId) === run) this.#busy.delete(sessionId);
    }
  }

  /** tus's sequential bytes go in place on a disk store, in parts on a parted one; DingTalk's numbered chunks are blobs. */
  #placementFor(protocol: SessionProtocol): BytesPlacement {
    if (protocol !== 'tus') return 'chunk-blobs';
    if (this.#blobs.durableStaging === true) return 'session-file';
    return this.#blobs.parted ? 'parts' : 'chunk-blobs';
  }

  /** Every chunk row of a session, in seq order (at most 10,000 for DingTalk, a few hundred parts for tus). */
  async #allChunks(sessionId: string): Promise<UploadChunkRow[]> {
    const rows: UploadChunkRow[] = [];
    for (;;) {
      const page = await this.#metadata.listUploadChunks(sessionId, rows.at(-1)?.seq ?? 0, CHUNK_PAGE_ROWS);
      rows.push(...page);
      if (page.length < CHUNK_PAGE_ROWS) return rows;
    }
  }

  /**
   * Appends bytes at the session's end (tus): offsetMismatch unless `offset` is where the session
   * stands; chunkOutOfRules past its size. Durable and recorded before it resolves; refused bytes
   * leave nothing. With keepInterrupted, bytes of a source that failed midway are kept and recorded
   * before the failure is rethrown. Returns where the session stands after.
   */
  async append(session: UploadSessionRow, request: AppendRequest): Promise<number> {
    return this.#exclusively(session.id, async () => {
      const progress = await this.#metadata.uploadProgress(session.id);
      if (request.offset !== progress.bytes) throw new ApiError('offsetMismatch', `Upload-Offset ${request.offset}, the upload stands at ${progress.bytes}`);
      const rest = session.fileSize - progress.bytes;
      if (request.declaredSize !== undefined && request.declaredSize > rest) throw new ApiError('chunkOutOfRules', `${request.declaredSize} bytes past Upload-Length`);
      const seq = progress.lastSeq + 1;
      const placement = placementOf(session);
      if (placement === 'parts') return this.#appendParts(session, progress, request);
      if (placement === 'chunk-blobs') {
        const received = await this.receiveChunk(request.source, rest);
        try {
          if (received.size === 0) return progress.bytes;
          const stored = await this.putChunk(session, { seq, offset: progress.bytes, accept: (size) => request.accept(size) }, received);
          return progress.bytes + stored.chunk.size;
        } finally {
          await this.#staging.discard(received);
        }
      }
      // A session committed or removed meanwhile has no progress either: do not create a file for it.
      if (progress.chunks === 0 && (await this.#metadata.getUploadSession(session.id)) === null) throw new ApiError('unknownUploadSession', 'gone');
      const hash = this.#runningHashFrom(session.id, progress.bytes);
      const record = async (size: number): Promise<number> => {
        if (size === 0) return progress.bytes;
        const chunk: UploadChunkRow = {
          sessionId: session.id, seq, offset: progress.bytes, size, sha256: '', blobKey: `${IN_SESSION_FILE}${session.id}:${seq}`, createdAt: this.#now(),
        };
        if (!(await this.#addChunk(chunk))) throw new Error(`session ${session.id}: chunk ${seq} recorded twice`);
        const offset = progress.bytes + size;
        if (hash) this.#keepRunningHash(session.id, offset, hash);
        return offset;
      };
      let size: number;
      try {
        size = await this.#staging.writeAt(this.#staging.sessionFilePath(session.id), progress.bytes, request.source, rest, (bytes) => hash?.update(bytes));
      } catch (error) {
        if (error instanceof StagingLimitError) throw new ApiError('chunkOutOfRules', `more than the ${rest} bytes left`);
        if (error instanceof InterruptedWriteError) {
          if (request.keepInterrupted) await record(error.written);
          throw error.cause;
        }
        throw error;
      }
      request.accept(size);
      return record(size);
    });
  }

  /**
   * append() on a parted store: the PATCH is received into staging, then the bytes from the current
   * part's start (the tail left by the last PATCH, read back, then this PATCH's) are sent as parts of
   * PART_BYTES; what is left is the new tail blob, unless the file is complete (then it is the last
   * part). Rows are recorded only once every part and the tail are stored, in seq order, so any
   * prefix of them is true. Each row counts the bytes new to the session; its offset is where its
   * object starts in the file (a part: its start; a tail: the current part's start).
   */
  async #appendParts(session: UploadSessionRow, progress: { bytes: number; lastSeq: number }, request: AppendRequest): Promise<number> {
    const parted = this.#blobs.parted!;
    const partBytes = Math.max(PART_BYTES, parted.minPartBytes);
    const rest = session.fileSize - progress.bytes;
    const rows = await this.#allChunks(session.id);
    const last = rows.at(-1);
    const tail = last !== undefined && !isPartRow(last.blobKey) ? { row: last, size: progress.bytes - last.offset } : undefined;
    const parts = partsOf(rows);
    const hash = this.#runningHashFrom(session.id, progress.bytes);
    const source = hash ? Readable.from(hashedChunks(request.source, hash)) : request.source;
    const received = await this.#staging.toFile(await this.receiveChunk(source, rest));
    const local: StagedFile[] = [received];
    try {
      if (received.size === 0) return progress.bytes;
      request.accept(received.size);
      const pieces: Array<{ path: string; size: number }> = [];
      if (tail) {
        const tailFile = await this.#staging.toFile(await this.#staging.stage(await this.#blobs.get(tail.row.blobKey), tail.size, 0));
        local.push(tailFile);
        if (tailFile.size !== tail.size) throw new ApiError('systemBusy', `session ${session.id}: its tail holds ${tailFile.size} bytes, ${tail.size} acknowledged`);
        pieces.push({ path: tailFile.path, size: tailFile.size });
      }
      pieces.push({ path: received.path, size: received.size });
      const start = progress.bytes - (tail?.size ?? 0); // where the current part begins in the file
      const available = progress.bytes + received.size - start;
      const complete = progress.bytes + received.size === session.fileSize;
      let upload = parts[0] ? { key: parts[0].key, uploadId: parts[0].uploadId } : undefined;
      const rowsToAdd: Array<Omit<UploadChunkRow, 'sessionId' | 'seq' | 'createdAt'>> = [];
      let counted = progress.bytes; // bytes the rows so far (and those to add) count
      let consumed = 0;
      while (available - consumed >= partBytes || (complete && consumed < available)) {
        const size = Math.min(partBytes, available - consumed);
        upload ??= await (async () => {
          const key = newBlobKey();
          return { key, uploadId: await parted.begin(key) };
        })();
        const partNumber = parts.length + rowsToAdd.length + 1;
        const tag = await parted.putPart(upload.key, upload.uploadId, partNumber, Readable.from(piecesRange(pieces, consumed, size)), size);
        const end = start + consumed + size;
        rowsToAdd.push({ offset: start + consumed, size: end - counted, sha256: '', blobKey: partRowKey({ ...upload, partNumber, tag, size }) });
        counted = end;
        consumed += size;
      }
      if (consumed < available) {
        const tailSize = available - consumed;
        const tailFile = await this.#staging.stage(Readable.from(piecesRange(pieces, consumed, tailSize)), tailSize, 0);
        local.push(tailFile);
        if (tailFile.kind !== 'file') throw new Error('staging: a file was asked for');
        const key = newBlobKey();
        await this.#blobs.putFile(key, tailFile.path, tailFile.size);
        rowsToAdd.push({ offset: start + consumed, size: start + available - counted, sha256: tailFile.sha256, blobKey: key });
      }
      let seq = progress.lastSeq;
      for (const row of rowsToAdd) {
        const chunk: UploadChunkRow = { sessionId: session.id, seq: ++seq, createdAt: this.#now(), ...row };
        // Another node took this seq first (two PATCHes at once on two nodes): the later one is refused.
        if (!(await this.#addChunk(chunk))) throw new ApiError('chunkConflict', `chunk ${seq} of session ${session.id}`);
      }
      if (tail) await this.#blobs.delete(tail.row.blobKey).catch(() => {}); // absorbed; else collected with the session
      const offset = progress.bytes + received.size;
      if (hash) this.#keepRunningHash(session.id, offset, hash);
      return offset;
    } finally {
      await Promise.all(local.map((file) => this.#staging.discard(file)));
    }
  }

  /** Records an appended chunk: false when its seq was taken already; unknownUploadSession when the session is gone. */
  async #addChunk(chunk: UploadChunkRow): Promise<boolean> {
    try {
      return (await this.#metadata.addUploadChunk(chunk)) === null;
    } catch (error) {
      if (error instanceof UploadSessionGoneError) throw new ApiError('unknownUploadSession', 'gone while its bytes were stored');
      throw error;
    }
  }

  /** A parted session's bytes as a staged upload for the commit: the store assembles its parts, the object is adopted. */
  async #stagedParts(session: UploadSessionRow): Promise<StagedFile> {
    const parted = this.#blobs.parted!;
    const rows = await this.#allChunks(session.id);
    const parts = partsOf(rows);
    const size = parts.reduce((sum, part) => sum + part.size, 0);
    if (parts.length === 0 || !isPartRow(rows.at(-1)!.blobKey) || size !== session.fileSize) {
      throw new ApiError('systemBusy', `session ${session.id}: its parts hold ${size} of ${session.fileSize} bytes`);
    }
    const { key, uploadId } = parts[0]!;
    await parted.complete(key, uploadId, parts.map((part) => ({ partNumber: part.partNumber, tag: part.tag })));
    const bytes: StoredBytes = {
      size,
      reader: async () => rangeReader(size, async (start, end) => (await this.#blobs.get(key, { start, end })) as AsyncIterable<Buffer>),
      stream: () => this.#blobs.get(key),
    };
    const head = await readAt(await bytes.reader(), 0, Math.min(SNIFF_BYTES, size));
    const sha256 = await this.#sha256Of(session, async () => (await bytes.stream()) as AsyncIterable<Buffer>);
    return { kind: 'stored', key, size, sha256, head, bytes };
  }

  /** A copy of the session's running sha256 when it covers exactly the bytes before `offset` (a new one at 0); else none. */
  #runningHashFrom(sessionId: string, offset: number): Hash | undefined {
    if (offset === 0) return createHash('sha256');
    const running = this.#runningHashes.get(sessionId);
    return running?.offset === offset ? running.hash.copy() : undefined;
  }

  #keepRunningHash(sessionId: string, offset: number, hash: Hash): void {
    this.#runningHashes.delete(sessionId);
    if (this.#runningHashes.size >= MAX_RUNNING_HASHES) {
      const oldest = this.#runningHashes.keys().next().value;
      if (oldest !== undefined) this.#runningHashes.delete(oldest);
    }
    this.#runningHashes.set(sessionId, { offset, hash });
  }

  /** Forgets a session's file and running hash, once the session is gone (committed, terminated, expired). */
  async #removeSessionFile(sessionId: string): Promise<void> {
    this.#runningHashes.delete(sessionId);
    if (this.#blobs.durableStaging !== true) return;
    await unlink(this.#staging.sessionFilePath(sessionId)).catch(() => {});
  }

  /**
   * Deletes the bytes of a session that is gone: its chunk and tail blobs, its session file and,
   * unless it was committed (then its assembled object is the media's), its parted upload and the
   * object a refused commit may have assembled.
   */
  async #removeBytes(sessionId: string, blobKeys: string[], { committed = false } = {}): Promise<void> {
    const blobs = blobKeys.filter((key) => !inSessionFile(key) && !isPartRow(key));
    await Promise.all(blobs.map((key) => this.#blobs.delete(key).catch(() => {}))); // else the orphan sweep
    const part = blobKeys.find(isPartRow);
    if (part !== undefined && !committed) {
      const { key, uploadId } = partOf(part);
      await this.#blobs.parted?.abort(key, uploadId).catch(() => {});
      await this.#blobs.delete(key).catch(() => {});
    }
    await this.#removeSessionFile(sessionId);
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
    let chunkKeys: string[] = [];
    try {
      const row = await this.#exclusively(session.id, async () => {
        const placement = placementOf(session);
        const staged = placement === 'session-file' ? await this.#stagedSessionFile(session)
          : placement === 'parts' ? await this.#stagedParts(session)
          : await this.#staging.stage(Readable.from(this.#chunkBytes(session.id)), session.fileSize, 0);
        return this.#media.commitAs({ caller, ...rules, staged }, mediaId, async (media, quotaBytes) => {
          const keys = await this.#metadata.commitUploadSession(session.id, media, quotaBytes);
          if (keys === null) throw new UploadSessionGoneError(`upload session ${session.id}`);
          chunkKeys = keys;
        });
      });
      await this.#removeBytes(session.id, chunkKeys, { committed: true });
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

  /** The session file as a staged file for the commit: hashed as it arrived, or read once now (after a restart). */
  async #stagedSessionFile(session: UploadSessionRow): Promise<StagedFile> {
    const path = this.#staging.sessionFilePath(session.id);
    const read = async () => createReadStream(path, { end: session.fileSize - 1, highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>;
    const sha256 = await this.#sha256Of(session, read).catch((error: unknown) => {
      if (error instanceof ApiError) throw error;
      throw new ApiError('systemBusy', `session ${session.id}: its file cannot be read: ${(error as Error).message}`);
    });
    return this.#staging.linkForCommit(path, session.fileSize, sha256);
  }

  /** A complete session's sha256: its running hash when this process saw every byte arrive, else one read of its bytes. */
  async #sha256Of(session: UploadSessionRow, read: () => Promise<AsyncIterable<Buffer>>): Promise<string> {
    const running = this.#runningHashes.get(session.id);
    if (running?.offset === session.fileSize) return running.hash.copy().digest('hex');
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of await read()) {
      hash.update(chunk);
      size += chunk.length;
    }
    if (size !== session.fileSize) throw new ApiError('systemBusy', `session ${session.id}: ${size} of its ${session.fileSize} bytes to hash`);
    return hash.digest('hex');
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
    await this.#removeBytes(session.id, keys);
    return true;
  }

  /**
   * Removes sessions past their expiry with their chunks and reservations. Safe on many nodes at
   * once: each session is removed by the one node whose delete returned it, which then deletes its
   * chunk blobs. Then removes session files that no session owns any more (a crash between the
   * row's delete and the file's). Returns how many sessions this call removed.
   */
  async sweepExpired(batchSize = 200): Promise<number> {
    let removed = 0;
    for (;;) {
      const due = await this.#metadata.expiredUploadSessions(this.#now(), batchSize);
      for (const session of due) {
        const keys = await this.#metadata.deleteUploadSession(session.id);
        if (keys === null) continue;
        removed++;
        await this.#removeBytes(session.id, keys);
      }
      if (due.length < batchSize) break;
    }
    if (this.#blobs.durableStaging === true) {
      // The file's own age (real time), not the service clock: the grace covers a row just removed.
      const cutoff = Date.now() - SESSION_FILE_GRACE_MS;
      for (const { sessionId, modifiedAt } of await this.#staging.sessionFiles()) {
        if (modifiedAt > cutoff || this.#busy.has(sessionId)) continue;
        if ((await this.#metadata.getUploadSession(sessionId)) === null) await this.#removeSessionFile(sessionId);
      }
    }
    return removed;
  }
}

/** `size` bytes from `offset` of the concatenation of `pieces` (local files), read in order. */
async function* piecesRange(pieces: Array<{ path: string; size: number }>, offset: number, size: number): AsyncGenerator<Buffer> {
  let skip = offset;
  let left = size;
  for (const piece of pieces) {
    if (left === 0) return;
    if (skip >= piece.size) {
      skip -= piece.size;
      continue;
    }
    const length = Math.min(piece.size - skip, left);
    for await (const chunk of createReadStream(piece.path, { start: skip, end: skip + length - 1, highWaterMark: 1024 * 1024 })) yield chunk as Buffer;
    left -= length;
    skip = 0;
  }
}

/** The chunks of `source`, each given to `hash` on its way. */
export async function* hashedChunks(source: AsyncIterable<Buffer>, hash: Hash): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}
