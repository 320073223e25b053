// S3BlobStore against a real object store (issue 7): the blob-store conformance suite on a
// throwaway single-node Ceph RADOS Gateway (scripts/ceph-rgw.sh). Part of `npm run test:s3-real`,
// which installs radosgw first where it is missing; skipped without radosgw unless CI=true.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { parseS3Url, S3BlobStore } from '../src/stores/blobs/s3.ts';
import { describeBlobStore } from './conformance/blob-store.ts';
import { cephAvailable, startCephRgw, type CephRgw } from './helpers/ceph-rgw.ts';

if (!cephAvailable() && process.env.CI === 'true') {
  test('radosgw is installed (required with CI=true: scripts/ceph-rgw.sh install)', () => assert.fail('radosgw not on PATH'));
} else if (!cephAvailable()) {
  test('S3BlobStore on Ceph RGW', { skip: 'radosgw not installed (scripts/ceph-rgw.sh install)' }, () => {});
} else {
  describe('S3BlobStore on Ceph RGW', { timeout: 300_000 }, () => {
    let rgw: CephRgw;
    const bucket = `oapi-conformance-${randomBytes(4).toString('hex')}`;
    before(async () => {
      rgw = await startCephRgw();
    });
    after(async () => {
      await rgw?.stop();
    });

    function storeFor(prefix: string): S3BlobStore {
      const url = `s3://${bucket}${prefix}?endpoint=${encodeURIComponent(rgw.endpoint)}&region=${rgw.region}&forcePathStyle=true`;
      return new S3BlobStore({ ...parseS3Url(url), credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } });
    }

    describeBlobStore('Ceph RGW, bucket root', async () => {
      const store = storeFor('');
      await store.init();
      return { store, cleanup: async () => store.close() };
    });

    describeBlobStore('Ceph RGW, under a prefix', async () => {
      const store = storeFor('/tenant-a/media');
      await store.init();
      return { store, cleanup: async () => store.close() };
    });
  });
}
