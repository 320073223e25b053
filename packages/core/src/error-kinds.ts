// The product's error kinds, in its own words and wire-neutral. Each wire (dialect) has one table
// that maps every kind to its own answer: DingTalk's is wires/dingtalk.ts. A kind says what went
// wrong for the caller; the wire decides the code, the message and the HTTP status.

export const ERROR_KINDS = [
  // The server's side: storage or database down, disk full (retrying may help), or a bug.
  'systemBusy',
  'internalError',
  // Tokens and credentials.
  'missingParameter',
  'wrongCredentials',
  'missingToken',
  'invalidToken',
  'tokenExpired',
  'rateLimited',
  /** Too many failed credential checks from one address (of one key, or unknown tokens): brute force. */
  'authLockedOut',
  // Uploads.
  'unknownMediaType',
  'formatNotAllowed',
  'mediaTooLarge',
  /** Not empty, but below the wire's smallest file (WeCom: every file is more than 5 bytes). */
  'mediaTooSmall',
  'emptyMedia',
  'missingMedia',
  'multipartRequired',
  /** The upload form has more fields or parts than the server reads, and what it needed was past them. */
  'tooManyFormParts',
  /** One part's header block is larger than the server reads (16 KiB). */
  'partHeaderTooLarge',
  /** A file name with a control character (e.g. NUL) sent raw in its part header, which makes it unreadable. */
  'invalidFileName',
  'quotaExceeded',
  /** The body arrived slower than the server's minimum rate (a trickling client holding a slot). */
  'uploadTooSlow',
  // Upload sessions (issue 18: DingTalk's chunked upload, tus): one file sent in several requests.
  /** An upload session (upload_id) that does not exist, expired, was committed, or is another org's. */
  'unknownUploadSession',
  /** A chunk outside the session's rules: sequence out of range, size outside the chunk limits, past file_size. */
  'chunkOutOfRules',
  /** A chunk sent again with other bytes than the ones already acknowledged under its sequence. */
  'chunkConflict',
  /** A commit of a session whose chunks are not all there or do not add up to its file size. */
  'uploadIncomplete',
  /** A chunk whose bytes do not match the checksum sent with it (tus Upload-Checksum). */
  'checksumMismatch',
  /** A chunk sent for another offset than where the upload stands (tus Upload-Offset). */
  'offsetMismatch',
  // Downloads.
  'missingMediaId',
  'unknownMedia',
  // Third-party suites (an ISV's app that organizations authorize) and their signed requests.
  'suiteNotAuthorized',
  'malformedSignatureTimestamp',
  'staleSignatureTimestamp',
  'unknownSuite',
  'wrongSignature',
  'wrongSuiteTicket',
  // HTTP itself: a path no wire has, or a wrong method on one it has.
  'unknownEndpoint',
  'getRequired',
  'postRequired',
  // HTTP that never became a request (Node's parser refused it before any route saw it).
  'malformedHttpRequest',
  'requestHeadersTimeout',
  'requestHeadersTooLarge',
  'requestTooLarge',
] as const;

export type ErrorKind = (typeof ERROR_KINDS)[number];

/** A failure the API answers in its wire's shape; `detail` is for logs only, never sent. */
export class ApiError extends Error {
  readonly kind: ErrorKind;
  readonly detail: string | undefined;
  constructor(kind: ErrorKind, detail?: string) {
    super(detail ? `${kind}: ${detail}` : kind);
    this.name = 'ApiError';
    this.kind = kind;
    this.detail = detail;
  }
}
