// The composition root: every part of a running node built once from the Config, wired together and
// closed together; and the smaller set an operator command needs (no staging, no limiter, and no
// blob store unless the command touches bytes).

import type { Config } from './config.ts';
import { dataFolder } from './data-folder.ts';
import { AdminService } from './service/admin.ts';
import { AuthThrottle } from './service/auth-throttle.ts';
import { dialectServices, type DialectServices } from './service/dialect-services.ts';
import { MediaService } from './service/media.ts';
import { UploadSessionService } from './service/upload-sessions.ts';
import { AdmissionService, MemoryRateLimiter, type RateLimiter } from './service/rate-limit.ts';
import type { LimiterStateChange } from './service/rate-limit-redis.ts';
import { loadSecretKey } from './service/secret-key.ts';
import { StagingArea } from './service/staging.ts';
import { SuiteService } from './service/suites.ts';
import { TokenService } from './service/tokens.ts';
import { UploadSlots } from './service/upload-slots.ts';
import { InFlightWork } from './service/in-flight.ts';
import type { BlobStore } from './stores/blobs/interface.ts';
import type { MetadataStore } from './stores/metadata/interface.ts';
import { migrateMetadataStore, openBlobStore, openMetadataStore } from './stores/open.ts';

export interface Services {
  config: Config;
  metadata: MetadataStore;
  blobs: BlobStore;
  tokens: TokenService;
  media: MediaService;
  sessions: UploadSessionService;
  admin: AdminService;
  admission: AdmissionService;
  /** Failed credential checks per client IP (brute force guard, 45009). */
  authThrottle: AuthThrottle;
  /** Third-party suites and their per-org tokens (issue 8). */
  suites: SuiteService;
  /** How many upload bodies are read at once (config.uploadStreams). */
  uploadSlots: UploadSlots;
  /** Uploads under way (body to answer): a shutdown waits for them before closing the stores. */
  inFlight: InFlightWork;
  /** The only door the wires (dialects) have into the product. */
  dialect: DialectServices;
  /** With REDIS_URL: whether limits are counted in Redis now, and its changes (logs, /metrics). */
  sharedLimits: SharedLimitsState | undefined;
  close(): Promise<void>;
}

/** What the Redis-backed limiter tells about itself (RedisRateLimiter). */
export interface SharedLimitsState {
  /** True while counters are in Redis; false while each node counts alone (Redis unreachable). */
  readonly shared: boolean;
  /** Falls back to per-node counting since start. */
  readonly fallbacks: number;
  watch(watcher: (change: LimiterStateChange) => void): void;
}

/** What operator commands call: organizations, apps, media listings and suites. */
export interface OperatorServices {
  admin: AdminService;
  suites: SuiteService;
  close(): Promise<void>;
}

export async function openServices(config: Config): Promise<Services> {
  const metadata = await openMetadataStore(config);
  let blobs: BlobStore;
  try {
    blobs = await openBlobStore(config);
  } catch (error) {
    await metadata.close();
    throw error;
  }
  const folder = dataFolder(config.dataDir);
  const key = await loadSecretKey(config.secretKey, folder.secretKey);
  const staging = new StagingArea(folder.staging, blobs.durableStaging === true, metadata.inlineMaxBytes);
  await staging.init();
  const { limiter, sharedLimits } = await openRateLimiter(config);
  const admission = new AdmissionService(limiter, metadata, config.defaultRateLimitPerSecond, config.now);
  const tokens = new TokenService(metadata, key, config.tokenTtlSeconds, config.now);
  const media = new MediaService(metadata, blobs, staging, config.now);
  const sessions = new UploadSessionService(metadata, blobs, staging, media, config.now);
  const authThrottle = new AuthThrottle(limiter, config.authFailureLimit, config.authFailureWindowMs);
  const suites = new SuiteService(metadata, tokens, key, config.suiteTicketRotationSeconds, config.now);
  // Half the idle timeout: a waiting upload is read (slot or not) well before it would be cut off.
  const uploadSlots = new UploadSlots(config.uploadStreams, config.requestIdleTimeoutMs > 0 ? config.requestIdleTimeoutMs / 2 : 15_000);
  const inFlight = new InFlightWork();
  const minBodyRate = { bytesPerSecond: config.minBodyBytesPerSecond, windowMs: config.minBodyRateWindowMs };
  return {
    config,
    metadata,
    blobs,
    tokens,
    media,
    sessions,
    admin: new AdminService(metadata, config.now, blobs),
    admission,
    authThrottle,
    suites,
    uploadSlots,
    inFlight,
    dialect: dialectServices({ tokens, authThrottle, admission, suites, media, uploadSlots, minBodyRate, inFlight, sessions }),
    sharedLimits,
    async close() {
      await admission.close();
      await blobs.close();
      await metadata.close();
    },
  };
}

/**
 * For an operator command: the metadata store, and the blob store only when `withBlobs` (deleting a
 * media). Opens no staging area and no limiter, so a database-only command creates no such folders.
 */
export async function openOperatorServices(config: Config, options: { withBlobs: boolean }): Promise<OperatorServices> {
  const metadata = await openMetadataStore(config);
  let blobs: BlobStore | undefined;
  try {
    if (options.withBlobs) blobs = await openBlobStore(config);
    const key = await loadSecretKey(config.secretKey, dataFolder(config.dataDir).secretKey);
    const tokens = new TokenService(metadata, key, config.tokenTtlSeconds, config.now);
    return {
      admin: new AdminService(metadata, config.now, blobs),
      suites: new SuiteService(metadata, tokens, key, config.suiteTicketRotationSeconds, config.now),
      async close() {
        await blobs?.close();
        await metadata.close();
      },
    };
  } catch (error) {
    await blobs?.close().catch(() => {});
    await metadata.close();
    throw error;
  }
}

/**
 * `oapi-media migrate`: the PostgreSQL migrations applied now (none pending: []); null with SQLite,
 * which brings its schema up to date whenever it is opened.
 */
export function migrateDatabase(config: Config): Promise<number[] | null> {
  return migrateMetadataStore(config);
}

/** Shared counters in Redis when REDIS_URL is set (exact across nodes); per node otherwise. */
async function openRateLimiter(config: Config): Promise<{ limiter: RateLimiter; sharedLimits: SharedLimitsState | undefined }> {
  if (config.redisUrl === undefined) return { limiter: new MemoryRateLimiter(config.now), sharedLimits: undefined };
  const { RedisRateLimiter } = await import('./service/rate-limit-redis.ts');
  const limiter = new RedisRateLimiter(config.redisUrl, { now: config.now });
  await limiter.init();
  return { limiter, sharedLimits: limiter };
}
