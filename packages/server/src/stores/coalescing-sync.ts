// Group commit: many callers need "everything written so far is on disk"; one fsync serves all
// who asked before it started, and those who ask while it runs share the next one.
// A failed fsync is not forgotten ("fsyncgate"): the kernel reports a write-back error once, so a
// later fsync that succeeds says nothing about pages an earlier, failed one covered. A caller that
// took a ticket before issuing its write is failed by any fsync that started after that moment
// and failed, even when the one it waited for succeeded.

export class CoalescingSync {
  readonly #flush: () => Promise<void>;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  /** Flushes started so far: the number of the running one, if any. */
  #started = 0;
  /** The latest flush that failed (numbers only grow: "any failure after a ticket" is this one's). */
  #lastFailure: { number: number; error: unknown } | undefined;

  constructor(flush: () => Promise<void>) {
    this.#flush = flush;
  }

  /** Taken just before a write is issued: every flush numbered above it may have covered that write. */
  ticket(): number {
    return this.#started;
  }

  /**
   * Resolves once an fsync that started after this call has completed, and no fsync that may have
   * covered the write of `ticket` has failed (default: taken now, i.e. only the awaited fsync counts).
   */
  async sync(ticket: number = this.#started): Promise<void> {
    await this.#syncAfterNow();
    const failure = this.#lastFailure;
    if (failure !== undefined && failure.number > ticket) throw failure.error;
  }

  #syncAfterNow(): Promise<void> {
    if (!this.#running) {
      const number = ++this.#started;
      this.#running = this.#flush()
        .catch((error: unknown) => {
          this.#lastFailure = { number, error };
          throw error;
        })
        .finally(() => { this.#running = undefined; });
      return this.#running;
    }
    // A flush is in flight and may have started before our write: wait for it, then one more.
    this.#next ??= this.#running.catch(() => {}).then(() => {
      this.#next = undefined;
      return this.#syncAfterNow();
    });
    return this.#next;
  }
}
