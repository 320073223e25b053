// fetch, with its failures sorted: an abort rejects with the signal's reason, an error the
// SDK itself raised inside a request body (a local check while streaming) is passed through,
// anything else below HTTP becomes a NetworkError. Messages never carry the URL: its query
// holds the access_token or the app secret.

import { isMediaClientError, NetworkError, type MediaClientError } from './errors.ts';

export type FetchFunction = typeof globalThis.fetch;

export async function sendRequest(
  fetchFunction: FetchFunction,
  url: URL,
  init: RequestInit,
  signal: AbortSignal | undefined,
): Promise<Response> {
  try {
    return await fetchFunction(url, signal ? { ...init, signal } : init);
  } catch (error) {
    throw sortFailure(error, signal, `${init.method ?? 'GET'} ${url.pathname}`);
  }
}

/** Failures while reading an answer's body are sorted the same way. */
export function sortFailure(error: unknown, signal: AbortSignal | undefined, what: string): unknown {
  if (signal?.aborted) return signal.reason;
  const own = sdkErrorIn(error);
  if (own) return own;
  const reason = error instanceof Error ? error.message : String(error);
  return new NetworkError(`${what} failed: ${reason}${describeCause(error)}`, { cause: error });
}

function sdkErrorIn(error: unknown): MediaClientError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (isMediaClientError(e)) return e;
  }
  return undefined;
}

function describeCause(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (!(cause instanceof Error)) return '';
  const code = (cause as { code?: unknown }).code;
  return typeof code === 'string' ? ` (${code})` : ` (${cause.message})`;
}
