// Rate limits that hold across nodes (issue 7: REDIS_URL): the token bucket of MemoryRateLimiter,
// kept in Redis and updated by one Lua script, so N nodes together admit exactly what one would.
// The script reads Redis's own clock, so node clocks that drift apart do not matter.
//
// Redis unreachable -> fail open to a per-node bucket: a Redis outage must not become a media
// outage (every request -1), and each node still enforces the limit on its own share of traffic
// (so a cluster of N nodes admits at most N times the limit until Redis is back).

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
  /** Told once each time Redis becomes unreachable (default: a process warning on stderr). */
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

export class RedisRateLimiter implements RateLimiter {
  readonly #redis: Redis;
  readonly #fallback: MemoryRateLimiter;
  readonly #onUnavailable: (error: Error) => void;
  #available = true;

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
    this.#onUnavailable =
      options.onUnavailable ??
      ((error) => process.emitWarning(`Redis unreachable (${error.message}): rate limits are per node until it is back`, 'RateLimitWarning'));
    // Without a listener ioredis prints every failed reconnect; the outage is reported once instead.
    this.#redis.on('error', (error: Error) => this.#markUnavailable(error));
    this.#redis.on('ready', () => {
      this.#available = true;
    });
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
      this.#available = true;
      return result;
    } catch (error) {
      this.#markUnavailable(error as Error);
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.#redis.removeAllListeners('error');
    this.#redis.on('error', () => {});
    this.#redis.disconnect();
    await this.#fallback.close();
  }

  #markUnavailable(error: Error): void {
    if (!this.#available) return;
    this.#available = false;
    this.#onUnavailable(error);
  }
}
