// Work that must end before the stores close: a shutdown cuts the connections still open at the
// end of its grace, and the uploads on them then remove their temp files (or finish a commit
// already under way); closing the database under them would leave a temp file or an orphan blob.

export class InFlightWork {
  readonly #pending = new Set<Promise<unknown>>();

  get count(): number {
    return this.#pending.size;
  }

  /** Runs `work`, counted until it settles. */
  track<T>(work: () => Promise<T>): Promise<T> {
    const promise = work();
    const settled = promise.then(() => {}, () => {});
    this.#pending.add(settled);
    void settled.then(() => this.#pending.delete(settled));
    return promise;
  }

  /** Resolves once every tracked work has settled, or after `withinMs` (returns how many were left). */
  async settled(withinMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, withinMs);
    });
    while (this.#pending.size > 0) {
      const done = await Promise.race([Promise.all([...this.#pending]).then(() => true), timeout.then(() => false)]);
      if (!done) break;
    }
    clearTimeout(timer);
    return this.#pending.size;
  }
}
