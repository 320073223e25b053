// Three real `oapi-media serve` processes sharing PostgreSQL (a fresh database), S3 (s3rver, in
// this process) and Redis, as behind a load balancer (issue 7). They start at once (migrations and
// the first-start bootstrap race); a token from any node works on every node; uploads through one
// node download through another; 200 mixed requests go round-robin; an org quota and a rate limit
// hold across nodes; a DingTalk chunked upload and a tus upload (issue 18) go on from node to node,
// one request each, and download byte-exact from every node; then one node is killed with SIGKILL while uploads are in flight: every
// acknowledged upload downloads from the survivors with its sha256, no row lacks its object, and
// the only orphans are the killed node's in-flight uploads, which the sweep removes.
// With CI=true an unreachable PostgreSQL or Redis fails the run.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { openServices, type Services } from '../src/composition-root.ts';
import { sampleOfSize } from './fixtures/samples.ts';
import { serve, type ServeProcess } from './helpers/cli.ts';
import { downloadBytes, getToken, sha256, upload } from './helpers/e2e-http.ts';
import { commitTransaction, largeFileUrl, openTransaction, sendChunk } from './helpers/large-files.ts';
import { startS3rver, type RunningS3rver } from './helpers/s3rver.ts';
import { redisUnreachableReason, TEST_REDIS_URL } from './helpers/redis.ts';

const ADMIN_URL = process.env.OAPI_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = TEST_REDIS_URL;
const KiB = 1024;

async function unreachableReason(): Promise<string | null> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    return `PostgreSQL at ${ADMIN_URL}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
  return redisUnreachableReason(REDIS_URL);
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A valid png of `size` bytes; distinct sizes give distinct contents (and sha256). */
let nextSize = 0;
function uniquePng(min: number, max: number): Buffer {
  nextSize = nextSize === 0 ? min : nextSize + 1 + Math.floor(Math.random() * 97);
  if (nextSize > max) nextSize = min + Math.floor(Math.random() * 1000);
  return sampleOfSize('png', nextSize);
}

const unreachable = await unreachableReason();

if (unreachable !== null && process.env.CI === 'true') {
  test('PostgreSQL and Redis are reachable (required with CI=true)', () => assert.fail(unreachable));
} else if (unreachable !== null) {
  test('three nodes on PostgreSQL + S3 + Redis', { skip: `unreachable: ${unreachable}` }, () => {});
} else {
  describe('three nodes on PostgreSQL + S3 + Redis', { timeout: 240_000 }, () => {
    const database = `oapi_multinode_${randomBytes(6).toString('hex')}`;
    const databaseUrl = `${ADMIN_URL.replace(/\/[^/]*$/, '')}/${database}`;
    const dirs: string[] = [];
    let s3: RunningS3rver;
    let nodes: ServeProcess[] = [];
    let operator: Services;
    const objectCount = async () => {
      let count = 0;
      for await (const _ of operator.blobs.list()) count++;
      return count;
    };
    let appKey: string;
    let appSecret: string;
    /** Every upload a node acknowledged (errcode 0), with the sha256 of what was sent. */
    const acknowledged = new Map<string, string>();
    const startedAt = performance.now();

    before(async () => {
      await adminQuery(`CREATE DATABASE ${database}`);
      s3 = await startS3rver();
      // The operator's in-process handle below reaches S3 through the SDK's usual AWS_* variables.
      Object.assign(process.env, s3.env);
      const env = {
        ...s3.env,
        DATABASE_URL: databaseUrl,
        OAPI_MEDIA_STORAGE: s3.url,
        OAPI_MEDIA_SECRET_KEY: randomBytes(32).toString('base64url'),
        REDIS_URL: `${REDIS_URL}?keyPrefix=oapi-multinode-${randomBytes(4).toString('hex')}:`,
        OAPI_MEDIA_RATE_LIMIT: '0',
      };
      for (let i = 0; i < 3; i++) dirs.push(await mkdtemp(join(tmpdir(), `oapi-node${i + 1}-`)));
      // All three at once: migrations, bucket creation and the default org race here.
      const started = await Promise.allSettled(dirs.map((dir) => serve(['--data', dir], env)));
      nodes = started.flatMap((start) => (start.status === 'fulfilled' ? [start.value] : []));
      // A node that failed to start fails the suite; the others must not keep the run waiting.
      const failed = started.find((start) => start.status === 'rejected');
      if (failed) throw failed.reason;
      operator = await openServices(
        loadConfig({ dataDir: dirs[0], databaseUrl, storageUrl: s3.url, secretKey: env.OAPI_MEDIA_SECRET_KEY, logLevel: 'silent' }, {}),
      );
    });

    after(async () => {
      await Promise.all(nodes.map((node) => node.stop('SIGKILL')));
      await operator?.close();
      await s3?.stop();
      await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    });

    test('started at once: one schema, one default org and app; its credentials (rotate-secret: none on a pipe) work on every node', async () => {
      assert.ok(nodes.some((node) => node.firstStart), 'some node created the default app');
      assert.equal((await operator.metadata.listOrgs()).filter((org) => org.name === 'default').length, 1);
      // By its appkey: nodes racing at once may each have made a `default` app (bootstrapDefault).
      const [first] = await operator.admin.listApps('default');
      const rotated = await operator.admin.rotateSecret('default', first!.appkey);
      ({ appkey: appKey, appsecret: appSecret } = rotated);
      for (const node of nodes) await getToken(node.url, appKey, appSecret);
    });

    test('a token from node 1 works on node 2; every node hands out that same token; upload via 2, download via 3', async () => {
      const [n1, n2, n3] = nodes.map((node) => node.url) as [string, string, string];
      const token = await getToken(n1, appKey, appSecret);
      assert.equal(await getToken(n2, appKey, appSecret), token, 'same key on every node: gettoken answers the same valid token');
      assert.equal(await getToken(n3, appKey, appSecret), token);
      const png = uniquePng(40 * KiB, 60 * KiB);
      const answer = await upload(n2, token, 'image', png, 'photo.png');
      assert.equal(answer.errcode, 0, JSON.stringify(answer));
      acknowledged.set(answer.media_id!, sha256(png));
      const { bytes } = await downloadBytes(n3, token, answer.media_id!);
      assert.equal(sha256(bytes), sha256(png));
    });

    test('200 mixed requests round-robin over the three nodes: every answer right', async (t) => {
      const urls = nodes.map((node) => node.url);
      const token = await getToken(urls[0]!, appKey, appSecret);
      const ids = [...acknowledged.keys()];
      const counts = { gettoken: 0, upload: 0, download: 0, range: 0, unknownMedia: 0 };
      const started = performance.now();
      const request = async (i: number): Promise<void> => {
        const url = urls[i % urls.length]!;
        switch (i % 5) {
          case 0: {
            assert.equal(await getToken(url, appKey, appSecret), token);
            counts.gettoken++;
            break;
          }
          case 1:
          case 2: {
            const png = uniquePng(8 * KiB, 200 * KiB);
            const answer = await upload(url, token, 'image', png, `p${i}.png`);
            assert.equal(answer.errcode, 0, JSON.stringify(answer));
            acknowledged.set(answer.media_id!, sha256(png));
            ids.push(answer.media_id!);
            counts.upload++;
            break;
          }
          case 3: {
            const id = ids[Math.floor(Math.random() * ids.length)]!;
            const { bytes } = await downloadBytes(url, token, id);
            assert.equal(sha256(bytes), acknowledged.get(id));
            counts.download++;
            break;
          }
          default: {
            if (i % 10 === 4) {
              const id = ids[Math.floor(Math.random() * ids.length)]!;
              const response = await fetch(`${url}/media/downloadFile?access_token=${token}&media_id=${encodeURIComponent(id)}`, { headers: { range: 'bytes=0-7' } });
              assert.equal(response.status, 206);
              assert.deepEqual(Buffer.from(await response.arrayBuffer()), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
              counts.range++;
            } else {
              const response = await fetch(`${url}/media/downloadFile?access_token=${token}&media_id=%40${randomBytes(16).toString('base64url')}`);
              assert.notEqual(((await response.json()) as { errcode: number }).errcode, 0);
              counts.unknownMedia++;
            }
          }
        }
      };
      // Eight clients at a time, each request to the next node in turn.
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < 200) await request(next++);
      }));
      const seconds = (performance.now() - started) / 1000;
      t.diagnostic(`200 mixed requests in ${seconds.toFixed(2)} s (${(200 / seconds).toFixed(0)} req/s over 3 nodes): ${JSON.stringify(counts)}`);
      assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 200);
    });

    test('an org quota holds across nodes: 16 uploads at once, room for 5 -> exactly 5 stored, 11 refused with 45010', async () => {
      const org = await operator.admin.createOrg('quota-org');
      const creds = await operator.admin.createApp('quota-org', 'uploader');
      const size = 100 * KiB;
      await operator.metadata.updateOrgLimits(org.id, { quotaBytes: 5 * size + size / 2 });
      const token = await getToken(nodes[0]!.url, creds.appkey, creds.appsecret);
      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, i) => upload(nodes[i % 3]!.url, token, 'image', sampleOfSize('png', size), `q${i}.png`)),
      );
      const codes = answers.map((a) => a.errcode).sort((a, b) => a - b);
      assert.deepEqual(codes, [...Array(5).fill(0), ...Array(11).fill(45010)]);
      assert.deepEqual(await operator.metadata.usage(org.id), { mediaCount: 5, totalBytes: 5 * size });
      assert.equal((await operator.metadata.listMedia(org.id, { limit: 100 })).items.length, 5);
    });

    test('a rate limit holds across nodes (Redis): 5/s, 30 requests at once over 3 nodes -> 5 admitted, not 15', async (t) => {
      const org = await operator.admin.createOrg('limited-org');
      const creds = await operator.admin.createApp('limited-org', 'busy');
      await operator.metadata.updateOrgLimits(org.id, { rateLimitPerSecond: 5 });
      const token = await getToken(nodes[1]!.url, creds.appkey, creds.appsecret);
      const started = performance.now();
      const codes = await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const response = await fetch(`${nodes[i % 3]!.url}/media/downloadFile?access_token=${token}&media_id=%40${randomBytes(16).toString('base64url')}`);
          return ((await response.json()) as { errcode: number }).errcode;
        }),
      );
      const refilled = Math.ceil(((performance.now() - started) / 1000) * 5);
      const admitted = codes.filter((code) => code !== 45009).length;
      t.diagnostic(`admitted ${admitted} of 30 (limit 5/s, burst took ${(performance.now() - started).toFixed(0)} ms)`);
      assert.ok(admitted >= 5 && admitted <= 5 + refilled, `admitted ${admitted}, at most ${5 + refilled}`);
      assert.ok(admitted < 15, 'not a per-node allowance');
    });

    /** The bytes of a '#' media through /file/download of every node, each one's sha256. */
    async function largeFileShas(token: string, mediaId: string): Promise<string[]> {
      return Promise.all(nodes.map(async (node) => {
        const response = await fetch(largeFileUrl(node.url, token, mediaId));
        assert.equal(response.status, 200, `${node.url}: ${response.status}`);
        return sha256(Buffer.from(await response.arrayBuffer()));
      }));
    }

    test('a DingTalk chunked upload across nodes: opened on 1, chunk 1 to 1, chunk 2 to 2 (and chunk 1 again to 3), commit on 3, retried on 1; byte-exact from every node', async () => {
      const [n1, n2, n3] = nodes.map((node) => node.url) as [string, string, string];
      const token = await getToken(n1, appKey, appSecret);
      const data = randomBytes(5 * 1024 * KiB + 12_345);
      const chunks = [data.subarray(0, 4 * 1024 * KiB), data.subarray(4 * 1024 * KiB)];
      const query = { access_token: token, file_size: String(data.length), chunk_numbers: '2' };
      const opened = await openTransaction(n1, query);
      assert.equal(opened.errcode, 0, JSON.stringify(opened));
      const uploadId = opened.upload_id!;
      assert.deepEqual(await sendChunk(n1, token, uploadId, 1, chunks[0]!), { errcode: 0, errmsg: 'ok' });
      assert.deepEqual(await sendChunk(n2, token, uploadId, 2, chunks[1]!), { errcode: 0, errmsg: 'ok' });
      assert.deepEqual(await sendChunk(n3, token, uploadId, 1, chunks[0]!), { errcode: 0, errmsg: 'ok' }, 'the same chunk again, on another node: acknowledged, nothing changed');
      assert.equal((await sendChunk(n3, token, uploadId, 1, chunks[1]!.subarray(0, 200 * KiB))).errcode, 45022, 'chunk 1 with other bytes, on another node');
      const committed = await commitTransaction(n3, { ...query, upload_id: uploadId });
      assert.equal(committed.errcode, 0, JSON.stringify(committed));
      assert.match(committed.media_id!, /^#/);
      const retried = await commitTransaction(n1, { ...query, upload_id: uploadId });
      assert.deepEqual(retried, { errcode: 0, errmsg: 'ok', media_id: committed.media_id }, 'a commit retried on another node answers the same media_id');
      assert.deepEqual(await largeFileShas(token, committed.media_id!), [sha256(data), sha256(data), sha256(data)]);
    });

    // 19 MiB in PATCHes that do not fall on S3 part boundaries (8 MiB): the tail one node leaves is
    // read back and completed by the next node's PATCH, parts are cut mid-PATCH, the last is short.
    test('a tus upload across nodes: POST on 1, PATCHes on 2, 3, 1 and 2, HEAD on 3 between them; the media_id on the final PATCH and on HEAD of 2; byte-exact from every node', async () => {
      const [n1, n2, n3] = nodes.map((node) => node.url) as [string, string, string];
      const token = await getToken(n2, appKey, appSecret);
      const data = randomBytes(19 * 1024 * KiB + 999);
      const objectsBefore = await objectCount();
      const headers = { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` };
      const created = await fetch(`${n1}/tus/files`, { method: 'POST', headers: { ...headers, 'upload-length': String(data.length), 'upload-metadata': `filename ${Buffer.from('nodes.bin').toString('base64')}` } });
      assert.equal(created.status, 201, await created.text());
      const path = created.headers.get('location')!;
      const patch = (url: string, from: number, to: number) => fetch(`${url}${path}`, {
        method: 'PATCH', body: new Uint8Array(data.subarray(from, to)),
        headers: { ...headers, 'content-type': 'application/offset+octet-stream', 'upload-offset': String(from) },
      });
      const offsetOn = async (url: string) => (await fetch(`${url}${path}`, { method: 'HEAD', headers })).headers.get('upload-offset');
      const cuts = [0, 1024 * KiB, 9 * 1024 * KiB + 7, 17 * 1024 * KiB + 3, data.length];
      const first = await patch(n2, cuts[0]!, cuts[1]!);
      assert.equal(first.status, 204);
      assert.equal(await offsetOn(n3), String(cuts[1]), 'node 3 sees what node 2 acknowledged');
      assert.equal((await patch(n1, cuts[0]!, cuts[1]!)).status, 409, 'a stale offset on another node');
      assert.equal((await patch(n3, cuts[1]!, cuts[2]!)).status, 204);
      assert.equal(await offsetOn(n2), String(cuts[2]));
      assert.equal((await patch(n1, cuts[2]!, cuts[3]!)).status, 204);
      const last = await patch(n2, cuts[3]!, cuts[4]!);
      assert.equal(last.status, 204, await last.text());
      const mediaId = last.headers.get('oapi-media-id');
      assert.match(mediaId ?? '', /^#/);
      const head = await fetch(`${n2}${path}`, { method: 'HEAD', headers });
      assert.equal(head.headers.get('oapi-media-id'), mediaId, 'HEAD on another node answers the media_id');
      assert.equal(head.headers.get('upload-offset'), String(data.length));
      assert.deepEqual(await largeFileShas(token, mediaId!), [sha256(data), sha256(data), sha256(data)]);
      assert.equal(await objectCount(), objectsBefore + 1, 'one object more, the media\'s: S3 assembled the parts, the tails are gone');
    });

    test('a tus upload terminated on another node after a part and a tail: its parts and tail go, no object is left', async () => {
      const [n1, n2, n3] = nodes.map((node) => node.url) as [string, string, string];
      const token = await getToken(n1, appKey, appSecret);
      const headers = { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` };
      const objectsBefore = await objectCount();
      const created = await fetch(`${n1}/tus/files`, { method: 'POST', headers: { ...headers, 'upload-length': String(20 * 1024 * KiB) } });
      const path = created.headers.get('location')!;
      const patched = await fetch(`${n2}${path}`, {
        method: 'PATCH', body: new Uint8Array(randomBytes(9 * 1024 * KiB)),
        headers: { ...headers, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
      });
      assert.equal(patched.status, 204);
      assert.equal(await objectCount(), objectsBefore + 1, 'the 1 MiB tail is an object of its own; the part is not an object yet');
      assert.equal((await fetch(`${n3}${path}`, { method: 'DELETE', headers })).status, 204);
      assert.equal(await objectCount(), objectsBefore);
      assert.equal((await fetch(`${n1}${path}`, { method: 'HEAD', headers })).status, 404);
    });

    test('kill -9 of one node mid-load: every acknowledged upload downloads from the survivors; nothing half-written', async (t) => {
      const token = await getToken(nodes[0]!.url, appKey, appSecret);
      const victim = nodes[0]!;
      let victimDead = false;
      let victimInFlightAtKill = 0;
      let victimInFlight = 0;
      let sent = 0;
      let refused = 0;
      const before = acknowledged.size;
      const started = performance.now();
      const client = async (c: number): Promise<void> => {
        for (let i = 0; performance.now() - started < 4_000 && i < 200; i++) {
          const target = nodes[(c + i) % 3]!;
          if (target === victim && victimDead) continue;
          const png = uniquePng(256 * KiB, 1024 * KiB);
          sent++;
          if (target === victim) victimInFlight++;
          try {
            const answer = await upload(target.url, token, 'image', png, `k${c}-${i}.png`);
            if (answer.errcode === 0) acknowledged.set(answer.media_id!, sha256(png));
            else refused++;
          } catch {
            refused++; // the connection died with the node: not acknowledged, so not promised
          } finally {
            if (target === victim) victimInFlight--;
          }
        }
      };
      const load = Promise.all(Array.from({ length: 6 }, (_, c) => client(c)));
      // Kill while the victim is mid-upload (fast machines finish uploads quickly: wait for one).
      await sleep(500);
      while (victimInFlight === 0 && performance.now() - started < 3_000) await sleep(1);
      victimInFlightAtKill = victimInFlight;
      victim.child.kill('SIGKILL');
      victimDead = true;
      await load;
      const survivors = nodes.slice(1).map((node) => node.url);
      const seconds = (performance.now() - started) / 1000;

      // Every acknowledged upload, from every phase, from whichever node, through the survivors.
      let lost = 0;
      let i = 0;
      for (const [mediaId, expected] of acknowledged) {
        const { bytes } = await downloadBytes(survivors[i++ % 2]!, token, mediaId).catch(() => ({ bytes: Buffer.alloc(0) }));
        if (sha256(bytes) !== expected) lost++;
      }

      // Rows against objects: no row without its whole object; objects without a row only from the kill.
      const rows = new Map<string, { size: number; sha256: string }>();
      for (const org of await operator.metadata.listOrgs()) {
        let after: string | undefined;
        do {
          const page = await operator.metadata.listMedia(org.id, { limit: 500, ...(after === undefined ? {} : { after }) });
          for (const row of page.items) rows.set(row.blobKey, { size: row.size, sha256: row.sha256 });
          after = page.next ?? undefined;
        } while (after !== undefined);
      }
      const objects = new Map<string, number>();
      for await (const blob of operator.blobs.list()) objects.set(blob.key, blob.size);
      const rowsWithoutObject = [...rows].filter(([key, row]) => objects.get(key) !== row.size);
      const orphans = [...objects.keys()].filter((key) => !rows.has(key));
      const removed = await operator.media.sweepOrphans(0);
      let afterSweep = 0;
      for await (const _ of operator.blobs.list()) afterSweep++;

      t.diagnostic(
        `kill -9 mid-load: ${sent} uploads sent in ${seconds.toFixed(2)} s, ${acknowledged.size - before} acknowledged, ${refused} refused or cut; ` +
          `${victimInFlightAtKill} in flight on the killed node; ${acknowledged.size} acknowledged uploads in all, lost ${lost}; ` +
          `${rows.size} rows, ${objects.size} objects, ${orphans.length} orphans (swept ${removed})`,
      );
      t.diagnostic(`whole multi-node run: ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
      assert.ok(victimInFlightAtKill > 0 || refused > 0, 'the kill hit uploads in flight');
      assert.equal(lost, 0, 'every acknowledged upload downloads with its sha256');
      assert.deepEqual(rowsWithoutObject, [], 'no row points at a missing or short object');
      assert.ok(orphans.length <= victimInFlightAtKill, `${orphans.length} orphans, at most the ${victimInFlightAtKill} in flight on the killed node`);
      assert.equal(removed, orphans.length);
      assert.equal(afterSweep, rows.size, 'after the sweep, objects and rows match one to one');
      for (const survivor of survivors) assert.equal((await fetch(`${survivor}/readyz`)).status, 200);
    });
  });
}
