// Access tokens of an internal app: GET /gettoken?appkey=&appsecret= (api.md).
// Fetched lazily, cached, refreshed a little before expires_in runs out, and only one
// /gettoken in flight however many calls need a token at once.

import { waitFor, throwIfAborted } from './abortable-wait.ts';
import { readJsonAnswer } from './api-answer.ts';
import { DingTalkError, NetworkError } from './errors.ts';
import { isTransient, withRetries, type RetryOptions } from './retry-policy.ts';
import { sendRequest, type FetchFunction } from './send-request.ts';
import type { TokenSource } from './token-source.ts';
import { apiUrl } from './api-url.ts';

export interface AppTokenSourceOptions {
  baseUrl: string;
  appKey: string;
  appSecret: string;
  fetch: FetchFunction;
  retry: RetryOptions;
  /** The clock, in epoch ms; tests move it. */
  now?: () => number;
  /** How long one /gettoken may take before it counts as a network failure. */
  timeoutMs?: number;
}

interface CachedToken {
  readonly token: string;
  /** After this, a call fetches a new token first (the server's answer is still valid). */
  readonly refreshAt: number;
  /** After this, the token must not be used. */
  readonly expiresAt: number;
}

/** DingTalk's documented validity, used if an answer leaves expires_in out. */
const DEFAULT_EXPIRES_IN_S = 7200;
/** Refresh this long before expiry (at most a tenth of the validity for short-lived tokens). */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;
const DEFAULT_TIMEOUT_MS = 30_000;

export class AppTokenSource implements TokenSource {
  readonly #options: AppTokenSourceOptions;
  readonly #now: () => number;
  #cached: CachedToken | undefined;
  #refreshing: Promise<string> | undefined;

  constructor(options: AppTokenSourceOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async getToken(signal?: AbortSignal): Promise<string> {
    throwIfAborted(signal);
    const cached = this.#cached;
    if (cached && this.#now() < cached.refreshAt) return cached.token;
    // Shared by every caller: one caller's abort ends its own wait, not the refresh.
    this.#refreshing ??= this.#refresh(cached).finally(() => {
      this.#refreshing = undefined;
    });
    return waitFor(this.#refreshing, signal);
  }

  invalidate(token: string): void {
    if (this.#cached?.token === token) this.#cached = undefined;
  }

  async #refresh(previous: CachedToken | undefined): Promise<string> {
    try {
      const fresh = await withRetries(() => this.#fetchToken(), isTransient, this.#options.retry);
      // A token invalidated while this refresh was in flight is replaced all the same.
      this.#cached = fresh;
      return fresh.token;
    } catch (error) {
      // Within its margin the old token still works: better than failing the call.
      if (previous && previous === this.#cached && this.#now() < previous.expiresAt) return previous.token;
      throw error;
    }
  }

  async #fetchToken(): Promise<CachedToken> {
    const { baseUrl, appKey, appSecret, fetch } = this.#options;
    const url = apiUrl(baseUrl, '/gettoken', { appkey: appKey, appsecret: appSecret });
    const timeout = AbortSignal.timeout(this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const sentAt = this.#now();
    let body;
    try {
      const response = await sendRequest(fetch, url, { method: 'GET' }, timeout);
      body = await readJsonAnswer(response, timeout);
    } catch (error) {
      if (timeout.aborted && error === timeout.reason) {
        throw new NetworkError('GET /gettoken timed out', { cause: error, code: 'ETIMEDOUT' });
      }
      throw error;
    }
    if (typeof body.access_token !== 'string' || body.access_token === '') {
      throw new DingTalkError({ errcode: -1, errmsg: 'no access_token in the /gettoken answer', httpStatus: 200, body });
    }
    const expiresInMs = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_EXPIRES_IN_S) * 1000;
    const expiresAt = sentAt + expiresInMs;
    return { token: body.access_token, expiresAt, refreshAt: expiresAt - Math.min(REFRESH_MARGIN_MS, expiresInMs / 10) };
  }
}
