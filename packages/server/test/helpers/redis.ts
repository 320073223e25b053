// The machine's Redis for tests (issue 7: 127.0.0.1:6379, or OAPI_TEST_REDIS_URL).

import { Redis } from 'ioredis';

export const TEST_REDIS_URL = process.env.OAPI_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** null when Redis answers a PING, else why not (the caller skips, or fails under CI=true). */
export async function redisUnreachableReason(url = TEST_REDIS_URL): Promise<string | null> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
    return null;
  } catch (error) {
    return `Redis at ${url}: ${(error as Error).message}`;
  } finally {
    redis.disconnect();
  }
}
