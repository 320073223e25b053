// Everything a running node needs, built once from the Config and closed together.

import { join } from 'node:path';
import type { Config } from './config.ts';
import { AdminService } from './service/admin.ts';
import { MediaService } from './service/media.ts';
import { AdmissionService, MemoryRateLimiter } from './service/rate-limit.ts';
import { loadSecretKey } from './service/secret-key.ts';
import { StagingArea } from './service/staging.ts';
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
  const staging = new StagingArea(join(config.dataDir, STAGING_FOLDER), blobs.durableStaging === true);
  await staging.init();
  const admission = new AdmissionService(new MemoryRateLimiter(config.now), metadata, config.defaultRateLimitPerSecond, config.now);
  return {
    config,
    metadata,
    blobs,
    tokens: new TokenService(metadata, key, config.tokenTtlSeconds, config.now),
    media: new MediaService(metadata, blobs, staging, config.now),
    admin: new AdminService(metadata, config.now),
    admission,
    async close() {
      await admission.close();
      await blobs.close();
      await metadata.close();
    },
  };
}
