// BlobStore on any S3-compatible object store (issue 7:
// OAPI_MEDIA_STORAGE=s3://BUCKET/prefix?endpoint=...&region=...&forcePathStyle=true), shared by
// every node. Uploads stream the staged file as a multipart upload (aborted on failure, so no
// object remains); ranges are ranged GETs. S3 errors are translated here and never leak above.

import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  UploadPartCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { StandardRetryStrategy } from '@smithy/core/retry';
import { BlobNotFoundError, BlobUnavailableError, type BlobInfo, type BlobStore, type ByteRange, type PartedUploads } from './interface.ts';

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
  /** Each attempt of a request answered within this, a silent connection cut after it (config.ts DEFAULT_S3_TIMEOUT_MS). */
  timeoutMs?: number;
}

const DEFAULT_REGION = 'us-east-1';
const DEFAULT_PART_SIZE = 5 * 1024 * 1024;
/** Parts of one upload sent at once: bounds memory to about queueSize * partSize per upload. */
const UPLOAD_QUEUE_SIZE = 2;
const CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 30_000;
/** config.ts S3_MAX_ATTEMPTS: attempts of an idempotent call. */
const MAX_ATTEMPTS = 3;

/**
 * Calls that must not be sent twice: a second CreateMultipartUpload opens another upload (the first
 * one's id is lost, never aborted); a second CompleteMultipartUpload, after a first whose answer
 * was lost, answers NoSuchUpload. Everything else we send is idempotent: our keys are never reused,
 * so a PutObject or UploadPart sent again writes the same bytes to the same place.
 */
const NOT_IDEMPOTENT = new Set(['CreateMultipartUploadCommand', 'CompleteMultipartUploadCommand', 'CreateBucketCommand']);

type RetryToken = Awaited<ReturnType<StandardRetryStrategy['acquireInitialRetryToken']>>;
type RetryErrorInfo = Parameters<StandardRetryStrategy['refreshRetryTokenForRetry']>[1];

/**
 * The SDK's standard retry mode (exponential backoff with jitter, a retry budget, only transient
 * errors: 500/502/503/504, throttling, timeouts, resets), except for a failure of a call in
 * NOT_IDEMPOTENT, which the SDK would retry too: that one is never retried.
 */
class IdempotentOnlyRetryStrategy {
  readonly #standard = new StandardRetryStrategy(MAX_ATTEMPTS);
  /** Failures of non-idempotent calls, marked by the middleware below as they pass. */
  readonly notRetried = new WeakSet<object>();

  acquireInitialRetryToken(scope: string): Promise<RetryToken> {
    return this.#standard.acquireInitialRetryToken(scope);
  }

  refreshRetryTokenForRetry(token: RetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    const error = errorInfo.error as object | undefined;
    if (error !== undefined && this.notRetried.has(error)) return Promise.reject(new Error('not retried: the call is not idempotent'));
    return this.#standard.refreshRetryTokenForRetry(token, errorInfo);
  }

  recordSuccess(token: RetryToken): void {
    this.#standard.recordSuccess(token);
  }
}

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
  /** Deletes of failed uploads' objects still under way (close() waits for them). */
  readonly #cleanups = new Set<Promise<void>>();
  /** S3's multipart upload, for upload sessions: parts sent from any node, assembled by S3 at the commit. */
  readonly parted: PartedUploads = {
    minPartBytes: 5 * 1024 * 1024,
    begin: async (key) => {
      try {
        const started = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + key }));
        if (!started.UploadId) throw new BlobUnavailableError(`S3 began no multipart upload for ${key}`);
        return started.UploadId;
      } catch (error) {
        throw translateError(error, `multipart upload of ${key}`);
      }
    },
    putPart: async (key, uploadId, partNumber, body, size) => {
      // A body that fails (a short local file) must end the request too, not leave it waiting for bytes.
      const abort = new AbortController();
      const checked = pipeline(body, exactLength(size), (error) => {
        if (error) abort.abort(error);
      });
      try {
        const sent = await this.client.send(new UploadPartCommand({
          Bucket: this.bucket, Key: this.prefix + key, UploadId: uploadId, PartNumber: partNumber, Body: checked, ContentLength: size,
        }), { abortSignal: abort.signal });
        if (!sent.ETag) throw new BlobUnavailableError(`S3 answered no ETag for part ${partNumber} of ${key}`);
        return sent.ETag;
      } catch (error) {
        throw translateError(error, `part ${partNumber} of ${key}`);
      }
    },
    complete: async (key, uploadId, parts) => {
      try {
        await this.client.send(new CompleteMultipartUploadCommand({
          Bucket: this.bucket, Key: this.prefix + key, UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.tag })) },
        }));
      } catch (error) {
        // Completed before (an answer lost, a retried commit): the upload is gone (NoSuchUpload; some
        // stores answer 500), its object there. The key is the session's own: no one else's object.
        if (await this.#exists(key).catch(() => false)) return;
        throw translateError(error, `completion of ${key}`);
      }
    },
    abort: async (key, uploadId) => {
      try {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + key, UploadId: uploadId }));
      } catch (error) {
        if (errorName(error) === 'NoSuchUpload' || httpStatus(error) === 404) return;
        // Some S3-compatible stores cannot abort (s3rver: 405): their lifecycle rules collect the parts.
        if (httpStatus(error) === 405 || errorName(error) === 'NotImplemented') return;
        throw translateError(error, `abort of ${key}`);
      }
    },
  };

  async #exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return true;
    } catch (error) {
      if (httpStatus(error) === 404 || errorName(error) === 'NotFound') return false;
      throw translateError(error, `head of ${key}`);
    }
  }

  constructor(options: S3BlobStoreOptions) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const retryStrategy = new IdempotentOnlyRetryStrategy();
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
      maxAttempts: MAX_ATTEMPTS,
      retryStrategy,
      requestHandler: {
        connectionTimeout: Math.min(CONNECT_TIMEOUT_MS, timeoutMs),
        // requestTimeout alone only logs a warning: throwOnRequestTimeout makes it fail the attempt
        // (a TimeoutError, which the retry strategy treats as transient). It runs until the answer's
        // headers; socketTimeout then cuts a body that stalls mid-way (a download's stream errors).
        requestTimeout: timeoutMs,
        throwOnRequestTimeout: true,
        socketTimeout: timeoutMs,
      },
    });
    // Inside the retry middleware (same step, lower priority): sees every attempt's failure.
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          if (NOT_IDEMPOTENT.has(context.commandName ?? '') && typeof error === 'object' && error !== null) retryStrategy.notRetried.add(error);
          throw error;
        }
      },
      { step: 'finalizeRequest', priority: 'low', name: 'oapiMediaNotIdempotent' },
    );
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
    // Each is bounded by the request timeout and the retry attempts.
    await Promise.allSettled([...this.#cleanups]);
    this.client.destroy();
  }

  /** Deletes what a failed upload may have left (a failure leaves an orphan for the sweep). */
  #cleanUp(objectKey: string): void {
    const cleanup = this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey })).then(() => {}, () => {});
    this.#cleanups.add(cleanup);
    void cleanup.finally(() => this.#cleanups.delete(cleanup));
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
      // A Put or Complete that the store applied but whose answer was lost would leave an object
      // that no row references: remove it now rather than wait for the orphan sweep. In the
      // background: the answer (-1) need not wait for an endpoint that may be the reason it failed.
      this.#cleanUp(objectKey);
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
