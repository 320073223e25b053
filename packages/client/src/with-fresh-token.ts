// One call with a token, and one more with a fresh token if the server rejected it as
// unknown or expired (40014/42001; api.md "Notes": those codes are only answered when a new
// token fixes them). Not for any other errcode.

import { DingTalkError, isDingTalkError } from './errors.ts';
import type { TokenSource } from './token-source.ts';

export const TOKEN_REJECTED_ERRCODES: ReadonlySet<number> = new Set([40014, 42001]);

export interface FreshTokenOptions {
  signal?: AbortSignal | undefined;
  /**
   * Whether the request can be sent again. A stream already read by the first try cannot:
   * resending it would send an empty file (api.md "Notes": a popular SDK does exactly that).
   */
  canResend?: () => boolean;
}

export async function withFreshToken<T>(
  tokens: TokenSource,
  call: (token: string) => Promise<T>,
  options: FreshTokenOptions = {},
): Promise<T> {
  const token = await tokens.getToken(options.signal);
  try {
    return await call(token);
  } catch (error) {
    if (!(isDingTalkError(error)) || !TOKEN_REJECTED_ERRCODES.has(error.errcode)) throw error;
    tokens.invalidate(token);
    if (options.canResend && !options.canResend()) {
      throw new DingTalkError({
        errcode: error.errcode,
        errmsg: error.errmsg,
        requestId: error.requestId,
        httpStatus: error.httpStatus,
        body: error.body,
        note: 'not resent: the upload stream was already read and cannot be replayed; the next call gets a new token',
      });
    }
    return call(await tokens.getToken(options.signal));
  }
}
