// Faults of the dependencies (issue 15): Redis (REDIS_URL, the shared rate limits) stopped while 64
// uploads run at once, then started again. On a redis-server of the test's own (a free port): the
// machine's shared one is never touched. As documented (docs/scale.md "Failure behaviour"): limits
// fall back to per-node counting (still enforced: 5/s admits 5), no request waits for Redis, one
// warn log line says so at the transition (not one per request), /metrics says so
// (oapi_media_rate_limits_shared 0, oapi_media_rate_limit_fallbacks_total 1), and once Redis is
// back the node shares its counters again by itself, with one info line.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { startServer } from '../../src/server.ts';
import { getToken } from '../helpers/e2e-http.ts';
import { recordFigures } from './helpers/figures.ts';
import { startOwnRedis } from './helpers/own-services.ts';
import { seededRandom } from './helpers/seeded-random.ts';
import { errcodeSummary, prepareUploads, uploadWave, verifyAcknowledged, type Acknowledged } from './helpers/upload-waves.ts';

/** A limit check never waits longer for Redis (rate-limit-redis.ts COMMAND_TIMEOUT_MS) ... */
const COMMAND_TIMEOUT_MS = 500;
/** ... and the uploads themselves take their time on a loaded 2-core machine. */
const SLACK_MS = 5_000;

function metric(text: string, name: string): number | undefined {
  const line = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return line ? Number(line[1]) : undefined;
}

test('Redis stopped under 64 concurrent uploads: limits per node (5/s still admits 5), no request waits, one log line and a metric; shared again once it is back',
  { timeout: 90_000 }, async (t) => {
    const random = seededRandom();
    t.diagnostic(`seed ${random.seed} (replay with RELIABILITY_SEED=${random.seed})`);
    const redis = await startOwnRedis();
    const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-redis-outage-'));
    const lines: { level: number; msg: string; rateLimits?: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as (typeof lines)[number]);
        done();
      },
    });
    try {
      // 200/s per app by default: 64 uploads at once stay within it; org `paced` is held to 5/s.
      const config = loadConfig({ host: '127.0.0.1', port: 0, dataDir, redisUrl: `${redis.url}/0?keyPrefix=drill:`, defaultRateLimitPerSecond: 200 }, {});
      const server = await startServer(config, { logger: pino({ level: 'info' }, sink) });
      try {
        const creds = server.firstStartCredentials!;
        const token = await getToken(server.url, creds.appkey, creds.appsecret);
        await server.services.admin.createOrg('paced');
        await server.services.admin.setOrgLimits('paced', { rateLimitPerSecond: 5 });
        const paced = await server.services.admin.createApp('paced', 'paced-app');
        const pacedToken = await getToken(server.url, paced.appkey, paced.appsecret);
        const metrics = async () => (await fetch(`${server.url}/metrics`)).text();
        /**
         * 20 calls at once of the 5/s app, after a second's refill: how many were admitted. 5, plus
         * what refilled while the burst was under way (checked here), never the 20.
         */
        const pacedBurst = async () => {
          await sleep(1_100);
          const started = performance.now();
          const codes = await Promise.all(Array.from({ length: 20 }, async () =>
            ((await (await fetch(`${server.url}/media/downloadFile?access_token=${pacedToken}&media_id=@nothing-here-at-all`)).json()) as { errcode: number }).errcode));
          const admitted = codes.filter((code) => code !== 45009).length;
          const refilled = Math.ceil(((performance.now() - started) / 1000) * 5);
          assert.ok(admitted >= 5 && admitted <= 5 + refilled, `admitted ${admitted} of 20, at most ${5 + refilled}`);
          return admitted;
        };
        const limiterLines = () => lines.filter((l) => l.rateLimits !== undefined);
        const acknowledged: Acknowledged[] = [];

        assert.equal(metric(await metrics(), 'oapi_media_rate_limits_shared'), 1, 'shared before the outage');
        const sharedAdmitted = await pacedBurst();

        // Stopped while the 64 uploads run, then another 64 while it is down.
        const during = uploadWave(server.url, token, prepareUploads(random));
        await sleep(50);
        const stoppedAt = performance.now();
        await redis.stop();
        const firstWave = await during;
        const downWave = await uploadWave(server.url, token, prepareUploads(random));
        const downAdmitted = await pacedBurst();
        const downMetrics = await metrics();
        acknowledged.push(...firstWave.acknowledged, ...downWave.acknowledged);
        t.diagnostic(`Redis stopped: ${errcodeSummary(firstWave.byErrcode)} (last at ${firstWave.maxAnswerMs} ms), then ${errcodeSummary(downWave.byErrcode)} (last at ${downWave.maxAnswerMs} ms); 5/s app admitted ${downAdmitted} of 20`);
        assert.deepEqual(firstWave.byErrcode, { 0: 64 }, 'the uploads in flight are served');
        assert.deepEqual(downWave.byErrcode, { 0: 64 }, 'uploads are served while Redis is down');
        assert.ok(downWave.maxAnswerMs < COMMAND_TIMEOUT_MS + SLACK_MS, `no request waits for Redis: ${downWave.maxAnswerMs} ms`);
        assert.equal(metric(downMetrics, 'oapi_media_rate_limits_shared'), 0);
        assert.equal(metric(downMetrics, 'oapi_media_rate_limit_fallbacks_total'), 1);
        const outageLines = limiterLines();
        assert.equal(outageLines.length, 1, `one line per transition, not one per request: ${JSON.stringify(outageLines)}`);
        assert.deepEqual([outageLines[0]!.level, outageLines[0]!.rateLimits], [40, 'per-node'], 'a warn line');

        // Back: shared again by itself (ioredis reconnects at least once a second).
        const downMs = Math.round(performance.now() - stoppedAt);
        await redis.start();
        const startedAt = performance.now();
        let recoveryMs: number | undefined;
        while (performance.now() - startedAt < 10_000) {
          if (metric(await metrics(), 'oapi_media_rate_limits_shared') === 1) {
            recoveryMs = Math.round(performance.now() - startedAt);
            break;
          }
          await sleep(50);
        }
        assert.ok(recoveryMs !== undefined, 'shared again within 10 s of Redis starting');
        const backAdmitted = await pacedBurst();
        const afterWave = await uploadWave(server.url, token, prepareUploads(random));
        assert.deepEqual(afterWave.byErrcode, { 0: 64 });
        acknowledged.push(...afterWave.acknowledged);
        const allLines = limiterLines();
        assert.equal(allLines.length, 2);
        assert.deepEqual([allLines[1]!.level, allLines[1]!.rateLimits], [30, 'shared'], 'an info line when it is back');
        assert.equal(metric(await metrics(), 'oapi_media_rate_limit_fallbacks_total'), 1);
        const checked = await verifyAcknowledged(server.url, token, acknowledged);
        assert.deepEqual(checked, { lost: 0, corrupt: 0 });

        const f = {
          uploads: 192, acknowledged: acknowledged.length, lost: checked.lost, corrupt: checked.corrupt,
          inFlightWaveMaxMs: firstWave.maxAnswerMs, downWaveMaxMs: downWave.maxAnswerMs, downMs,
          pacedAdmittedShared: sharedAdmitted, pacedAdmittedDown: downAdmitted, pacedAdmittedBack: backAdmitted,
          logLines: allLines.length, fallbacks: 1, recoveryMs, seed: random.seed,
        };
        await recordFigures({
          id: 'faults/redis-outage', section: 'Faults',
          title: 'Redis (REDIS_URL) stopped during 64 concurrent uploads, then started again',
          variant: 'default',
          summary: `uploads in flight and during the outage: 128/128 acknowledged, the slowest answered in ${Math.max(f.inFlightWaveMaxMs, f.downWaveMaxMs)} ms; ` +
            `a 5/s app admitted ${f.pacedAdmittedShared}/${f.pacedAdmittedDown}/${f.pacedAdmittedBack} of 20 (shared/per node/shared again); ` +
            `1 warn line, oapi_media_rate_limits_shared 0, fallbacks_total 1; shared again ${f.recoveryMs} ms after Redis started (1 info line); ` +
            `${f.acknowledged} acknowledged, ${f.lost} lost (sha256)`,
          figures: f,
        });
      } finally {
        await server.close();
      }
    } finally {
      await redis.destroy();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
