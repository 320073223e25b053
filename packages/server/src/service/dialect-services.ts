// The only door from a wire (dialect) into the product: a narrow surface in the product's words.
// A dialect reads its wire's request, calls these, and answers in its wire's shape; it never sees a
// store, the staging area or the limiter. Built once per node by the composition root.

import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError, type ByteRange, type MediaType, type MediaTypeRule, type Wire } from '@oapi-media/core';
import type { AuthThrottle } from './auth-throttle.ts';
import type { MediaService } from './media.ts';
import type { AdmissionService } from './rate-limit.ts';
import type { StagedFile, StagingArea } from './staging.ts';
import type { CorpTokenRequest, SuiteService } from './suites.ts';
import type { Caller, TokenGrant, TokenService } from './tokens.ts';
import type { InFlightWork } from './in-flight.ts';
import { UNIDENTIFIED, type ReleaseSlot, type UploadSlots } from './upload-slots.ts';
import type { MinBodyRate } from '../http/body-rate.ts';
import { FileRangeStream } from '../stores/blobs/file-range-stream.ts';
import type { MediaRow, UploadSessionRow } from '../stores/metadata/interface.ts';
import { CHUNKED_MEDIA_ID_PATTERN, newChunkedMediaId } from './ids.ts';
import { hashedChunks, sessionMetadata, type AppendRequest, type ChunkPlacement, type CommitRules, type OpenSessionRequest, type SessionProtocol, type StoredChunk, type UploadSessionService } from './upload-sessions.ts';

export { hashedChunks };
export type { AppendRequest, Caller, ChunkPlacement, CommitRules, CorpTokenRequest, MediaRow, ReleaseSlot, SessionProtocol, StoredChunk, TokenGrant, UploadSessionRow };
export { RateLimitedError } from './rate-limit.ts';

/** The bytes of one upload, received and staged; whoever holds the handle owns them. */
export class StagedUpload {
  readonly #staging: StagingArea;
  #file: StagedFile | undefined;
  readonly size: number;
  readonly sha256: string;
  /** The first bytes (up to 4100, what format detection samples): enough for most image headers. */
  readonly head: Buffer;

  constructor(staging: StagingArea, file: StagedFile) {
    this.#staging = staging;
    this.#file = file;
    this.size = file.size;
    this.sha256 = file.sha256;
    this.head = file.head;
  }

  /** Hands the staged bytes over (to the commit); the handle owns nothing after. */
  take(): StagedFile {
    const file = this.#file;
    if (file === undefined) throw new Error('staged upload already taken or discarded');
    this.#file = undefined;
    return file;
  }

  /** Removes the staged bytes; harmless when they were taken or discarded already. */
  async discard(): Promise<void> {
    const file = this.#file;
    this.#file = undefined;
    if (file !== undefined) await this.#staging.discard(file);
  }
}

/** A media's bytes (or one range of them), ready to write themselves to an HTTP response. */
export interface MediaBody {
  /** Resolves once written; rejects when the bytes could not be read to their end (the response is then cut). */
  writeTo(response: ServerResponse): Promise<void>;
}

export interface UploadDetails {
  type: MediaType;
  /** The wire's rule for that type: its size limit and formats. */
  rule: MediaTypeRule;
  fileName: string | undefined;
}

/** A permanent image anyone holding its URL key may read (WeCom's /cgi-bin/media/uploadimg). */
export interface PublishedImage {
  row: MediaRow;
  /** The unguessable part of its public URL; only its hash is stored. */
  urlKey: string;
}

export interface DialectServices {
  /** Who may call: tokens for credentials, and the checks of every call that carries a token. */
  readonly access: {
    /**
     * A token for an app's appkey + appsecret (WeCom: corpid + corpsecret) on `wire`;
     * `wrongCredentials` when they do not match or the app is another wire's. Failures count per
     * client address and appkey.
     */
    tokenForApp(clientIp: string, appKey: string, appSecret: string, wire: Wire): Promise<TokenGrant>;
    /** A third-party suite's token for one authorizing organization (a signed request). */
    tokenForSuite(clientIp: string, request: CorpTokenRequest): Promise<TokenGrant>;
    /** The caller a token of `wire` stands for, admitted against its request rate (`rateLimited`). */
    admit(clientIp: string, accessToken: string | undefined, wire: Wire): Promise<Caller>;
  };
  readonly uploads: {
    /**
     * Waits until an upload body may be read (a bounded number are read at once, shared fairly
     * between organizations): `orgId` is the caller's, undefined when its token comes after the body.
     */
    slot(orgId: string | undefined): Promise<ReleaseSlot>;
    /** A body slower than this while it is read is cut (uploadTooSlow). */
    readonly minBodyRate: MinBodyRate;
    /** Runs one upload from its body to its answer; a shutdown waits for it before the stores close. */
    track<T>(work: () => Promise<T>): Promise<T>;
    /** Reads `source` to its end into staging; `mediaTooLarge` past `capBytes`, nothing left behind on failure. */
    receive(source: Readable, capBytes: number): Promise<StagedUpload>;
    /** Checks the staged bytes against the wire's rule and stores them; the upload is consumed either way. */
    commit(caller: Caller, upload: StagedUpload, details: UploadDetails): Promise<MediaRow>;
    /** As commit, for a permanent image readable by its public URL key alone (not by a media_id). */
    publishImage(caller: Caller, upload: StagedUpload, details: UploadDetails): Promise<PublishedImage>;
  };
  /** Large files (api.md "Large files"): DingTalk's '#' namespace, its chunked upload and tus, on upload sessions. */
  readonly largeFiles: {
    /** The caller's organization's cap for one chunked file, in bytes. */
    maxChunkedBytes(caller: Caller): Promise<number>;
    /** As uploads.commit, under a '#' id (DingTalk's /file/upload/single). */
    commitSingle(caller: Caller, upload: StagedUpload, details: UploadDetails): Promise<MediaRow>;
    open(caller: Caller, request: OpenSessionRequest): Promise<UploadSessionRow>;
    /** The caller's open session; unknownUploadSession otherwise (missingParameter without an id). */
    find(caller: Caller, id: string | undefined, protocol: SessionProtocol): Promise<UploadSessionRow>;
    /** The media a committed session of the caller's became, or null. */
    committedMedia(caller: Caller, sessionId: string): Promise<MediaRow | null>;
    progress(session: UploadSessionRow): Promise<{ chunks: number; bytes: number; lastSeq: number }>;
    /** Reads a chunk's bytes into staging (as uploads.receive); chunkOutOfRules past `capBytes`. */
    receiveChunk(source: Readable, capBytes: number): Promise<StagedUpload>;
    /** What the protocol kept with the session at its opening (tus: Upload-Metadata). */
    metadataOf(session: UploadSessionRow): Record<string, string>;
    /** Appends bytes at a session's end (tus PATCH): where it stands after; offsetMismatch, chunkOutOfRules, the accept's refusal. */
    append(session: UploadSessionRow, request: AppendRequest): Promise<number>;
    /** Stores a received chunk under the placement's seq (idempotent for the same bytes); the upload is consumed. */
    putChunk(session: UploadSessionRow, placement: ChunkPlacement, chunk: StagedUpload): Promise<StoredChunk>;
    commit(caller: Caller, session: UploadSessionRow, rules: CommitRules): Promise<MediaRow>;
    terminate(session: UploadSessionRow): Promise<boolean>;
    /** A '#' media of the caller's organization; 40007 for an '@' id or any other. */
    findMedia(caller: Caller, mediaId: string | undefined): Promise<MediaRow>;
  };
  readonly downloads: {
    /** The caller's organization's media of the caller's wire, unexpired; `missingMediaId` / `unknownMedia` otherwise. */
    find(caller: Caller, mediaId: string | undefined): Promise<MediaRow>;
    /** A published image by its URL key; `unknownMedia` for any key that is not one. */
    findPublishedImage(urlKey: string): Promise<MediaRow>;
    open(media: MediaRow, range?: ByteRange): Promise<MediaBody>;
  };
}

export interface DialectServiceParts {
  tokens: TokenService;
  authThrottle: AuthThrottle;
  admission: AdmissionService;
  suites: SuiteService;
  media: MediaService;
  uploadSlots: UploadSlots;
  minBodyRate: MinBodyRate;
  inFlight: InFlightWork;
  sessions: UploadSessionService;
}

export function dialectServices(parts: DialectServiceParts): DialectServices {
  const { tokens, authThrottle, admission, suites, media, uploadSlots, minBodyRate, inFlight, sessions } = parts;
  return Object.freeze({
    access: Object.freeze({
      async tokenForApp(clientIp: string, appKey: string, appSecret: string, wire: Wire): Promise<TokenGrant> {
        const app = await authThrottle.guardCredentials(clientIp, appKey, async () => {
          const found = await tokens.authenticateApp(appKey, appSecret, wire);
          if (!found) throw new ApiError('wrongCredentials');
          return found;
        });
        return tokens.issueForApp(app);
      },
      async tokenForSuite(clientIp: string, request: CorpTokenRequest): Promise<TokenGrant> {
        return authThrottle.guardCredentials(clientIp, request.accessKey ?? '', () => suites.issueCorpToken(request));
      },
      async admit(clientIp: string, accessToken: string | undefined, wire: Wire): Promise<Caller> {
        const caller = await authThrottle.guardToken(clientIp, () => tokens.verify(accessToken, wire));
        await admission.admit(caller);
        return caller;
      },
    }),
    uploads: Object.freeze({
      slot: (orgId: string | undefined) => uploadSlots.acquire(orgId ?? UNIDENTIFIED),
      minBodyRate: Object.freeze({ ...minBodyRate }),
      track: <T>(work: () => Promise<T>) => inFlight.track(work),
      async receive(source: Readable, capBytes: number): Promise<StagedUpload> {
        return new StagedUpload(media.staging, await media.staging.stage(source, capBytes));
      },
      async commit(caller: Caller, upload: StagedUpload, details: UploadDetails): Promise<MediaRow> {
        return media.commit({ caller, ...details, staged: upload.take() });
      },
      async publishImage(caller: Caller, upload: StagedUpload, details: UploadDetails): Promise<PublishedImage> {
        return media.publishImage({ caller, ...details, staged: upload.take() });
      },
    }),
    largeFiles: Object.freeze({
      maxChunkedBytes: (caller: Caller) => sessions.maxChunkedBytes(caller),
      async commitSingle(caller: Caller, upload: StagedUpload, details: UploadDetails): Promise<MediaRow> {
        return media.commitAs({ caller, ...details, staged: upload.take() }, newChunkedMediaId());
      },
      open: (caller: Caller, request: OpenSessionRequest) => sessions.open(caller, request),
      find: (caller: Caller, id: string | undefined, protocol: SessionProtocol) => sessions.find(caller, id, protocol),
      committedMedia: (caller: Caller, sessionId: string) => sessions.committedMedia(caller, sessionId),
      progress: (session: UploadSessionRow) => sessions.progress(session),
      async receiveChunk(source: Readable, capBytes: number): Promise<StagedUpload> {
        return new StagedUpload(media.staging, await sessions.receiveChunk(source, capBytes));
      },
      metadataOf: (session: UploadSessionRow) => sessionMetadata(session),
      append: (session: UploadSessionRow, request: AppendRequest) => sessions.append(session, request),
      putChunk: (session: UploadSessionRow, placement: ChunkPlacement, chunk: StagedUpload) => sessions.putChunk(session, placement, chunk.take()),
      commit: (caller: Caller, session: UploadSessionRow, rules: CommitRules) => sessions.commit(caller, session, rules),
      terminate: (session: UploadSessionRow) => sessions.terminate(session),
      findMedia: (caller: Caller, mediaId: string | undefined) => media.find(caller, mediaId, CHUNKED_MEDIA_ID_PATTERN),
    }),
    downloads: Object.freeze({
      find: (caller: Caller, mediaId: string | undefined) => media.find(caller, mediaId),
      findPublishedImage: (urlKey: string) => media.findPublishedImage(urlKey),
      async open(row: MediaRow, range?: ByteRange): Promise<MediaBody> {
        return bodyOf(await media.read(row, range));
      },
    }),
  });
}

/**
 * A file on local disk writes itself through reused buffers (file-range-stream.ts); bytes kept
 * with the row are one write; any other stream (S3) is piped.
 */
function bodyOf(source: Readable | Buffer): MediaBody {
  if (source instanceof FileRangeStream) return source;
  if (Buffer.isBuffer(source)) return { writeTo: async (response) => void response.end(source) };
  return { writeTo: (response) => pipeline(source, response) };
}
