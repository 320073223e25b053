// The failures a caller sees, all MediaClientErrors: DingTalk answered with a non-zero errcode
// (DingTalkError), no answer came (NetworkError), or the call ran past its `timeout`
// (TimeoutError). An abort by the caller's own signal rejects with the signal's reason.
//
// `instanceof` fails across realms (a vm context, a worker's structured clone aside) and across
// two copies of this package in one node_modules tree, so each error also carries a brand under
// a registry symbol (Symbol.for is shared by every realm of the process) naming its kind; the
// is…Error guards read the brand. This module imports nothing, so that any copy agrees.

/** The property under which every SDK error carries its kind; the same symbol in every realm and copy. */
export const MEDIA_CLIENT_ERROR_BRAND: unique symbol = Symbol.for('oapi-media.client.error');

/** The stable discriminator of SDK errors; match on it (or use the guards), not on `name` or `message`. */
export type MediaClientErrorKind = 'dingtalk' | 'network' | 'timeout';

const KINDS: ReadonlySet<string> = new Set<MediaClientErrorKind>(['dingtalk', 'network', 'timeout']);

/** The base of every error the SDK raises itself (bad arguments aside: those are TypeErrors). */
export class MediaClientError extends Error {
  readonly kind: MediaClientErrorKind;
  declare readonly [MEDIA_CLIENT_ERROR_BRAND]: MediaClientErrorKind;

  constructor(kind: MediaClientErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MediaClientError';
    this.kind = kind;
    Object.defineProperty(this, MEDIA_CLIENT_ERROR_BRAND, { value: kind, enumerable: false });
  }
}

function brandOf(value: unknown): MediaClientErrorKind | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  const brand = (value as { [MEDIA_CLIENT_ERROR_BRAND]?: unknown })[MEDIA_CLIENT_ERROR_BRAND];
  return typeof brand === 'string' && KINDS.has(brand) ? (brand as MediaClientErrorKind) : undefined;
}

/** True for any SDK error, whichever realm or copy of the package made it. */
export function isMediaClientError(value: unknown): value is MediaClientError {
  return brandOf(value) !== undefined;
}

export function isDingTalkError(value: unknown): value is DingTalkError {
  return brandOf(value) === 'dingtalk';
}

export function isNetworkError(value: unknown): value is NetworkError {
  return brandOf(value) === 'network';
}

export function isTimeoutError(value: unknown): value is TimeoutError {
  return brandOf(value) === 'timeout';
}

export interface DingTalkErrorInit {
  errcode: number;
  errmsg: string;
  /** From the `x-request-id` header, else the body's `request_id` (api.md "Conventions"). */
  requestId?: string | undefined;
  /** The HTTP status of the answer; undefined for a local pre-check that sent nothing. */
  httpStatus?: number | undefined;
  /** The parsed JSON answer, when there was one. */
  body?: Readonly<Record<string, unknown>> | undefined;
  /** Why the SDK did not (or could not) go further, e.g. "checked locally, nothing sent". */
  note?: string | undefined;
}

/** An answer with a non-zero errcode. Match on `errcode`, never on `errmsg` (api.md "Error codes"). */
export class DingTalkError extends MediaClientError {
  declare readonly kind: 'dingtalk';
  readonly errcode: number;
  readonly errmsg: string;
  readonly requestId: string | undefined;
  readonly httpStatus: number | undefined;
  readonly body: Readonly<Record<string, unknown>> | undefined;
  /** True when the SDK refused the call before sending it (localChecks). */
  readonly local: boolean;
  /** The SDK's own remark, when it added one (e.g. "checked locally, nothing sent"). */
  readonly note: string | undefined;

  constructor(init: DingTalkErrorInit) {
    const where = init.requestId ? ` [request ${init.requestId}]` : '';
    const note = init.note ? ` (${init.note})` : '';
    super('dingtalk', `${init.errcode} ${init.errmsg}${where}${note}`);
    this.name = 'DingTalkError';
    this.errcode = init.errcode;
    this.errmsg = init.errmsg;
    this.requestId = init.requestId;
    this.httpStatus = init.httpStatus;
    this.body = init.body;
    this.local = init.httpStatus === undefined;
    this.note = init.note;
  }
}

/** Connection codes that prove the request never left this machine, so resending is safe. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT',
]);

/** The request failed below HTTP: refused, reset, DNS, TLS, a body cut off mid-way. */
export class NetworkError extends MediaClientError {
  declare readonly kind: 'network';
  /** The system/undici code of the cause (ECONNRESET, ENOTFOUND...), when there is one. */
  readonly code: string | undefined;
  /** False only when the failure proves nothing reached the server (connection never opened). */
  readonly mayHaveReachedServer: boolean;

  constructor(message: string, options: { cause?: unknown; code?: string | undefined } = {}) {
    super('network', message, { cause: options.cause });
    this.name = 'NetworkError';
    this.code = options.code ?? causeCode(options.cause);
    this.mayHaveReachedServer = this.code === undefined || !NOT_SENT_CODES.has(this.code);
  }
}

/**
 * The call's `timeout` ran out. The timeout is a deadline for the whole call (token, every
 * try and the waits between them; for a download, the reading of the body too), so a
 * TimeoutError is never retried. An upload that timed out may have been stored.
 */
export class TimeoutError extends MediaClientError {
  declare readonly kind: 'timeout';
  /** The deadline that ran out, in milliseconds. */
  readonly timeoutMs: number;
  /** Always true: a request may have been sent before the deadline. */
  readonly mayHaveReachedServer = true;

  constructor(what: string, timeoutMs: number) {
    super('timeout', `${what} timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** The deepest `code` on an error's cause chain (fetch wraps the socket error in a TypeError). */
function causeCode(error: unknown): string | undefined {
  let code: string | undefined;
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') code = c;
  }
  return code;
}
