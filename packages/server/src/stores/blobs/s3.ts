// BlobStore on any S3-compatible object store (issue 7:
// OAPI_MEDIA_STORAGE=s3://BUCKET/prefix?endpoint=...&region=...&forcePathStyle=true), shared by
// every node. Uploads stream the staged file as a multipart upload (aborted on failure, so no
// object remains); ranges are ranged GETs. S3 errors are translated here and never leak above.

import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BlobNotFoundError, BlobUnavailableError, type BlobInfo, type BlobStore, type ByteRange } from './interface.ts';

export interface S3Location {
  bucket: string;
  /** Key prefix inside the bucket: '' or ending with '/'. */
  prefix: string;
  /** For S3-compatible stores (Ceph RGW, MinIO, ...); AWS when absent. */
  endpoint?: string;
  region: string;
  /** Path-style URLs (endpoint/bucket/key), needed by most self-hosted stores. */
  forcePathStyle: boolean;
}

export interface S3BlobStoreOptions extends S3Location {
  /** Default: the AWS SDK's chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, ...). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Multipart part size; S3 requires at least 5 MiB, the default. */
  partSizeBytes?: number;
  /** Keys per ListObjectsV2 page (S3 caps it at 1000). */
  listPageSize?: number;
}

const DEFAULT_REGION = 'us-east-1';
const DEFAULT_PART_SIZE = 5 * 1024 * 1024;
/** Parts of one upload sent at once: bounds memory to about queueSize * partSize per upload. */
const UPLOAD_QUEUE_SIZE = 2;
const CONNECT_TIMEOUT_MS = 5_000;
/** Idle socket time before a request is given up (not a bound on a whole large transfer). */
const SOCKET_TIMEOUT_MS = 60_000;

/**
 * Parses `s3://BUCKET[/prefix][?endpoint=URL&region=R&forcePathStyle=true]`. Region falls back to
 * AWS_REGION, then us-east-1 (what Ceph RGW and MinIO expect).
 */
export function parseS3Url(url: string): S3Location {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`invalid S3 storage URL: ${url}`);
  }
  if (parsed.protocol !== 's3:' || parsed.hostname === '') throw new Error(`S3 storage URL must look like s3://BUCKET/prefix?endpoint=...: ${url}`);
  if (parsed.username || parsed.password) throw new Error('S3 storage URL must not carry credentials: use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY');
  const known = new Set(['endpoint', 'region', 'forcePathStyle']);
  for (const name of parsed.searchParams.keys()) {
    if (!known.has(name)) throw new Error(`unknown S3 storage URL parameter: ${name}`);
  }
  const forcePathStyle = parsed.searchParams.get('forcePathStyle') ?? 'false';
  if (forcePathStyle !== 'true' && forcePathStyle !== 'false') throw new Error(`forcePathStyle must be true or false, not ${forcePathStyle}`);
  const endpoint = parsed.searchParams.get('endpoint') ?? undefined;
  const path = decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, '');
  return {
    bucket: parsed.hostname,
    prefix: path === '' ? '' : `${path}/`,
    ...(endpoint === undefined ? {} : { endpoint }),
    region: parsed.searchParams.get('region') ?? process.env.AWS_REGION ?? DEFAULT_REGION,
    forcePathStyle: forcePathStyle === 'true',
  };
}

export class S3BlobStore implements BlobStore {
  /** putFile uploads a copy, so the staged file need not be fsynced first. */
  readonly durableStaging = false;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly listPageSize: number | undefined;

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix === '' || options.prefix.endsWith('/') ? options.prefix : `${options.prefix}/`;
    this.partSize = options.partSizeBytes ?? DEFAULT_PART_SIZE;
    this.listPageSize = options.listPageSize;
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      forcePathStyle: options.forcePathStyle,
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      // ceph-rgw.md pitfall 4: the SDK's default aws-chunked bodies with trailing CRC32 are refused
      // by Ceph Pacific, MinIO and other S3-compatible stores; send checksums only when required.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: SOCKET_TIMEOUT_MS },
    });
  }

  /** Creates the bucket when it does not exist yet; a bucket we can already reach is left alone. */
  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (error) {
      if (httpStatus(error) !== 404) throw translateError(error, 'HeadBucket');
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      // Another node created it in between: fine, as long as we can use it.
      if (errorName(error) !== 'BucketAlreadyOwnedByYou' && errorName(error) !== 'BucketAlreadyExists') throw translateError(error, 'CreateBucket');
      await this.ping();
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      throw new BlobUnavailableError(`S3 bucket ${this.bucket} unreachable: ${describe(error)}`, errorName(error));
    }
  }

  async putFile(key: string, stagedPath: string, size: number): Promise<void> {
    const objectKey = this.prefix + key;
    try {
      // pipeline (not pipe) so that a read error, ENOENT included, fails the body and the upload.
      const body = pipeline(createReadStream(stagedPath), exactLength(size), () => {});
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: objectKey, Body: body },
        partSize: this.partSize,
        queueSize: UPLOAD_QUEUE_SIZE,
        // Abort the multipart upload on any failure, so no parts and no object remain.
        leavePartsOnError: false,
      });
      await upload.done();
    } catch (error) {
      // A Complete that the store applied but whose answer was lost would leave an object that no
      // row references; remove it now rather than wait for the orphan sweep.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey })).catch(() => {});
      throw translateError(error, `upload of ${key}`);
    } finally {
      await rm(stagedPath, { force: true });
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }),
        }),
      );
      if (!(response.Body instanceof Readable)) throw new BlobUnavailableError(`S3 returned no body for ${key}`);
      return response.Body;
    } catch (error) {
      if (errorName(error) === 'NoSuchKey' || httpStatus(error) === 404) throw new BlobNotFoundError(`no blob ${key}`);
      throw translateError(error, `get of ${key}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      // S3 answers 204 for a missing key too: deleting twice is not an error.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (error) {
      if (httpStatus(error) === 404) return;
      throw translateError(error, `delete of ${key}`);
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    let continuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            ...(this.prefix === '' ? {} : { Prefix: this.prefix }),
            ...(continuationToken === undefined ? {} : { ContinuationToken: continuationToken }),
            ...(this.listPageSize === undefined ? {} : { MaxKeys: this.listPageSize }),
          }),
        );
      } catch (error) {
        throw translateError(error, 'list');
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield { key: object.Key.slice(this.prefix.length), size: object.Size ?? 0, lastModified: object.LastModified?.getTime() ?? 0 };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }
}

/** Passes the bytes through and fails the stream unless exactly `size` of them came: the row's size must be true. */
function exactLength(size: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > size) callback(new Error(`staged file is longer than its declared ${size} bytes`));
      else callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      callback(seen === size ? null : new Error(`staged file has ${seen} bytes, ${size} declared`));
    },
  });
}

function errorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { name, code, Code } = error as { name?: unknown; code?: unknown; Code?: unknown };
  for (const candidate of [Code, code, name]) {
    if (typeof candidate === 'string' && candidate !== 'Error' && candidate !== 'S3ServiceException') return candidate;
  }
  return undefined;
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

function translateError(error: unknown, action: string): Error {
  if (error instanceof BlobUnavailableError || error instanceof BlobNotFoundError) return error;
  // Everything else (network down, 5xx, 403 bad credentials, a short staged file) means the
  // bytes could not be stored or read now: the API answers -1.
  const status = httpStatus(error);
  return new BlobUnavailableError(`S3 ${action} failed${status ? ` (HTTP ${status})` : ''}: ${describe(error)}`, errorName(error));
}
