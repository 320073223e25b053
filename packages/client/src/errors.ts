// The two failures a caller sees: DingTalk answered with a non-zero errcode (DingTalkError),
// or no answer came at all (NetworkError). An abort rejects with the signal's own reason.

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
export class DingTalkError extends Error {
  readonly errcode: number;
  readonly errmsg: string;
  readonly requestId: string | undefined;
  readonly httpStatus: number | undefined;
  readonly body: Readonly<Record<string, unknown>> | undefined;
  /** True when the SDK refused the call before sending it (localChecks). */
  readonly local: boolean;

  constructor(init: DingTalkErrorInit) {
    const where = init.requestId ? ` [request ${init.requestId}]` : '';
    const note = init.note ? ` (${init.note})` : '';
    super(`${init.errcode} ${init.errmsg}${where}${note}`);
    this.name = 'DingTalkError';
    this.errcode = init.errcode;
    this.errmsg = init.errmsg;
    this.requestId = init.requestId;
    this.httpStatus = init.httpStatus;
    this.body = init.body;
    this.local = init.httpStatus === undefined;
  }
}

/** Connection codes that prove the request never left this machine, so resending is safe. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT',
]);

/** The request failed below HTTP: refused, reset, DNS, TLS, a body cut off mid-way. */
export class NetworkError extends Error {
  /** The system/undici code of the cause (ECONNRESET, ENOTFOUND...), when there is one. */
  readonly code: string | undefined;
  /** False only when the failure proves nothing reached the server (connection never opened). */
  readonly mayHaveReachedServer: boolean;

  constructor(message: string, options: { cause?: unknown; code?: string | undefined } = {}) {
    super(message, { cause: options.cause });
    this.name = 'NetworkError';
    this.code = options.code ?? causeCode(options.cause);
    this.mayHaveReachedServer = this.code === undefined || !NOT_SENT_CODES.has(this.code);
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
