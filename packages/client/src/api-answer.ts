// Reading DingTalk's answers. API errors come as HTTP 200 with a non-zero errcode
// (api.md "Conventions"), so the errcode decides, not the status. A status that is not
// 200 with no JSON errcode (a proxy's 502 page, say) still becomes a DingTalkError: a
// 5xx as -1 (system busy, worth a retry), anything else with the HTTP status as errcode,
// as the service itself does for an unknown path (404).

import { DingTalkError } from './errors.ts';
import { sortFailure } from './send-request.ts';

export type JsonAnswer = Readonly<Record<string, unknown>> & { readonly errcode: number; readonly errmsg: string };

export function isJsonResponse(response: Response): boolean {
  return /^application\/json\b/i.test(response.headers.get('content-type') ?? '');
}

/** The body of a successful answer, or the DingTalkError it stands for. */
export async function readJsonAnswer(response: Response, signal: AbortSignal | undefined): Promise<JsonAnswer> {
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw sortFailure(error, signal, 'reading the answer');
  }
  const body = parseObject(text);
  if (body === undefined || typeof body.errcode !== 'number') throw errorWithoutErrcode(response);
  if (body.errcode !== 0) throw dingTalkErrorOf(response, body);
  return body as JsonAnswer;
}

export function dingTalkErrorOf(response: Response, body: Record<string, unknown>): DingTalkError {
  const bodyRequestId = typeof body.request_id === 'string' ? body.request_id : undefined;
  return new DingTalkError({
    errcode: body.errcode as number,
    errmsg: typeof body.errmsg === 'string' ? body.errmsg : '',
    requestId: response.headers.get('x-request-id') ?? bodyRequestId,
    httpStatus: response.status,
    body,
  });
}

export function errorWithoutErrcode(response: Response): DingTalkError {
  const serverFault = response.status >= 500 || response.ok;
  return new DingTalkError({
    errcode: serverFault ? -1 : response.status,
    errmsg: `HTTP ${response.status} ${response.statusText}`.trim(),
    requestId: response.headers.get('x-request-id') ?? undefined,
    httpStatus: response.status,
    note: 'the answer carried no errcode',
  });
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
