// Access tokens of a third-party suite for one authorizing organization (issue 8):
// POST /service/get_corp_token?accessKey=&timestamp=&suiteTicket=&signature= with body
// {"auth_corpid"}, signed as DingTalk's SDKs sign it (docs/suites.md). Cached and refreshed
// like an app's token: lazily, a little before expires_in runs out, one fetch in flight.

import { throwIfAborted, waitFor } from './abortable-wait.ts';
import { readJsonAnswer } from './api-answer.ts';
import { apiUrl } from './api-url.ts';
import { DingTalkError, NetworkError } from './errors.ts';
import { isTransient, withRetries, type RetryOptions } from './retry-policy.ts';
import { sendRequest, type FetchFunction } from './send-request.ts';
import type { TokenSource } from './token-source.ts';

export interface SuiteCredentials {
  suiteKey: string;
  suiteSecret: string;
  /** The organization's corpid (`ding` + 32 hex) whose token this is. */
  authCorpId: string;
  /** A fixed ticket; or getSuiteTicket, asked before every token fetch (tickets rotate). */
  suiteTicket?: string;
  getSuiteTicket?: () => string | Promise<string>;
}

export interface SuiteTokenSourceOptions extends SuiteCredentials {
  baseUrl: string;
  fetch: FetchFunction;
  retry: RetryOptions;
  /** The clock, in epoch ms: the signed timestamp, and token expiry. */
  now?: () => number;
  timeoutMs?: number;
}

interface CachedToken {
  readonly token: string;
  readonly refreshAt: number;
  readonly expiresAt: number;
}

const DEFAULT_EXPIRES_IN_S = 7200;
const REFRESH_MARGIN_MS = 5 * 60 * 1000;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * DingTalk's signature: Base64(HMAC-SHA256(key = suiteSecret, timestamp + "\n" + suiteTicket)),
 * not yet URL-encoded. Web Crypto, so the SDK needs no dependency (Node 20, browsers).
 */
export async function suiteSignature(suiteSecret: string, timestamp: string, suiteTicket: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await globalThis.crypto.subtle.importKey('raw', encoder.encode(suiteSecret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, encoder.encode(`${timestamp}\n${suiteTicket}`)));
  return btoa(String.fromCharCode(...mac));
}

/** Throws a TypeError naming what is missing from suite credentials. */
export function checkSuiteCredentials(credentials: Partial<SuiteCredentials>): void {
  for (const name of ['suiteKey', 'suiteSecret', 'authCorpId'] as const) {
    if (typeof credentials[name] !== 'string' || credentials[name] === '') throw new TypeError(`suite credentials need ${name}`);
  }
  const hasTicket = typeof credentials.suiteTicket === 'string' && credentials.suiteTicket !== '';
  if (hasTicket === (typeof credentials.getSuiteTicket === 'function')) {
    throw new TypeError('suite credentials need exactly one of suiteTicket and getSuiteTicket');
  }
}

export class SuiteTokenSource implements TokenSource {
  readonly #options: SuiteTokenSourceOptions;
  readonly #now: () => number;
  #cached: CachedToken | undefined;
  #refreshing: Promise<string> | undefined;

  constructor(options: SuiteTokenSourceOptions) {
    checkSuiteCredentials(options);
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async getToken(signal?: AbortSignal): Promise<string> {
    throwIfAborted(signal);
    const cached = this.#cached;
    if (cached && this.#now() < cached.refreshAt) return cached.token;
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
      // Each try signs anew: a fresh timestamp, and the ticket as it is now.
      this.#cached = await withRetries(() => this.#fetchToken(), isTransient, this.#options.retry);
      return this.#cached.token;
    } catch (error) {
      if (previous && previous === this.#cached && this.#now() < previous.expiresAt) return previous.token;
      throw error;
    }
  }

  async #fetchToken(): Promise<CachedToken> {
    const { baseUrl, suiteKey, suiteSecret, authCorpId, fetch } = this.#options;
    const suiteTicket = this.#options.suiteTicket ?? (await this.#options.getSuiteTicket!());
    const timestamp = String(this.#now());
    const signature = await suiteSignature(suiteSecret, timestamp, suiteTicket);
    // apiUrl encodes every value: the signature's + / = become %2B %2F %3D, as DingTalk expects.
    const url = apiUrl(baseUrl, '/service/get_corp_token', { accessKey: suiteKey, timestamp, suiteTicket, signature });
    const timeout = AbortSignal.timeout(this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const sentAt = this.#now();
    let body;
    try {
      const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth_corpid: authCorpId }) };
      const response = await sendRequest(fetch, url, init, timeout);
      body = await readJsonAnswer(response, timeout);
    } catch (error) {
      if (timeout.aborted && error === timeout.reason) {
        throw new NetworkError('POST /service/get_corp_token timed out', { cause: error, code: 'ETIMEDOUT' });
      }
      throw error;
    }
    if (typeof body.access_token !== 'string' || body.access_token === '') {
      throw new DingTalkError({ errcode: -1, errmsg: 'no access_token in the get_corp_token answer', httpStatus: 200, body });
    }
    const expiresInMs = (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_EXPIRES_IN_S) * 1000;
    const expiresAt = sentAt + expiresInMs;
    return { token: body.access_token, expiresAt, refreshAt: expiresAt - Math.min(REFRESH_MARGIN_MS, expiresInMs / 10) };
  }
}
