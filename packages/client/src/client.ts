// createClient: the one entry point. The same client talks to oapi-media and to DingTalk
// itself (issue 4); only baseUrl differs.

import { AppTokenSource } from './app-token-source.ts';
import type { ClientContext } from './client-context.ts';
import { downloadMedia, type DownloadOptions } from './media-download.ts';
import { uploadMedia, type UploadOptions, type UploadResult } from './media-upload.ts';
import type { DownloadedMedia } from './downloaded-media.ts';
import { resolveRetryOptions, type RetryOptions } from './retry-policy.ts';
import type { FetchFunction } from './send-request.ts';
import { SuiteTokenSource, type SuiteCredentials } from './suite-token-source.ts';
import type { TokenSource } from './token-source.ts';
import type { UploadInput } from './upload-input.ts';
import { waitFor } from './abortable-wait.ts';
import { resolveTimeout, withDeadline } from './call-deadline.ts';

export const DINGTALK_BASE_URL = 'https://oapi.dingtalk.com';

/** An internal app's credentials (GET /gettoken). */
export interface AppCredentials {
  appKey: string;
  appSecret: string;
}

/**
 * Either an internal app's appKey/appSecret, or a third-party suite's suiteKey/suiteSecret with
 * suiteTicket (or getSuiteTicket) and the authorizing org's authCorpId (issue 8, docs/suites.md).
 */
export type ClientOptions = ClientSettings & (AppCredentials | SuiteCredentials);

export interface ClientSettings {
  /** Defaults to DingTalk itself; point it at an oapi-media server to use that instead. */
  baseUrl?: string;
  /** A fetch to use instead of the global one (a proxy agent, a test's counter). */
  fetch?: FetchFunction;
  /** Retries of transient failures: a count, or the full policy. Default 2, from 200 ms doubling. */
  retries?: number | Partial<RetryOptions>;
  /** Check type, size and extension before sending (default true). */
  localChecks?: boolean;
  /** Resend an upload after -1 or a network error, at the risk of storing it twice (default false). */
  retryUploads?: boolean;
  /** The clock for token expiry, in epoch ms (default Date.now); for tests. */
  now?: () => number;
  /**
   * The default `timeout` of every call, in ms (none by default): a deadline for the whole call,
   * retries included. A call's own `timeout` overrides it.
   */
  timeout?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Milliseconds for the whole call; overrides the client's `timeout`; Infinity for none. */
  timeout?: number;
}

export interface MediaApi {
  upload(input: UploadInput, options: UploadOptions): Promise<UploadResult>;
  download(mediaId: string, options?: DownloadOptions): Promise<DownloadedMedia>;
}

export interface Client {
  readonly baseUrl: string;
  readonly media: MediaApi;
  /** The current access_token, fetched or refreshed if needed (the same one calls use). */
  getAccessToken(options?: CallOptions): Promise<string>;
}

export function createClient(options: ClientOptions): Client {
  if (!options) throw new TypeError('createClient needs appKey and appSecret, or suite credentials');
  const baseUrl = checkBaseUrl(options.baseUrl ?? DINGTALK_BASE_URL);
  const timeoutMs = resolveTimeout(options.timeout, undefined, 'createClient timeout');
  const fetchFunction = options.fetch ?? globalThis.fetch;
  const retry = resolveRetryOptions(options.retries);
  const tokens: TokenSource = 'suiteKey' in options && options.suiteKey !== undefined
    ? new SuiteTokenSource({ ...options, baseUrl, fetch: fetchFunction, retry, now: options.now })
    : appTokenSource(options as ClientSettings & AppCredentials, { baseUrl, fetch: fetchFunction, retry });
  return clientWith(tokens, {
    baseUrl, fetch: fetchFunction, retry, localChecks: options.localChecks ?? true, retryUploads: options.retryUploads ?? false, timeoutMs,
  });
}

function appTokenSource(
  options: ClientSettings & AppCredentials,
  shared: { baseUrl: string; fetch: FetchFunction; retry: RetryOptions },
): AppTokenSource {
  if (typeof options.appKey !== 'string' || options.appKey === '') throw new TypeError('createClient needs appKey');
  if (typeof options.appSecret !== 'string' || options.appSecret === '') throw new TypeError('createClient needs appSecret');
  return new AppTokenSource({ ...shared, appKey: options.appKey, appSecret: options.appSecret, now: options.now });
}

/** A client on any token source (createClient picks an app's or a suite's). */
export function clientWith(tokens: TokenSource, settings: Omit<ClientContext, 'tokens'>): Client {
  const context: ClientContext = { ...settings, tokens };
  return {
    baseUrl: context.baseUrl,
    media: {
      upload: (input, uploadOptions) => uploadMedia(context, input, uploadOptions),
      download: (mediaId, downloadOptions) => downloadMedia(context, mediaId, downloadOptions),
    },
    getAccessToken: async ({ signal, timeout } = {}) => withDeadline(
      'getting an access_token', signal, resolveTimeout(timeout, context.timeoutMs, 'getAccessToken timeout'),
      (callSignal) => waitFor(tokens.getToken(callSignal), callSignal),
    ),
  };
}

/** Fails now on a base URL that could never work, not at the first call, saying what would. */
function checkBaseUrl(baseUrl: unknown): string {
  const example = `e.g. ${DINGTALK_BASE_URL} or http://127.0.0.1:8080`;
  if (typeof baseUrl !== 'string' || !URL.canParse(baseUrl)) {
    throw new TypeError(`baseUrl must be an absolute http(s) URL (${example}), got ${JSON.stringify(baseUrl)}`);
  }
  const { protocol } = new URL(baseUrl);
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new TypeError(`baseUrl must be an http or https URL (${example}), got ${JSON.stringify(baseUrl)}`);
  }
  return baseUrl;
}
