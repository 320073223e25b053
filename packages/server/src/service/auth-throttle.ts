// Brute force of credentials (issue 5): failed /gettoken attempts and calls with an unknown access
// token are counted per client IP; past the limit within the window, every credential check from
// that IP answers 45009 (api.md "Error codes") until the window passes, right credentials included.

import { ApiError, type ErrorKind } from '@oapi-media/core';
import type { RateLimiter } from './rate-limit.ts';

/** What a guessing client gets: a wrong appkey/appsecret pair, a token that was never issued, a wrong suite key or signature. */
const GUESS_FAILURES: ReadonlySet<ErrorKind> = new Set(['wrongCredentials', 'invalidToken', 'unknownSuite', 'wrongSignature']);

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

  /** 45009 while `clientIp` has used up its failures of the current window. */
  async admit(clientIp: string): Promise<void> {
    if (this.#maxFailures <= 0) return;
    if ((await this.#limiter.peek(keyOf(clientIp))) >= this.#maxFailures) {
      throw new ApiError('rateLimited', `${clientIp}: over ${this.#maxFailures} failed credential checks`);
    }
  }

  async recordFailure(clientIp: string): Promise<void> {
    if (this.#maxFailures <= 0) return;
    await this.#limiter.count(keyOf(clientIp), this.#windowMs);
  }

  /** Runs a credential check for `clientIp`: refused while throttled, counted when it fails as a guess. */
  async guard<T>(clientIp: string, check: () => Promise<T>): Promise<T> {
    await this.admit(clientIp);
    try {
      return await check();
    } catch (error) {
      if (error instanceof ApiError && GUESS_FAILURES.has(error.kind)) await this.recordFailure(clientIp);
      throw error;
    }
  }
}

const keyOf = (clientIp: string): string => `auth-failures/${clientIp}`;
