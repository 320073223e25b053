// Everything a running node needs, built once from the Config and closed together.

import { join } from 'node:path';
import type { Config } from './config.ts';
import { AdminService } from './service/admin.ts';
import { MediaService } from './service/media.ts';
import { AuthThrottle } from './service/auth-throttle.ts';
import { AdmissionService, MemoryRateLimiter, type RateLimiter } from './service/rate-limit.ts';
import { loadSecretKey } from './service/secret-key.ts';
import { UploadSlots } from './service/upload-slots.ts';
import { StagingArea } from './service/staging.ts';
import { SuiteService } from './service/suites.ts';
import { TokenService } from './service/tokens.ts';
import type { BlobStore } from './stores/blobs/interface.ts';
import type { MetadataStore } from './stores/metadata/interface.ts';
import { openBlobStore, openMetadataStore } from './stores/open.ts';

export interface Services {
  config: Config;
  metadata: MetadataStore;
  blobs: BlobStore;
  tokens: TokenService;
  media: MediaService;
  admin: AdminService;
  admission: AdmissionService;
  /** Failed credential checks per client IP (brute force guard, 45009). */
  authThrottle: AuthThrottle;
  /** Third-party suites and their per-org tokens (issue 8). */
  suites: SuiteService;
  /** How many upload bodies are read at once (config.uploadStreams). */
  uploadSlots: UploadSlots;
  close(): Promise<void>;
}

export const STAGING_FOLDER = 'tmp';

export async function openServices(config: Config): Promise<Services> {
  const metadata = await openMetadataStore(config);
  let blobs: BlobStore;
  try {
    blobs = await openBlobStore(config);
  } catch (error) {
    await metadata.close();
    throw error;
  }
  const key = await loadSecretKey(config.secretKey, config.dataDir);
  const staging = new StagingArea(join(config.dataDir, STAGING_FOLDER), blobs.durableStaging === true, metadata.inlineMaxBytes);
  await staging.init();
  const limiter = await openRateLimiter(config);
  const admission = new AdmissionService(limiter, metadata, config.defaultRateLimitPerSecond, config.now);
  const tokens = new TokenService(metadata, key, config.tokenTtlSeconds, config.now);
  return {
    config,
    metadata,
    blobs,
    tokens,
    media: new MediaService(metadata, blobs, staging, config.now),
    admin: new AdminService(metadata, config.now),
    admission,
    authThrottle: new AuthThrottle(limiter, config.authFailureLimit, config.authFailureWindowMs),
    suites: new SuiteService(metadata, tokens, key, config.suiteTicketRotationSeconds, config.now),
    // Half the idle timeout: a waiting upload is read (slot or not) well before it would be cut off.
    uploadSlots: new UploadSlots(config.uploadStreams, config.requestIdleTimeoutMs > 0 ? config.requestIdleTimeoutMs / 2 : 15_000),
    async close() {
      await admission.close();
      await blobs.close();
      await metadata.close();
    },
  };
}

/** Shared counters in Redis when REDIS_URL is set (exact across nodes); per node otherwise. */
async function openRateLimiter(config: Config): Promise<RateLimiter> {
  if (config.redisUrl === undefined) return new MemoryRateLimiter(config.now);
  const { RedisRateLimiter } = await import('./service/rate-limit-redis.ts');
  const limiter = new RedisRateLimiter(config.redisUrl, { now: config.now });
  await limiter.init();
  return limiter;
}
