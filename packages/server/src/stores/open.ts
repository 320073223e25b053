// Chooses the implementation of each seam from the config (embedded default: SQLite + disk).

import type { Config } from '../config.ts';
import { dataFolder, prepareMetaDatabase } from '../data-folder.ts';
import type { BlobStore } from './blobs/interface.ts';
import type { MetadataStore } from './metadata/interface.ts';
import { FsBlobStore } from './blobs/fs.ts';
import { SqliteMetadataStore } from './metadata/sqlite.ts';

export async function openMetadataStore(config: Config): Promise<MetadataStore> {
  let store: MetadataStore;
  if (config.databaseUrl !== undefined) {
    store = await newPostgresStore(config.databaseUrl);
  } else {
    const folder = dataFolder(config.dataDir);
    await prepareMetaDatabase(folder);
    store = new SqliteMetadataStore(folder.metaDatabase, { inlineMaxBytes: config.inlineMaxBytes });
  }
  await store.init();
  return store;
}

export async function openBlobStore(config: Config): Promise<BlobStore> {
  let store: BlobStore;
  if (config.storageUrl !== undefined) {
    const { S3BlobStore, parseS3Url } = await import('./blobs/s3.ts');
    store = new S3BlobStore(parseS3Url(config.storageUrl));
  } else {
    store = new FsBlobStore(dataFolder(config.dataDir).blobs);
  }
  await store.init();
  return store;
}

/**
 * `oapi-media migrate`: applies the pending PostgreSQL migrations and returns their versions;
 * null with SQLite, which brings its schema up to date whenever it is opened.
 */
export async function migrateMetadataStore(config: Config): Promise<number[] | null> {
  if (config.databaseUrl === undefined) return null;
  const store = await newPostgresStore(config.databaseUrl);
  try {
    return await store.migrate();
  } finally {
    await store.close();
  }
}

async function newPostgresStore(databaseUrl: string) {
  const { PostgresMetadataStore, parsePostgresUrl } = await import('./metadata/postgres.ts');
  const { connectionString, schema } = parsePostgresUrl(databaseUrl);
  return new PostgresMetadataStore(connectionString, schema === undefined ? {} : { schema });
}
