// Group commit: many callers need "everything written so far is on disk"; one fsync serves all
// who asked before it started, and those who ask while it runs share the next one.

export class CoalescingSync {
  readonly #flush: () => Promise<void>;
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(flush: () => Promise<void>) {
    this.#flush = flush;
  }

  /** Resolves once an fsync that started after this call has completed. */
  sync(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#flush().finally(() => { this.#running = undefined; });
      return this.#running;
    }
    // A flush is in flight and may have started before our write: wait for it, then one more.
    this.#next ??= this.#running.catch(() => {}).then(() => {
      this.#next = undefined;
      return this.sync();
    });
    return this.#next;
  }
}
