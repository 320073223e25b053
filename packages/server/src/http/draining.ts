// A node's shutdown as its HTTP answers show it (server.ts drives it, app.ts answers by it): from
// the signal on, /readyz answers 503 and every answer carries Connection: close (a keep-alive
// client reconnects, and the balancer sends it to another node); once the listener has closed, a
// new request on a connection still open is refused in its wire's shape (systemBusy, -1, which
// SDKs retry) rather than started on a node that is going away.

export class DrainState {
  #drainingSince: number | undefined;
  #listenerClosed = false;

  /** Since the shutdown signal. */
  get draining(): boolean {
    return this.#drainingSince !== undefined;
  }

  /** Since the listener closed: new requests are refused. */
  get refusing(): boolean {
    return this.#listenerClosed;
  }

  begin(now = Date.now()): void {
    this.#drainingSince ??= now;
  }

  closeListener(): void {
    this.begin();
    this.#listenerClosed = true;
  }
}
