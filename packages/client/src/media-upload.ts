// POST /media/upload?access_token=&type= with the file in the multipart part `media`
// (api.md "POST /media/upload"). The body is streamed, with Content-Length when the size is known.

import { EXTENSION_FORMATS, FORMAT_CONTENT_TYPES, extensionOf, isMediaType, type MediaType } from '@oapi-media/core';
import { throwIfAborted } from './abortable-wait.ts';
import { resolveTimeout, withDeadline } from './call-deadline.ts';
import { readJsonAnswer, type JsonAnswer } from './api-answer.ts';
import { apiUrl } from './api-url.ts';
import type { ClientContext } from './client-context.ts';
import { DingTalkError, isDingTalkError, isNetworkError } from './errors.ts';
import { checkUploadLocally } from './local-checks.ts';
import { meteredStream } from './metered-stream.ts';
import { multipartBody } from './multipart-body.ts';
import { withRetries } from './retry-policy.ts';
import { sendRequest } from './send-request.ts';
import { toUploadSource, type UploadInput, type UploadSource } from './upload-input.ts';
import { withFreshToken } from './with-fresh-token.ts';

export interface UploadProgress {
  /** File bytes handed to the connection so far (this try; a resent upload starts again at 0). */
  readonly loaded: number;
  /** The file's size, when known. */
  readonly total: number | undefined;
}

export interface UploadOptions {
  /** image | voice | video | file (api.md "POST /media/upload"). */
  type: MediaType;
  /** Required for bytes and streams that carry no name: the server checks the extension. */
  filename?: string;
  /** The size of a stream input, if known: sent as Content-Length instead of chunked. */
  size?: number;
  /** Aborts the call: it rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Milliseconds for the whole call (token, every try, backoff waits); overrides the client's
   * `timeout`; Infinity for none. On expiry the call rejects with a TimeoutError.
   */
  timeout?: number;
  onProgress?: (progress: UploadProgress) => void;
  /** Overrides the client's `retryUploads` for this call. */
  retryUploads?: boolean;
}

export interface UploadResult {
  mediaId: string;
  type: MediaType;
  /** From `created_at` (epoch ms). */
  createdAt: Date;
  /** The JSON answer as received. */
  raw: Readonly<Record<string, unknown>>;
}

export async function uploadMedia(context: ClientContext, input: UploadInput, options: UploadOptions): Promise<UploadResult> {
  throwIfAborted(options.signal);
  if (options.type === undefined) throw new TypeError('upload needs options.type (image, voice, video or file)');
  const timeoutMs = resolveTimeout(options.timeout, context.timeoutMs, 'upload options.timeout');
  const source = await toUploadSource(input, options.size);
  try {
    return await withDeadline('POST /media/upload', options.signal, timeoutMs, (signal) => uploadFrom(context, source, options, signal));
  } catch (error) {
    // A stream input is the SDK's once handed over: read to its end, or destroyed, never left
    // open (a file's descriptor, stdin) after a failure, even one before it was opened.
    await source.discard();
    throw error;
  }
}

async function uploadFrom(context: ClientContext, source: UploadSource, options: UploadOptions, signal: AbortSignal | undefined): Promise<UploadResult> {
  const filename = options.filename ?? source.filename;
  if (!filename) throw new TypeError('upload of bytes or a stream needs options.filename: the server checks its extension');
  const type = String(options.type);
  const maxBytes = context.localChecks ? checkUploadLocally({ type, filename, size: source.size }) : undefined;

  const sendOnce = async (token: string): Promise<JsonAnswer> => {
    const meter = { maxBytes: source.size === undefined ? maxBytes : undefined, onBytes: progressReporter(options, source) };
    const body = multipartBody({
      fieldName: 'media',
      filename,
      contentType: contentTypeOf(filename),
      size: source.size,
      content: meteredStream(source.open(), meter),
    });
    const headers: Record<string, string> = { 'content-type': body.contentType };
    if (body.contentLength !== undefined) headers['content-length'] = String(body.contentLength);
    const url = apiUrl(context.baseUrl, '/media/upload', { access_token: token, type });
    const init = { method: 'POST', headers, body: body.stream, duplex: 'half' } as RequestInit;
    try {
      return await readJsonAnswer(await sendRequest(context.fetch, url, init, signal), signal);
    } finally {
      // After an answer the file was read to its end (or the server answered early and the
      // rest is not wanted); after a failure or an abort this destroys the source stream.
      await body.release();
    }
  };

  const retryUploads = options.retryUploads ?? context.retryUploads;
  const answer = await withRetries(
    () => withFreshToken(context.tokens, sendOnce, { signal, canResend: () => source.replayable }),
    (error) => mayResendUpload(error, source, retryUploads),
    context.retry,
    signal,
  );
  return toUploadResult(answer, type);
}

/**
 * An upload is not idempotent: a resend after the server may have stored it could store it
 * twice. So it is resent only when that cannot happen (a 45009 refusal, a connection that
 * never opened), or when the caller opted in; and never when the input was a stream.
 */
function mayResendUpload(error: unknown, source: UploadSource, retryUploads: boolean): boolean {
  if (!source.replayable) return false;
  if (isDingTalkError(error)) {
    if (error.local) return false;
    if (error.errcode === 45009) return true;
    return error.errcode === -1 && retryUploads;
  }
  if (isNetworkError(error)) return !error.mayHaveReachedServer || retryUploads;
  return false;
}

function progressReporter(options: UploadOptions, source: UploadSource): ((loaded: number) => void) | undefined {
  const { onProgress } = options;
  if (!onProgress) return undefined;
  onProgress({ loaded: 0, total: source.size });
  return (loaded) => onProgress({ loaded, total: source.size });
}

function contentTypeOf(filename: string): string {
  const format = EXTENSION_FORMATS[extensionOf(filename)];
  return format ? FORMAT_CONTENT_TYPES[format] : 'application/octet-stream';
}

function toUploadResult(answer: JsonAnswer, requestedType: string): UploadResult {
  if (typeof answer.media_id !== 'string' || answer.media_id === '') {
    throw new DingTalkError({ errcode: -1, errmsg: 'no media_id in the upload answer', httpStatus: 200, body: answer });
  }
  const type = typeof answer.type === 'string' && isMediaType(answer.type) ? answer.type : requestedType;
  const createdAt = typeof answer.created_at === 'number' ? new Date(answer.created_at) : new Date();
  return { mediaId: answer.media_id, type: type as MediaType, createdAt, raw: answer };
}
