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
  'emptyMedia',
  'missingMedia',
  'multipartRequired',
  'quotaExceeded',
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
