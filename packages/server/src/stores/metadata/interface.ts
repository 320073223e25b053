// The metadata seam: organizations, apps, tokens and media rows. One implementation per engine
// (sqlite.ts, postgres.ts); the service knows only this interface. Implementations translate
// their engine's errors into StoreUnavailableError / ConflictError / QuotaExceededError /
// InvalidCursorError and never leak them above.

import type { MediaType, StoredFormat, Wire } from '@oapi-media/core';

export interface Org {
  id: string;
  name: string;
  /** DingTalk-style corp id, shown to operators (issue 8). */
  corpId: string;
  createdAt: number;
  /** Storage quota in bytes; null = unlimited. */
  quotaBytes: number | null;
  /** Requests per second allowed per app of this org; null = the server default. */
  rateLimitPerSecond: number | null;
}

export interface App {
  id: string;
  orgId: string;
  name: string;
  appKey: string;
  /** sha256 hex of the appsecret: secrets are never stored in clear (api.md "GET /gettoken"). */
  secretHash: string;
  createdAt: number;
  /** The wire its credentials and tokens work on (apps made before wires existed are DingTalk's). */
  wire: Wire;
}

/** A third-party app (ISV "suite", issue 8) that many organizations may authorize. */
export interface Suite {
  id: string;
  name: string;
  /** DingTalk's `accessKey` of /service/get_corp_token. */
  suiteKey: string;
  /**
   * The suite secret, encrypted (service/secret-box.ts). Not a hash: the server must compute
   * HMAC-SHA256 keyed with the secret itself to check a signature.
   */
  secretCiphertext: string;
  createdAt: number;
}

export interface SuiteAuthorization {
  suiteId: string;
  orgId: string;
  createdAt: number;
}

export interface SuiteTicketRow {
  suiteId: string;
  /** 1, 2, 3... per suite: a rotation inserts newest + 1, so two racing rotations conflict. */
  seq: number;
  /** sha256 hex of the ticket; the ticket itself is re-derived from the nonce with the server key. */
  ticketHash: string;
  nonce: string;
  createdAt: number;
}

export interface TokenRow {
  /** sha256 hex of the access_token: the lookup key; the token itself is never stored. */
  tokenHash: string;
  /** Non-secret value from which the server re-derives the same token (HMAC with its key). */
  nonce: string;
  /** Who the token was issued to: an app id, or a suite id (third-party apps). */
  principal: string;
  orgId: string;
  issuedAt: number;
  expiresAt: number;
  /** The wire it was issued on: accepted there only (a DingTalk token is not a WeCom one). */
  wire: Wire;
}

export interface MediaRow {
  mediaId: string;
  orgId: string;
  /** The app (or suite principal) that uploaded it. */
  uploadedBy: string;
  type: MediaType;
  format: StoredFormat;
  /** The original file name as the client sent it (may be non-ASCII); for Content-Disposition. */
  fileName: string;
  size: number;
  /** sha256 hex of the bytes; the strong ETag. */
  sha256: string;
  /** The key of the bytes in the BlobStore. */
  blobKey: string;
  createdAt: number;
  /** The wire it was uploaded on: its own id namespace, invisible to the other wires. */
  wire: Wire;
  /** When it stops being readable (epoch ms; the wire's lifetime), then collected; null = permanent. */
  expiresAt: number | null;
}

/** One file sent in several requests (issue 18: DingTalk's chunked upload, tus). */
export interface UploadSessionRow {
  /** The upload_id (DingTalk) or the tus upload's URL key: unguessable. */
  id: string;
  orgId: string;
  wire: Wire;
  /** The app (or suite principal) that opened it. */
  principal: string;
  protocol: 'dingtalk' | 'tus';
  /** The size the file will have, in bytes: reserved of the org's quota while the session is open. */
  fileSize: number;
  /** How many chunks the client announced (DingTalk's chunk_numbers); null when not fixed (tus). */
  chunkCount: number | null;
  /** What the protocol keeps with the session (tus: its Upload-Metadata), as JSON text. */
  metadata: string;
  createdAt: number;
  /** Past this the session is gone for clients and collected with its chunks by the sweep. */
  expiresAt: number;
}

/** One acknowledged chunk of a session; its bytes are a blob of its own. */
export interface UploadChunkRow {
  sessionId: string;
  /** 1, 2, 3, …: DingTalk's chunk_sequence, tus's n-th PATCH. */
  seq: number;
  /** Where the chunk starts in the file (tus); DingTalk's chunks are placed at commit. */
  offset: number;
  size: number;
  sha256: string;
  blobKey: string;
  createdAt: number;
}

/** How far a session is: its chunks, their bytes and the highest sequence. */
export interface UploadProgress {
  chunks: number;
  bytes: number;
  lastSeq: number;
}

export interface OrgUsage {
  mediaCount: number;
  totalBytes: number;
}

/** What deleteOrg removed with the org. */
export interface DeletedOrg {
  /** blobKey of every removed media row (inline keys included: their bytes went with the rows). */
  blobKeys: string[];
  apps: number;
  tokens: number;
  suiteAuthorizations: number;
}

export interface MediaPage {
  items: MediaRow[];
  /**
   * Pass back as `after` to get the next page; null when this was the last. Opaque: only a cursor
   * this store returned for the same org is accepted (else InvalidCursorError).
   */
  next: string | null;
}

/** Every write resolves only once what it changed is durable (api.md: acknowledged = durable). */
export interface MetadataStore {
  init(): Promise<void>;
  close(): Promise<void>;
  /** Throws StoreUnavailableError when the engine cannot answer (for /readyz). */
  ping(): Promise<void>;

  createOrg(org: Org): Promise<void>;
  getOrgById(id: string): Promise<Org | null>;
  getOrgByName(name: string): Promise<Org | null>;
  getOrgByCorpId(corpId: string): Promise<Org | null>;
  /** Oldest first: (createdAt, name). */
  listOrgs(): Promise<Org[]>;
  updateOrgLimits(id: string, limits: { quotaBytes?: number | null; rateLimitPerSecond?: number | null }): Promise<void>;

  createApp(app: App): Promise<void>;
  getAppByKey(appKey: string): Promise<App | null>;
  getAppById(id: string): Promise<App | null>;
  /** Oldest first: (createdAt, id). */
  listApps(orgId?: string): Promise<App[]>;
  countApps(): Promise<number>;
  /** Replaces an app's secret hash (rotation); false when there is no such app. */
  updateAppSecret(appId: string, secretHash: string): Promise<boolean>;
  /** Removes an app; false when there was none. Its tokens are the caller's (deleteTokens). */
  deleteApp(appId: string): Promise<boolean>;

  insertToken(token: TokenRow): Promise<void>;
  getToken(tokenHash: string): Promise<TokenRow | null>;
  /**
   * The newest token of this principal for this org that is still valid at `now`, if any: the
   * latest issuedAt; among equals the latest expiresAt, then the greatest tokenHash.
   */
  findValidToken(principal: string, orgId: string, now: number): Promise<TokenRow | null>;
  renewToken(tokenHash: string, expiresAt: number): Promise<void>;
  /** Expires every token of a principal in an org at once (revocation); returns how many. */
  deleteTokens(principal: string, orgId: string): Promise<number>;
  deleteExpiredTokens(now: number): Promise<number>;
  /** Removes one token (revocation) and returns it; null when there was none. */
  deleteToken(tokenHash: string): Promise<TokenRow | null>;

  /**
   * The largest media, in bytes, whose content this store keeps with its row, in the same commit
   * (0: none; the bytes then always go to the BlobStore). A small upload stored so costs one shared
   * log fsync instead of a file of its own, that file's fsync, a rename and a folder fsync.
   */
  readonly inlineMaxBytes: number;
  /**
   * Commits a media row, with its content when `inlineBytes` is given (at most inlineMaxBytes;
   * the row's blobKey then is an inline key, see isInlineBlobKey). When the org has a quota, the
   * insert succeeds only if usage + size stays within it, atomically (else QuotaExceededError).
   */
  insertMedia(row: MediaRow, quotaBytes: number | null, inlineBytes?: Buffer): Promise<void>;
  getMedia(mediaId: string): Promise<MediaRow | null>;
  /** The content kept with a media row by insertMedia(…, inlineBytes), or null when there is none. */
  getInlineBytes(mediaId: string): Promise<Buffer | null>;
  /**
   * Newest first: (createdAt DESC, mediaId DESC). `limit` is a positive integer (else RangeError);
   * `after` a cursor from MediaPage.next of the same org (else InvalidCursorError).
   */
  listMedia(orgId: string, options: { limit: number; after?: string }): Promise<MediaPage>;
  /**
   * Up to `limit` media whose expiresAt is at or before `now`, soonest first (the expiry sweep;
   * deleteMedia then removes each once, whichever node gets there first).
   */
  expiredMedia(now: number, limit: number): Promise<MediaRow[]>;
  /** Removes the row and returns it, or null when there was none. */
  deleteMedia(mediaId: string): Promise<MediaRow | null>;
  usage(orgId: string): Promise<OrgUsage>;
  /** Of the given blob keys, those that a media row or an upload chunk references (for the orphan sweep). */
  referencedBlobKeys(blobKeys: string[]): Promise<Set<string>>;

  /**
   * Opens an upload session, reserving its fileSize of the org's quota atomically: when the org
   * has a quota, committed + reserved + fileSize must stay within it (else QuotaExceededError).
   * insertMedia counts the reserved bytes too, so open sessions and uploads cannot together overrun it.
   */
  createUploadSession(session: UploadSessionRow, quotaBytes: number | null): Promise<void>;
  getUploadSession(id: string): Promise<UploadSessionRow | null>;
  /**
   * Records an acknowledged chunk (its blob already durable). Returns null when recorded; the chunk
   * already recorded under that seq when there is one (nothing changed: the caller compares); and
   * throws UploadSessionGoneError when the session no longer exists.
   */
  addUploadChunk(chunk: UploadChunkRow): Promise<UploadChunkRow | null>;
  /** Up to `limit` chunks of a session with seq > afterSeq, in seq order (commit pages through them). */
  listUploadChunks(sessionId: string, afterSeq: number, limit: number): Promise<UploadChunkRow[]>;
  uploadProgress(sessionId: string): Promise<UploadProgress>;
  /**
   * The session becomes the media `row`, in one transaction: the session and its chunk rows go,
   * its reservation is released, the row is inserted within the quota (QuotaExceededError, then
   * nothing changed). Returns the chunk blob keys for the caller to delete (rows first); null when
   * the session was gone (committed or collected by another node), nothing inserted.
   */
  commitUploadSession(sessionId: string, row: MediaRow, quotaBytes: number | null): Promise<string[] | null>;
  /**
   * Removes a session with its chunk rows, its reservation released (termination, expiry). Returns
   * the chunk blob keys for the caller to delete; null when there was none (another node got it first).
   */
  deleteUploadSession(sessionId: string): Promise<string[] | null>;
  /** Up to `limit` sessions whose expiresAt is at or before `now`, soonest first (the expiry sweep). */
  expiredUploadSessions(now: number, limit: number): Promise<UploadSessionRow[]>;
  /** The org's cap for one chunked file, in bytes; null = the server default. */
  getMaxChunkedBytes(orgId: string): Promise<number | null>;
  setMaxChunkedBytes(orgId: string, bytes: number | null): Promise<void>;

  /**
   * Removes an org and everything that is its, in one transaction: its media rows (with the bytes
   * kept with them), apps, tokens, suite authorizations, upload sessions and usage. The blob keys
   * of the removed rows (and of the sessions' chunks) are returned for the caller to delete from the BlobStore (rows first, as deleteMedia);
   * null when there was no such org.
   */
  deleteOrg(orgId: string): Promise<DeletedOrg | null>;

  /** Suites (issue 8). createSuite throws ConflictError on a taken suiteKey. */
  createSuite(suite: Suite): Promise<void>;
  getSuiteByKey(suiteKey: string): Promise<Suite | null>;
  /** Oldest first: (createdAt, id). */
  listSuites(): Promise<Suite[]>;
  /** Idempotent: authorizing again keeps the first authorization. */
  authorizeSuite(authorization: SuiteAuthorization): Promise<void>;
  isSuiteAuthorized(suiteId: string, orgId: string): Promise<boolean>;
  /** Removes the authorization; false when there was none. */
  revokeSuite(suiteId: string, orgId: string): Promise<boolean>;
  /** Oldest first: (createdAt, orgId). */
  listSuiteAuthorizations(suiteId: string): Promise<SuiteAuthorization[]>;
  /**
   * Adds a ticket and drops the suite's tickets older than the newest `keep`, atomically.
   * ConflictError when a ticket with that seq exists (another node rotated first).
   */
  addSuiteTicket(ticket: SuiteTicketRow, keep: number): Promise<void>;
  /** The suite's newest tickets, newest first. */
  latestSuiteTickets(suiteId: string, limit: number): Promise<SuiteTicketRow[]>;
}

/** The engine is down, locked or refused: the API answers -1 system busy. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/**
 * The connection was lost (or timed out) while a COMMIT was under way: the engine may or may not
 * have applied it. A media's blob is then kept (an orphan, swept later, if no row came of it):
 * removing it could leave a committed row pointing at nothing.
 */
export class CommitOutcomeUnknownError extends StoreUnavailableError {
  override name = 'CommitOutcomeUnknownError';
}

/** A unique key (org name, app key, media id) already exists. */
export class ConflictError extends Error {
  override name = 'ConflictError';
}

/** The org's storage quota would be exceeded by this insert. */
export class QuotaExceededError extends Error {
  override name = 'QuotaExceededError';
}

/** The upload session no longer exists (expired and collected, committed, or terminated). */
export class UploadSessionGoneError extends Error {
  override name = 'UploadSessionGoneError';
}

/** A listMedia `after` that is not a cursor this store gave out for that org. */
export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}
