// Bounds how many upload bodies are read at once. Past the bound a request waits with its body
// unread — in the kernel's socket buffer, not in this process — until a slot frees. With the CPU
// or the disk saturated this costs no throughput, and it keeps memory down: each chunk then goes
// through the process faster, dies young and is freed by V8's cheap young-generation collection
// instead of piling up as old garbage (bench (c): peak RSS of 64 concurrent 20 MiB uploads
// 171 -> 128 MB with 16 slots, at the same MB/s). A request never waits longer than `maxWaitMs`
// (under the socket idle timeout): it then goes on without a slot rather than being cut off.
//
// The slots are shared fairly between organizations (issue 15 item 6): each waits in its own
// queue; a freed slot goes to the waiting organization that holds the fewest, ties in turn
// (round-robin); and no organization holds more than `perTenantLimit` (a quarter of the slots is
// kept for the others), so that one organization's slow bodies cannot hold every slot while
// another's uploads wait. The total read at once stays `limit`: fairness costs no memory.

export type ReleaseSlot = () => void;

/** Who an upload is for: an organization's id, or UNIDENTIFIED when its token comes after its body. */
export type Tenant = string;

/** Uploads whose token is a form field (not in the query) share one queue: their organization is unknown until the body is read. */
export const UNIDENTIFIED: Tenant = '';

/** Slots one tenant may hold: all of them below 4, else all but a quarter (16 -> 12). */
export function perTenantLimitOf(limit: number): number {
  return limit < 4 ? limit : limit - Math.floor(limit / 4);
}

interface Waiter {
  handOver(release: ReleaseSlot): void;
}

export class UploadSlots {
  readonly limit: number;
  readonly perTenantLimit: number;
  readonly #maxWaitMs: number;
  #active = 0;
  #waitingCount = 0;
  /** Slots held per tenant (only tenants holding one). */
  readonly #held = new Map<Tenant, number>();
  /** Waiting uploads per tenant, in arrival order; a Map keeps the tenants in the order they began to wait (the round-robin order). */
  readonly #queues = new Map<Tenant, Waiter[]>();

  /** `limit` 0 = no bound. */
  constructor(limit: number, maxWaitMs: number) {
    this.limit = limit;
    this.perTenantLimit = perTenantLimitOf(limit);
    this.#maxWaitMs = maxWaitMs;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waitingCount;
  }

  /** Slots `tenant` holds now. */
  heldBy(tenant: Tenant): number {
    return this.#held.get(tenant) ?? 0;
  }

  /** Resolves once the caller may read its body, with the function that gives the slot back (call it once). */
  acquire(tenant: Tenant = UNIDENTIFIED): Promise<ReleaseSlot> {
    if (this.limit === 0) return Promise.resolve(() => {});
    if (this.#active < this.limit && this.heldBy(tenant) < this.perTenantLimit) return Promise.resolve(this.#grant(tenant));
    return new Promise<ReleaseSlot>((resolve) => {
      const waiter: Waiter = {
        handOver: (release) => {
          clearTimeout(timer);
          resolve(release);
        },
      };
      const timer = setTimeout(() => {
        this.#dequeue(tenant, waiter);
        resolve(() => {}); // waited long enough: read without a slot
      }, this.#maxWaitMs);
      const queue = this.#queues.get(tenant);
      if (queue) queue.push(waiter);
      else this.#queues.set(tenant, [waiter]);
      this.#waitingCount++;
    });
  }

  #grant(tenant: Tenant): ReleaseSlot {
    this.#active++;
    this.#held.set(tenant, this.heldBy(tenant) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      const held = this.heldBy(tenant) - 1;
      if (held === 0) this.#held.delete(tenant);
      else this.#held.set(tenant, held);
      this.#handOut();
    };
  }

  /** Gives free slots to waiters: the waiting tenant under its limit that holds the fewest, ties in round-robin order. */
  #handOut(): void {
    while (this.#active < this.limit) {
      let chosen: Tenant | undefined;
      for (const tenant of this.#queues.keys()) {
        if (this.heldBy(tenant) >= this.perTenantLimit) continue;
        if (chosen === undefined || this.heldBy(tenant) < this.heldBy(chosen)) chosen = tenant;
      }
      if (chosen === undefined) return;
      const waiter = this.#queues.get(chosen)!.shift()!;
      this.#waitingCount--;
      // The tenant goes to the back of the round: the next tie goes to another.
      const rest = this.#queues.get(chosen)!;
      this.#queues.delete(chosen);
      if (rest.length > 0) this.#queues.set(chosen, rest);
      waiter.handOver(this.#grant(chosen));
    }
  }

  #dequeue(tenant: Tenant, waiter: Waiter): void {
    const queue = this.#queues.get(tenant);
    const index = queue?.indexOf(waiter) ?? -1;
    if (index < 0) return;
    queue!.splice(index, 1);
    this.#waitingCount--;
    if (queue!.length === 0) this.#queues.delete(tenant);
  }
}
