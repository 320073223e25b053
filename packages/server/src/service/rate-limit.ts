// Request rate limits (api.md 45009). The seam lets a cluster share its counters (Redis) while a
// single node keeps them in memory.

import { ApiError } from '@oapi-media/core';
import type { MetadataStore, Org } from '../stores/metadata/interface.ts';
import type { Caller } from './tokens.ts';

export interface RateLimiter {
  /** Takes one request from `key`'s allowance of `perSecond`; false when it is used up. */
  take(key: string, perSecond: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Token bucket per key, refilled continuously, burst of one second's allowance. */
export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; updatedAt: number }>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  async take(key: string, perSecond: number): Promise<boolean> {
    const now = this.#now();
    const bucket = this.#buckets.get(key) ?? { tokens: perSecond, updatedAt: now };
    bucket.tokens = Math.min(perSecond, bucket.tokens + ((now - bucket.updatedAt) / 1000) * perSecond);
    bucket.updatedAt = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > 100_000) this.#forgetIdle(now);
    return allowed;
  }

  #forgetIdle(now: number): void {
    for (const [key, bucket] of this.#buckets) if (now - bucket.updatedAt > 60_000) this.#buckets.delete(key);
  }

  async close(): Promise<void> {}
}

/** The org's limits, cached briefly so that a request does not cost a metadata read. */
const ORG_CACHE_MS = 5_000;

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
      throw new ApiError('rateLimited', `${caller.principal} over ${perSecond}/s`);
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
