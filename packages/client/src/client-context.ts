// What every call of a client shares: where to send, how, and with which token source.

import type { RetryOptions } from './retry-policy.ts';
import type { FetchFunction } from './send-request.ts';
import type { TokenSource } from './token-source.ts';

export interface ClientContext {
  readonly baseUrl: string;
  readonly fetch: FetchFunction;
  readonly tokens: TokenSource;
  readonly retry: RetryOptions;
  readonly localChecks: boolean;
  readonly retryUploads: boolean;
  /** The default deadline of a call, in ms; undefined for none. */
  readonly timeoutMs?: number | undefined;
}
