// Retries with exponential backoff and jitter, only for failures that a later try can fix:
// -1 (system busy), 45009 (rate limit) and network errors (issue 4). Everything else
// (bad token aside, see with-fresh-token.ts) is the caller's to fix, so it is thrown at once.

import { sleep } from './abortable-wait.ts';
import { isDingTalkError, isNetworkError } from './errors.ts';

export interface RetryOptions {
  /** Further tries after the first; 0 turns retries off. */
  readonly limit: number;
  /** Delay before the first retry; doubled for each one after it. */
  readonly baseDelayMs: number;
  /** No single wait is longer than this. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = Object.freeze({ limit: 2, baseDelayMs: 200, maxDelayMs: 5_000 });

/** api.md "Error codes": -1 is a server fault and 45009 a rate limit; both may pass on a later try. */
export const TRANSIENT_ERRCODES: ReadonlySet<number> = new Set([-1, 45009]);

export function isTransient(error: unknown): boolean {
  if (isNetworkError(error)) return true;
  return isDingTalkError(error) && !error.local && TRANSIENT_ERRCODES.has(error.errcode);
}

/** The wait before retry number `retry` (0-based): half of the doubled delay fixed, half random. */
export function backoffDelay(retry: number, options: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** retry);
  return ceiling / 2 + random() * (ceiling / 2);
}

export function resolveRetryOptions(retries: number | Partial<RetryOptions> | undefined): RetryOptions {
  if (retries === undefined) return DEFAULT_RETRY;
  const given = typeof retries === 'number' ? { limit: retries } : retries;
  const resolved = { ...DEFAULT_RETRY, ...given };
  if (!Number.isInteger(resolved.limit) || resolved.limit < 0) throw new TypeError('retries must be an integer >= 0');
  return Object.freeze(resolved);
}

/** Runs `attempt` until it succeeds, `shouldRetry` says no, or the retries are used up. */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  shouldRetry: (error: unknown) => boolean,
  options: RetryOptions,
  signal?: AbortSignal,
): Promise<T> {
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (signal?.aborted || retry >= options.limit || !shouldRetry(error)) throw error;
      await sleep(backoffDelay(retry, options), signal);
    }
  }
}
