// Brute force of credentials (issue 5, redesigned in issue 14). Failures are counted per window of
// OAPI_MEDIA_AUTH_FAILURE_WINDOW_MS, and past OAPI_MEDIA_AUTH_FAILURE_LIMIT the guessing stops
// paying off — without locking out callers who present valid credentials:
//
// - Credentials (appkey + appsecret, suite key + signature) are locked per client address *and* the
//   key being guessed: failures on one app never refuse another app behind the same address (NAT,
//   a balancer without OAPI_MEDIA_TRUST_PROXY). While locked, that key from that address gets the
//   lockout answer, right secret included (else the lockout would tell a guesser when it hit).
// - Tokens are checked first and a valid token is always admitted. Unknown tokens are counted per
//   address; past the limit that address's unknown tokens get the lockout answer instead of "invalid".
//
// The lockout has its own error kind (`authLockedOut`): its own text and metric, apart from an app's
// request rate (`rateLimited`).

import { ApiError, type ErrorKind } from '@oapi-media/core';
import type { RateLimiter } from './rate-limit.ts';

/** What a guessing client gets from a credential check: a wrong secret, a wrong suite key or signature. */
const CREDENTIAL_GUESSES: ReadonlySet<ErrorKind> = new Set(['wrongCredentials', 'unknownSuite', 'wrongSignature']);

export class AuthThrottle {
  readonly #limiter: RateLimiter;
  readonly #maxFailures: number;
  readonly #windowMs: number;

  /** `maxFailures` 0 turns the throttle off. */
  constructor(limiter: RateLimiter, maxFailures: number, windowMs: number) {
    this.#limiter = limiter;
    this.#maxFailures = maxFailures;
    this.#windowMs = windowMs;
  }

  /**
   * Runs a credential check of `key` (an appkey, a suite key) for `clientIp`: refused while that
   * pair is locked out, counted when it fails as a guess.
   */
  async guardCredentials<T>(clientIp: string, key: string, check: () => Promise<T>): Promise<T> {
    if (this.#maxFailures <= 0) return check();
    const counter = credentialKey(clientIp, key);
    if ((await this.#limiter.peek(counter)) >= this.#maxFailures) {
      throw new ApiError('authLockedOut', `${clientIp}: over ${this.#maxFailures} failed checks of ${key}`);
    }
    try {
      return await check();
    } catch (error) {
      if (error instanceof ApiError && CREDENTIAL_GUESSES.has(error.kind)) await this.#limiter.count(counter, this.#windowMs);
      throw error;
    }
  }

  /** Runs a token check for `clientIp`: a valid token always passes; unknown ones are counted, then locked out. */
  async guardToken<T>(clientIp: string, check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (error) {
      if (this.#maxFailures <= 0 || !(error instanceof ApiError) || error.kind !== 'invalidToken') throw error;
      const failures = await this.#limiter.count(tokenKey(clientIp), this.#windowMs);
      if (failures <= this.#maxFailures) throw error;
      throw new ApiError('authLockedOut', `${clientIp}: over ${this.#maxFailures} unknown tokens`);
    }
  }
}

const credentialKey = (clientIp: string, key: string): string => `auth-failures/${clientIp}/${key}`;
const tokenKey = (clientIp: string): string => `token-failures/${clientIp}`;
