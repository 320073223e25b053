// Request rate limits (api.md "Error codes": 45009). The seam lets a cluster share its counters (Redis) while a
// single node keeps them in memory.

import { ApiError } from '@oapi-media/core';
import type { MetadataStore, Org } from '../stores/metadata/interface.ts';
import type { Caller } from './tokens.ts';

export interface RateLimiter {
  /** Takes one request from `key`'s allowance of `perSecond`; false when it is used up. */
  take(key: string, perSecond: number): Promise<boolean>;
  /**
   * Counts one event of `key` in a window that opens at its first event and lasts `windowMs`
   * (Redis: INCR + PEXPIRE on the first); resolves to the count so far in that window.
   */
  count(key: string, windowMs: number): Promise<number>;
  /** The count of `key`'s open window; 0 when it has none or it has passed. */
  peek(key: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * Token bucket per key, refilled continuously, burst of one second's allowance (at least one
 * request, so 0.5/s admits one every 2 s); and counting windows (for failed logins). Per node: a
 * cluster backs the seam with Redis (rate-limit-redis.ts), whose script is this same bucket.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; updatedAt: number; perSecond: number }>();
  readonly #windows = new Map<string, { count: number; endsAt: number }>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  async take(key: string, perSecond: number): Promise<boolean> {
    const now = this.#now();
    const capacity = capacityOf(perSecond);
    const bucket = this.#buckets.get(key) ?? { tokens: capacity, updatedAt: now, perSecond };
    // A clock that steps back refills nothing rather than taking tokens away.
    bucket.tokens = Math.min(capacity, bucket.tokens + (Math.max(0, now - bucket.updatedAt) / 1000) * perSecond);
    bucket.updatedAt = now;
    bucket.perSecond = perSecond;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > 100_000) this.#forgetFull(now);
    return allowed;
  }

  /** A bucket that has refilled completely is the same as a missing one (Redis expires it then). */
  #forgetFull(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.updatedAt) / 1000) * bucket.perSecond >= capacityOf(bucket.perSecond)) this.#buckets.delete(key);
    }
  }

  async count(key: string, windowMs: number): Promise<number> {
    const now = this.#now();
    const open = this.#windows.get(key);
    const window = open && open.endsAt > now ? open : { count: 0, endsAt: now + windowMs };
    window.count += 1;
    this.#windows.set(key, window);
    if (this.#windows.size > 100_000) {
      for (const [k, w] of this.#windows) if (w.endsAt <= now) this.#windows.delete(k);
    }
    return window.count;
  }

  async peek(key: string): Promise<number> {
    const window = this.#windows.get(key);
    if (!window) return 0;
    if (window.endsAt > this.#now()) return window.count;
    this.#windows.delete(key);
    return 0;
  }

  async close(): Promise<void> {}
}

/** One second's allowance, but never below one request: a rate under 1/s must still admit some. */
function capacityOf(perSecond: number): number {
  return Math.max(perSecond, 1);
}

/** The org's limits, cached briefly so that a request does not cost a metadata read. */
const ORG_CACHE_MS = 5_000;

/** `rateLimited`, with the limit that was hit (Feishu names it in its x-ogw-ratelimit-* headers). */
export class RateLimitedError extends ApiError {
  readonly perSecond: number;
  constructor(perSecond: number, detail: string) {
    super('rateLimited', detail);
    this.perSecond = perSecond;
  }
}

export class AdmissionService {
  readonly #limiter: RateLimiter;
  readonly #metadata: MetadataStore;
  readonly #defaultPerSecond: number;
  readonly #now: () => number;
  readonly #orgs = new Map<string, { org: Org | null; fetchedAt: number }>();

  constructor(limiter: RateLimiter, metadata: MetadataStore, defaultPerSecond: number, now: () => number) {
    this.#limiter = limiter;
    this.#metadata = metadata;
    this.#defaultPerSecond = defaultPerSecond;
    this.#now = now;
  }

  /** 45009 when the calling app (or suite in that org) is over its requests per second. */
  async admit(caller: Caller): Promise<void> {
    const org = await this.#org(caller.orgId);
    const perSecond = org?.rateLimitPerSecond ?? this.#defaultPerSecond;
    if (perSecond <= 0) return;
    if (!(await this.#limiter.take(`${caller.orgId}/${caller.principal}`, perSecond))) {
      throw new RateLimitedError(perSecond, `${caller.principal} over ${perSecond}/s`);
    }
  }

  async #org(orgId: string): Promise<Org | null> {
    const cached = this.#orgs.get(orgId);
    if (cached && this.#now() - cached.fetchedAt < ORG_CACHE_MS) return cached.org;
    const org = await this.#metadata.getOrgById(orgId);
    this.#orgs.set(orgId, { org, fetchedAt: this.#now() });
    return org;
  }

  async close(): Promise<void> {
    await this.#limiter.close();
  }
}
