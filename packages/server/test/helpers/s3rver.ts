// Starts s3rver (a light S3 emulator, npm) in this process on a free port with its own temp dir,
// so `npm test` exercises S3BlobStore on a fresh machine with nothing else installed.

import crypto, { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

interface S3rverObject {
  content: Readable | null;
  range?: { start: number; end: number };
}
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  store: {
    getObject(bucket: string, key: string, options?: { start?: number; end?: number }): Promise<S3rverObject | null>;
    getResourcePath(bucket: string, key: string, resource: 'object'): string;
  };
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  resetOnClose: boolean;
}) => S3rverInstance;

// s3rver is CommonJS without type declarations.
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;

/** The only key pair s3rver knows; signatures are checked for it. */
export const S3RVER_CREDENTIALS = Object.freeze({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

export interface RunningS3rver {
  /** s3://BUCKET?endpoint=...&region=us-east-1&forcePathStyle=true, for a bucket not yet created. */
  url: string;
  /** Its endpoint, e.g. http://127.0.0.1:41234. */
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** AWS_* variables that make the SDK's default credential chain use s3rver's key pair. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startS3rver(): Promise<RunningS3rver> {
  const directory = await mkdtemp(join(tmpdir(), 'oapi-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, resetOnClose: false });
  fixFirstByteRange(server);
  fixContinuationTokens();
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const bucket = `oapi-test-${randomBytes(4).toString('hex')}`;
  return {
    url: `s3://${bucket}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1&forcePathStyle=true`,
    endpoint,
    credentials: { ...S3RVER_CREDENTIALS },
    env: { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1' },
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * s3rver 3.7.1 reads the range end as `end || Infinity`, so `Range: bytes=0-0` (a first-byte probe)
 * gets the whole object; real S3 and Ceph RGW answer one byte. Serve that one byte.
 */
function fixFirstByteRange(server: S3rverInstance): void {
  const store = server.store;
  const getObject = store.getObject.bind(store);
  store.getObject = async (bucket, key, options) => {
    const object = await getObject(bucket, key, options);
    if (object?.content && options?.start === 0 && options.end === 0) {
      object.content.destroy();
      object.content = createReadStream(store.getResourcePath(bucket, key, 'object'), { start: 0, end: 0 });
      object.range = { start: 0, end: 0 };
    }
    return object;
  };
}

let continuationTokensFixed = false;

/**
 * s3rver 3.7.1 seals ListObjectsV2 continuation tokens with DES, which OpenSSL 3 no longer ships,
 * so every truncated listing answers 500. The token only has to be opaque to clients: in this
 * test process, "des" becomes the identity. Nothing else here uses DES (it throws without this).
 */
function fixContinuationTokens(): void {
  if (continuationTokensFixed) return;
  continuationTokensFixed = true;
  const createCipheriv = crypto.createCipheriv;
  const createDecipheriv = crypto.createDecipheriv;
  const identity = {
    update: (data: Buffer | string, encoding?: BufferEncoding) => (typeof data === 'string' ? Buffer.from(data, encoding) : Buffer.from(data)),
    final: () => Buffer.alloc(0),
  };
  const patchable = crypto as unknown as Record<'createCipheriv' | 'createDecipheriv', (...args: unknown[]) => unknown>;
  patchable.createCipheriv = (algorithm: unknown, ...rest: unknown[]) =>
    algorithm === 'des' ? identity : (createCipheriv as (...args: unknown[]) => unknown)(algorithm, ...rest);
  patchable.createDecipheriv = (algorithm: unknown, ...rest: unknown[]) =>
    algorithm === 'des' ? identity : (createDecipheriv as (...args: unknown[]) => unknown)(algorithm, ...rest);
}
