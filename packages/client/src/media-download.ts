// GET /media/downloadFile?access_token=&media_id= (api.md "GET /media/downloadFile"). The bytes come back as the
// body; an error comes back as the usual JSON (Content-Type application/json), HTTP 200.

import { throwIfAborted } from './abortable-wait.ts';
import { callDeadline, resolveTimeout } from './call-deadline.ts';
import { dingTalkErrorOf, errorWithoutErrcode, isJsonResponse, readJsonAnswer } from './api-answer.ts';
import { apiUrl } from './api-url.ts';
import type { ClientContext } from './client-context.ts';
import { DownloadedMedia } from './downloaded-media.ts';
import { isTransient, withRetries } from './retry-policy.ts';
import { sendRequest } from './send-request.ts';
import { withFreshToken } from './with-fresh-token.ts';

/** Bytes `start` to `end`, both inclusive as in HTTP; no `end` means to the last byte. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface DownloadOptions {
  /** Part of the file only: the answer is then 206 with those bytes. */
  range?: ByteRange;
  /** Covers the request and the reading of the body. */
  signal?: AbortSignal;
  /**
   * Milliseconds for the whole call, the reading of the body included (as `signal`); overrides
   * the client's `timeout`; Infinity for none. On expiry the call, or the body read, rejects
   * with a TimeoutError.
   */
  timeout?: number;
}

export async function downloadMedia(context: ClientContext, mediaId: string, options: DownloadOptions = {}): Promise<DownloadedMedia> {
  throwIfAborted(options.signal);
  if (typeof mediaId !== 'string' || mediaId === '') throw new TypeError('download needs a media_id');
  const timeoutMs = resolveTimeout(options.timeout, context.timeoutMs, 'download options.timeout');
  const headers: Record<string, string> = {};
  if (options.range) headers.range = rangeHeader(options.range);
  // Not ended when the headers are in: the deadline goes on over the body, and ends with it.
  const deadline = callDeadline('GET /media/downloadFile', options.signal, timeoutMs);
  const { signal } = deadline;

  const sendOnce = async (token: string): Promise<DownloadedMedia> => {
    const url = apiUrl(context.baseUrl, '/media/downloadFile', { access_token: token, media_id: mediaId });
    const response = await sendRequest(context.fetch, url, { method: 'GET', headers }, signal);
    if (isJsonResponse(response)) {
      const answer = await readJsonAnswer(response, signal); // throws the DingTalkError it carries
      throw dingTalkErrorOf(response, { ...answer, errcode: -1, errmsg: 'a JSON answer with errcode 0 instead of the file' });
    }
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel();
      throw errorWithoutErrcode(response);
    }
    return new DownloadedMedia(response, signal, deadline.end);
  };

  try {
    // A download changes nothing on the server, so every transient failure may be retried.
    return await withRetries(() => withFreshToken(context.tokens, sendOnce, { signal }), isTransient, context.retry, signal);
  } catch (error) {
    deadline.end();
    throw error;
  }
}

function rangeHeader(range: ByteRange): string {
  const { start, end } = range;
  const valid = Number.isSafeInteger(start) && start >= 0 && (end === undefined || (Number.isSafeInteger(end) && end >= start));
  if (!valid) throw new TypeError('range needs integers 0 <= start <= end');
  return `bytes=${start}-${end ?? ''}`;
}
