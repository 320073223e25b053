// What every token source shares, whatever call hands out its tokens (/gettoken for an app,
// /service/get_corp_token for a suite): fetched lazily, cached, refreshed a little before
// expires_in runs out, and only one fetch in flight however many calls need a token at once.
// A source only says how to build its request (tokenRequest); the answer is read here.

import { waitFor, throwIfAborted } from './abortable-wait.ts';
import { readJsonAnswer } from './api-answer.ts';
import { DingTalkError, NetworkError } from './errors.ts';
import { isTransient, withRetries, type RetryOptions } from './retry-policy.ts';
import { sendRequest, type FetchFunction } from './send-request.ts';
import type { TokenSource } from './token-source.ts';

export interface CachingTokenSourceOptions {
  fetch: FetchFunction;
  retry: RetryOptions;
  /** The clock, in epoch ms; tests move it. */
  now?: () => number;
  /** How long one token fetch may take before it counts as a network failure. */
  timeoutMs?: number;
}

/** One token fetch, built anew for every try (a suite signs each with a fresh timestamp). */
export interface TokenRequest {
  url: URL;
  init: RequestInit;
  /** The call in error messages, e.g. 'GET /gettoken' (never the URL: it holds secrets). */
  name: string;
  /** The call in the "no access_token in the … answer" message, e.g. '/gettoken'. */
  answerName: string;
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

export class CachingTokenSource implements TokenSource {
  readonly #options: CachingTokenSourceOptions;
  readonly #tokenRequest: () => Promise<TokenRequest>;
  readonly #now: () => number;
  #cached: CachedToken | undefined;
  #refreshing: Promise<string> | undefined;

  constructor(options: CachingTokenSourceOptions, tokenRequest: () => Promise<TokenRequest>) {
    this.#options = options;
    this.#tokenRequest = tokenRequest;
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
    const { url, init, name, answerName } = await this.#tokenRequest();
    const timeout = AbortSignal.timeout(this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const sentAt = this.#now();
    let body;
    try {
      const response = await sendRequest(this.#options.fetch, url, init, timeout);
      body = await readJsonAnswer(response, timeout);
    } catch (error) {
      if (timeout.aborted && error === timeout.reason) {
        throw new NetworkError(`${name} timed out`, { cause: error, code: 'ETIMEDOUT' });
      }
      throw error;
    }
    if (typeof body.access_token !== 'string' || body.access_token === '') {
      throw new DingTalkError({ errcode: -1, errmsg: `no access_token in the ${answerName} answer`, httpStatus: 200, body });
    }
    const expiresInMs = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_EXPIRES_IN_S) * 1000;
    const expiresAt = sentAt + expiresInMs;
    return { token: body.access_token, expiresAt, refreshAt: expiresAt - Math.min(REFRESH_MARGIN_MS, expiresInMs / 10) };
  }
}
