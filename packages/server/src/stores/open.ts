// Chooses the implementation of each seam from the config (embedded default: SQLite + disk).

import type { Config } from '../config.ts';
import { dataFolder, prepareMetaDatabase } from '../data-folder.ts';
import { BlobStoreUnreachableError, maskedUrl, MetadataStoreUnreachableError } from '../operational-errors.ts';
import { BlobUnavailableError, type BlobStore } from './blobs/interface.ts';
import { StoreUnavailableError, type MetadataStore } from './metadata/interface.ts';
import { FsBlobStore } from './blobs/fs.ts';
import { SqliteMetadataStore } from './metadata/sqlite.ts';

/** The reason a store gave, without the URL's secrets should a driver have echoed them. */
function reasonOf(error: Error, url: string): string {
  const cause = error.cause instanceof Error ? error.cause : error;
  let reason = cause.message || cause.name;
  try {
    const { password } = new URL(url);
    if (password !== '') reason = reason.replaceAll(decodeURIComponent(password), '***').replaceAll(password, '***');
  } catch {
    // nothing to mask in what is not a URL
  }
  return reason;
}

export async function openMetadataStore(config: Config): Promise<MetadataStore> {
  let store: MetadataStore;
  if (config.databaseUrl !== undefined) {
    store = await newPostgresStore(config.databaseUrl, config.databaseTimeoutMs);
  } else {
    const folder = dataFolder(config.dataDir);
    await prepareMetaDatabase(folder);
    store = new SqliteMetadataStore(folder.metaDatabase, { inlineMaxBytes: config.inlineMaxBytes });
  }
  try {
    await store.init();
  } catch (error) {
    await store.close().catch(() => {});
    throw unreachableMetadata(error, config.databaseUrl);
  }
  return store;
}

function unreachableMetadata(error: unknown, databaseUrl: string | undefined): unknown {
  if (databaseUrl === undefined || !(error instanceof StoreUnavailableError)) return error;
  return new MetadataStoreUnreachableError(
    `cannot reach the metadata store at ${maskedUrl(databaseUrl)} (DATABASE_URL): ${reasonOf(error, databaseUrl)}`,
    { cause: error },
  );
}

export async function openBlobStore(config: Config): Promise<BlobStore> {
  let store: BlobStore;
  if (config.storageUrl !== undefined) {
    const { S3BlobStore, parseS3Url } = await import('./blobs/s3.ts');
    store = new S3BlobStore({ ...parseS3Url(config.storageUrl), timeoutMs: config.s3TimeoutMs });
  } else {
    store = new FsBlobStore(dataFolder(config.dataDir).blobs);
  }
  try {
    await store.init();
  } catch (error) {
    await store.close().catch(() => {});
    if (config.storageUrl === undefined || !(error instanceof BlobUnavailableError)) throw error;
    throw new BlobStoreUnreachableError(
      `cannot reach the blob store at ${maskedUrl(config.storageUrl)} (OAPI_MEDIA_STORAGE): ${reasonOf(error, config.storageUrl)}`,
      { cause: error },
    );
  }
  return store;
}

/**
 * `oapi-media migrate`: applies the pending PostgreSQL migrations and returns their versions;
 * null with SQLite, which brings its schema up to date whenever it is opened.
 */
export async function migrateMetadataStore(config: Config): Promise<number[] | null> {
  const { databaseUrl } = config;
  if (databaseUrl === undefined) return null;
  const store = await newPostgresStore(databaseUrl, config.databaseTimeoutMs);
  try {
    return await store.migrate();
  } catch (error) {
    throw unreachableMetadata(error, databaseUrl);
  } finally {
    await store.close();
  }
}

async function newPostgresStore(databaseUrl: string, timeoutMs: number) {
  const { PostgresMetadataStore, parsePostgresUrl } = await import('./metadata/postgres.ts');
  const { connectionString, schema } = parsePostgresUrl(databaseUrl);
  return new PostgresMetadataStore(connectionString, { timeoutMs, ...(schema === undefined ? {} : { schema }) });
}
