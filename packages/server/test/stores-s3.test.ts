// S3BlobStore against s3rver started in this process: the conformance suite, plus what only S3
// has (URL parsing, prefixes, paginated listing, aborted multipart uploads, unreachable endpoint).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { BlobNotFoundError, BlobUnavailableError, type BlobStore } from '../src/stores/blobs/interface.ts';
import { parseS3Url, S3BlobStore } from '../src/stores/blobs/s3.ts';
import { describeBlobStore } from './conformance/blob-store.ts';
import { startS3rver, type RunningS3rver } from './helpers/s3rver.ts';

async function listKeys(store: BlobStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list()) keys.push(info.key);
  return keys.sort();
}

describe('S3BlobStore on s3rver', () => {
  let s3: RunningS3rver;
  before(async () => {
    s3 = await startS3rver();
  });
  after(async () => {
    await s3?.stop();
  });

  function storeFor(url: string, extra: { listPageSize?: number } = {}): S3BlobStore {
    return new S3BlobStore({ ...parseS3Url(url), credentials: s3.credentials, ...extra });
  }

  describeBlobStore('s3rver, bucket root', async () => {
    const store = storeFor(s3.url);
    await store.init();
    return { store, cleanup: async () => store.close() };
  });

  describeBlobStore('s3rver, under a prefix', async () => {
    const store = storeFor(s3.url.replace('?', '/tenant-a/media?'));
    await store.init();
    return { store, cleanup: async () => store.close() };
  });

  // The parts an upload session sends (upload-sessions.ts, tus on S3): assembled by S3, byte-exact.
  test('parted uploads: parts from streams, completed (twice: the second a no-op) into the object; a short part refused; abort leaves nothing', async () => {
    const store = storeFor(s3.url.replace('?', '/parted?'));
    await store.init();
    try {
      const parted = store.parted;
      const first = randomBytes(parted.minPartBytes);
      const second = randomBytes(1234);
      const uploadId = await parted.begin('partedobject1');
      const tags = [
        { partNumber: 1, tag: await parted.putPart('partedobject1', uploadId, 1, Readable.from([first]), first.length) },
        { partNumber: 2, tag: await parted.putPart('partedobject1', uploadId, 2, Readable.from([second]), second.length) },
      ];
      await assert.rejects(parted.putPart('partedobject1', uploadId, 3, Readable.from([second]), second.length + 1), BlobUnavailableError, 'fewer bytes than said');
      assert.deepEqual(await listKeys(store), [], 'no object before the completion');
      await parted.complete('partedobject1', uploadId, tags);
      await parted.complete('partedobject1', uploadId, tags); // a retried commit
      const chunks: Buffer[] = [];
      for await (const chunk of await store.get('partedobject1')) chunks.push(chunk as Buffer);
      assert.ok(Buffer.concat(chunks).equals(Buffer.concat([first, second])));
      const dropped = await parted.begin('partedobject2');
      await parted.putPart('partedobject2', dropped, 1, Readable.from([second]), second.length);
      await parted.abort('partedobject2', dropped);
      await parted.abort('partedobject2', dropped); // gone already: not an error
      assert.deepEqual(await listKeys(store), ['partedobject1']);
    } finally {
      await store.close();
    }
  });

  describe('S3-specific behaviour', () => {
    let stagingDir: string;
    before(async () => {
      stagingDir = await mkdtemp(join(tmpdir(), 'oapi-s3-staging-'));
    });
    after(async () => {
      await rm(stagingDir, { recursive: true, force: true });
    });

    async function stage(bytes: Buffer): Promise<string> {
      const path = join(stagingDir, randomBytes(8).toString('hex'));
      await writeFile(path, bytes);
      return path;
    }

    test('init() twice on an existing bucket is fine', async () => {
      const store = storeFor(s3.url);
      try {
        await store.init();
        await store.init();
        await store.ping();
      } finally {
        await store.close();
      }
    });

    test('two prefixes in one bucket do not see each other; list returns keys without the prefix', async () => {
      const bucketUrl = s3.url.replace('s3://', 's3://prefixes-');
      const root = storeFor(bucketUrl);
      const tenantA = storeFor(bucketUrl.replace('?', '/a?'));
      const tenantB = storeFor(bucketUrl.replace('?', '/b?'));
      try {
        await root.init();
        await tenantA.putFile('same-key', await stage(Buffer.from('A')), 1);
        await tenantB.putFile('same-key', await stage(Buffer.from('BB')), 2);
        assert.deepEqual(await listKeys(tenantA), ['same-key']);
        assert.deepEqual(await listKeys(tenantB), ['same-key']);
        assert.deepEqual(await listKeys(root), ['a/same-key', 'b/same-key']);
        await tenantA.delete('same-key');
        await assert.rejects(tenantA.get('same-key'), BlobNotFoundError);
        assert.deepEqual(await listKeys(tenantB), ['same-key']);
      } finally {
        await Promise.all([root.close(), tenantA.close(), tenantB.close()]);
      }
    });

    test('list follows continuation tokens across pages (7 blobs, pages of 3)', async () => {
      const store = storeFor(s3.url.replace('s3://', 's3://paging-'), { listPageSize: 3 });
      try {
        await store.init();
        const keys = Array.from({ length: 7 }, (_, i) => `blob-${i}`);
        for (const key of keys) await store.putFile(key, await stage(Buffer.from(key)), key.length);
        assert.deepEqual(await listKeys(store), keys);
      } finally {
        await store.close();
      }
    });

    test('a staged file shorter than its declared size fails mid-multipart: no object, staged file gone', async () => {
      const store = storeFor(s3.url);
      try {
        await store.init();
        const stagedPath = await stage(randomBytes(9 * 1024 * 1024));
        // 10 MiB declared, 9 MiB present: the first 5 MiB part is already uploaded when it fails.
        await assert.rejects(store.putFile('short-multipart', stagedPath, 10 * 1024 * 1024), BlobUnavailableError);
        assert.equal(existsSync(stagedPath), false);
        await assert.rejects(store.get('short-multipart'), BlobNotFoundError);
        assert.ok(!(await listKeys(store)).includes('short-multipart'));
      } finally {
        await store.close();
      }
    });

    test('a staged file longer than its declared size is refused too', async () => {
      const store = storeFor(s3.url);
      try {
        await store.init();
        await assert.rejects(store.putFile('long-single', await stage(Buffer.from('12345')), 4), BlobUnavailableError);
        await assert.rejects(store.get('long-single'), BlobNotFoundError);
      } finally {
        await store.close();
      }
    });

    test('an unreachable endpoint -> BlobUnavailableError from ping, get, putFile and list', async () => {
      const store = new S3BlobStore({
        ...parseS3Url('s3://nowhere?endpoint=http://127.0.0.1:1&forcePathStyle=true'),
        credentials: s3.credentials,
      });
      try {
        await assert.rejects(store.ping(), BlobUnavailableError);
        await assert.rejects(store.get('x'), BlobUnavailableError);
        const stagedPath = await stage(Buffer.from('x'));
        await assert.rejects(store.putFile('x', stagedPath, 1), BlobUnavailableError);
        assert.equal(existsSync(stagedPath), false, 'the staged file is consumed on failure too');
        await assert.rejects(listKeys(store), BlobUnavailableError);
      } finally {
        await store.close();
      }
    });

    test('wrong credentials -> BlobUnavailableError, not a leaked S3 error', async () => {
      const store = new S3BlobStore({ ...parseS3Url(s3.url), credentials: { accessKeyId: 'nobody', secretAccessKey: 'wrong' } });
      try {
        await assert.rejects(store.get('x'), (error: unknown) => error instanceof BlobUnavailableError && error.code === 'InvalidAccessKeyId');
      } finally {
        await store.close();
      }
    });
  });
});

describe('parseS3Url', () => {
  test('bucket, nested prefix, endpoint, region and path style', () => {
    assert.deepEqual(parseS3Url('s3://media/prod/eu/?endpoint=http%3A%2F%2F127.0.0.1%3A7480&region=eu-west-1&forcePathStyle=true'), {
      bucket: 'media',
      prefix: 'prod/eu/',
      endpoint: 'http://127.0.0.1:7480',
      region: 'eu-west-1',
      forcePathStyle: true,
    });
  });

  test('an unencoded endpoint works too', () => {
    assert.equal(parseS3Url('s3://b?endpoint=http://127.0.0.1:9000&forcePathStyle=true').endpoint, 'http://127.0.0.1:9000');
  });

  test('just a bucket: no prefix, no endpoint, virtual-host style, region from AWS_REGION or us-east-1', () => {
    const parsed = parseS3Url('s3://my-bucket');
    assert.equal(parsed.bucket, 'my-bucket');
    assert.equal(parsed.prefix, '');
    assert.equal(parsed.endpoint, undefined);
    assert.equal(parsed.forcePathStyle, false);
    assert.equal(parsed.region, process.env.AWS_REGION ?? 'us-east-1');
  });

  test('rejects other schemes, missing bucket, credentials in the URL and unknown parameters', () => {
    assert.throws(() => parseS3Url('http://bucket/x'));
    assert.throws(() => parseS3Url('s3:///prefix'));
    assert.throws(() => parseS3Url('s3://AK:SK@bucket'));
    assert.throws(() => parseS3Url('s3://bucket?endpiont=http://x'));
    assert.throws(() => parseS3Url('s3://bucket?forcePathStyle=yes'));
  });
});
