// Rate limits that hold across nodes (issue 7: REDIS_URL): the token bucket of MemoryRateLimiter,
// kept in Redis and updated by one Lua script, so N nodes together admit exactly what one would.
// The script reads Redis's own clock, so node clocks that drift apart do not matter.
//
// Redis unreachable -> fail open to a per-node bucket: a Redis outage must not become a media
// outage (every request -1), and each node still enforces the limit on its own share of traffic
// (so a cluster of N nodes admits at most N times the limit until Redis is back). Each change of
// state is told once to the watchers (the server logs it and counts it in /metrics), never once
// per request; a request never waits for a Redis that is not connected.

import { Redis } from 'ioredis';
import { MemoryRateLimiter, type RateLimiter } from './rate-limit.ts';

/**
 * KEYS[1] bucket; ARGV[1] per second. Bucket = { tokens, at (µs, Redis TIME) }, refilled
 * continuously up to one second's allowance (at least one request, so 0.5/s means one every 2 s).
 * A bucket idle long enough to be full again is the same as a missing one: it expires then.
 */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local capacity = math.max(rate, 1)
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1])
local at = tonumber(bucket[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) / 1000000 * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return allowed
`;

/** KEYS[1] window counter; ARGV[1] window ms. The window opens (and its expiry is set) at the first event. */
const COUNT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
`;

/** A limit check must not hold a request up: past this, Redis counts as down for that request. */
const COMMAND_TIMEOUT_MS = 500;
const CONNECT_TIMEOUT_MS = 2_000;
const DEFAULT_KEY_PREFIX = 'oapi-media:rate:';

export interface RedisRateLimiterOptions {
  /** Prepended to every key (several deployments, or test runs, on one Redis); default: the URL's `keyPrefix`, then `oapi-media:rate:`. */
  keyPrefix?: string;
  /** The per-node fallback's clock while Redis is unreachable. */
  now?: () => number;
  /** Told once each time Redis becomes unreachable (besides the watchers). */
  onUnavailable?: (error: Error) => void;
  /** Past this a command counts as failed and the request is limited per node (default 500 ms). */
  commandTimeoutMs?: number;
}

interface LimiterCommands {
  oapiTakeToken(key: string, perSecond: string): Promise<number>;
  oapiCountEvent(key: string, windowMs: string): Promise<number>;
  get(key: string): Promise<string | null>;
}

/** Buckets (hashes) and windows (counters) apart, whatever their callers name them. */
const BUCKET_KEY = (key: string) => `bucket:${key}`;
const WINDOW_KEY = (key: string) => `window:${key}`;

/** A change of where limits are counted: shared in Redis again, or per node because of `error`. */
export type LimiterStateChange = { shared: true } | { shared: false; error: Error };

export class RedisRateLimiter implements RateLimiter {
  readonly #redis: Redis;
  readonly #fallback: MemoryRateLimiter;
  readonly #onUnavailable: (error: Error) => void;
  readonly #watchers: ((change: LimiterStateChange) => void)[] = [];
  #available = true;
  #fallbacks = 0;
  #closing = false;

  constructor(url: string, options: RedisRateLimiterOptions = {}) {
    this.#redis = new Redis(url, {
      // REDIS_URL=redis://host:6379/0?keyPrefix=name: keeps deployments sharing one Redis apart.
      keyPrefix: options.keyPrefix ?? (new URL(url).searchParams.get('keyPrefix') || DEFAULT_KEY_PREFIX),
      lazyConnect: true,
      // Fail a command at once while disconnected instead of queueing it until Redis is back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      // Keep reconnecting in the background, at most once a second.
      retryStrategy: (attempt: number) => Math.min(attempt * 100, 1_000),
    });
    this.#redis.defineCommand('oapiTakeToken', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.#redis.defineCommand('oapiCountEvent', { numberOfKeys: 1, lua: COUNT_SCRIPT });
    this.#fallback = new MemoryRateLimiter(options.now ?? Date.now);
    this.#onUnavailable = options.onUnavailable ?? (() => {});
    // Without a listener ioredis prints every failed reconnect; the outage is reported once instead.
    this.#redis.on('error', (error: Error) => this.#markUnavailable(error));
    // A Redis that stops closes the connection before any reconnect fails: per node from then on.
    this.#redis.on('close', () => this.#markUnavailable(new Error('connection to Redis closed')));
    this.#redis.on('ready', () => this.#markAvailable());
  }

  /** Calls `watcher` at each change of state from now on (not for the state it is in now: see `shared`). */
  watch(watcher: (change: LimiterStateChange) => void): void {
    this.#watchers.push(watcher);
  }

  /** How many times limits fell back to per-node counting since start (outages, slow answers). */
  get fallbacks(): number {
    return this.#fallbacks;
  }

  /** Connects now so that the first requests already share counters; an unreachable Redis is not fatal. */
  async init(): Promise<void> {
    await this.#redis.connect().catch((error: Error) => this.#markUnavailable(error));
  }

  /** False while requests are limited per node because Redis cannot be reached. */
  get shared(): boolean {
    return this.#available && this.#redis.status === 'ready';
  }

  async take(key: string, perSecond: number): Promise<boolean> {
    const shared = await this.#shared((redis) => redis.oapiTakeToken(BUCKET_KEY(key), String(perSecond)));
    return shared === undefined ? this.#fallback.take(key, perSecond) : shared === 1;
  }

  async count(key: string, windowMs: number): Promise<number> {
    const shared = await this.#shared((redis) => redis.oapiCountEvent(WINDOW_KEY(key), String(Math.max(1, Math.ceil(windowMs)))));
    return shared ?? this.#fallback.count(key, windowMs);
  }

  async peek(key: string): Promise<number> {
    const shared = await this.#shared(async (redis) => Number((await redis.get(WINDOW_KEY(key))) ?? 0));
    return shared ?? this.#fallback.peek(key);
  }

  /** Runs `command` on Redis; undefined when Redis cannot answer now (the caller falls back). */
  async #shared<T>(command: (redis: LimiterCommands) => Promise<T>): Promise<T | undefined> {
    if (this.#redis.status !== 'ready') return undefined;
    try {
      const result = await command(this.#redis as unknown as LimiterCommands);
      this.#markAvailable();
      return result;
    } catch (error) {
      this.#markUnavailable(error as Error);
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#redis.removeAllListeners('error');
    this.#redis.on('error', () => {});
    this.#redis.disconnect();
    await this.#fallback.close();
  }

  #markUnavailable(error: Error): void {
    if (!this.#available || this.#closing) return;
    this.#available = false;
    this.#fallbacks++;
    this.#onUnavailable(error);
    for (const watcher of this.#watchers) watcher({ shared: false, error });
  }

  #markAvailable(): void {
    if (this.#available || this.#closing) return;
    this.#available = true;
    for (const watcher of this.#watchers) watcher({ shared: true });
  }
}
