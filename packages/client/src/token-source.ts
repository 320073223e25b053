// Where access tokens come from. Today: an app's appKey/appSecret (app-token-source.ts).
// Suites (issue 8): suite-token-source.ts. Callers only know this interface.

export interface TokenSource {
  /** A token valid for a while yet; fetched or refreshed when needed. */
  getToken(signal?: AbortSignal): Promise<string>;
  /**
   * The server rejected `token` (40014/42001): forget it, so the next getToken fetches anew.
   * A token already replaced by a newer one is left alone, so that many calls failing with
   * the same stale token cause one refresh, not many.
   */
  invalidate(token: string): void;
}
