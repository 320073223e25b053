// One signal for one SDK call: the caller's `signal` and the call's `timeout` together. The
// timeout is a deadline for the whole call (the token, every try, the backoff waits between
// them, and for a download the reading of the body), not per try: a caller who says 5 s means
// the call is over in 5 s, however many retries fit. On the deadline the signal aborts with a
// TimeoutError, so every place that already honours an abort (fetch, the upload body's release,
// backoff sleeps, token waits) ends the call and releases what it holds. `end()` clears the
// timer and the listener on the caller's signal: nothing of a finished call stays behind.

import { TimeoutError } from './errors.ts';

export interface CallDeadline {
  /** Undefined when the call has neither a signal nor a timeout. */
  readonly signal: AbortSignal | undefined;
  /** The call is over: clear the timer and stop listening to the caller's signal. Idempotent. */
  end(): void;
}

/**
 * The deadline of a call in ms, from its own `timeout` (undefined: the client's default) as
 * given by a caller: milliseconds > 0, or Infinity for none. Undefined means no deadline.
 */
export function resolveTimeout(timeout: unknown, clientDefault: number | undefined, where: string): number | undefined {
  if (timeout === undefined) return clientDefault;
  if (timeout === Infinity) return undefined;
  if (typeof timeout !== 'number' || !(timeout > 0) || !Number.isFinite(timeout)) {
    throw new TypeError(`${where} must be a number of milliseconds > 0 (or Infinity for none), got ${String(timeout)}`);
  }
  return timeout;
}

export function callDeadline(what: string, signal: AbortSignal | undefined, timeoutMs: number | undefined): CallDeadline {
  if (timeoutMs === undefined) return { signal, end: () => undefined };
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal!.reason);
  const timer = setTimeout(() => controller.abort(new TimeoutError(what, timeoutMs)), timeoutMs);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    end() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** Runs `call` with the call's signal; the deadline ends when it settles. */
export async function withDeadline<T>(
  what: string,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  call: (signal: AbortSignal | undefined) => Promise<T>,
): Promise<T> {
  const deadline = callDeadline(what, signal, timeoutMs);
  try {
    return await call(deadline.signal);
  } finally {
    deadline.end();
  }
}
