// The test harness's bundle mode (TEST_SERVER=bundle) passes a test's config to the bundle as an
// operator would: through the environment. These check that the names are the ones config.ts
// reads, and that a setting no variable carries is refused rather than dropped.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, type ConfigInput } from '../src/config.ts';
import { operatorEnv } from './helpers/operator-env.ts';
import { testServerBuild } from './helpers/server-process.ts';

/** A value other than the default for every setting an operator sets by environment. */
const SAMPLE: Required<Omit<ConfigInput, 'now' | 'tokenTtlSeconds'>> = {
  host: '10.1.2.3',
  port: 1234,
  dataDir: '/srv/oapi-media',
  databaseUrl: 'postgres://db.example/media',
  storageUrl: 's3://media?endpoint=http%3A%2F%2Fs3.example',
  redisUrl: 'redis://redis.example',
  databaseTimeoutMs: 2345,
  s3TimeoutMs: 3456,
  secretKey: 'a-shared-key',
  errmsgLanguage: 'en',
  logLevel: 'debug',
  defaultRateLimitPerSecond: 7,
  requestIdleTimeoutMs: 1234,
  headerTimeoutMs: 4321,
  authFailureLimit: 3,
  authFailureWindowMs: 999,
  suiteTicketRotationSeconds: 60,
  trustProxy: '10.0.0.0/8',
  inlineMaxBytes: 1000,
  uploadStreams: 3,
  minBodyBytesPerSecond: 512,
  minBodyRateWindowMs: 5000,
  shutdownGraceMs: 7000,
  shutdownDrainDelayMs: 1500,
  dialects: 'dingtalk=/dt',
  expirySweepIntervalMs: 5000,
};

test('every setting given through operatorEnv reaches the config as it does when given directly', () => {
  const { now: _fromEnvClock, ...fromEnv } = loadConfig({}, operatorEnv(SAMPLE));
  const { now: _fromInputClock, ...fromInput } = loadConfig(SAMPLE, {});
  assert.deepEqual(fromEnv, fromInput);
});

test('a setting left undefined sets no variable (the server default, or the engine opted out of)', () => {
  assert.deepEqual(operatorEnv({ dataDir: '/d', databaseUrl: undefined, trustProxy: true }), { OAPI_MEDIA_DATA: '/d', OAPI_MEDIA_TRUST_PROXY: 'true' });
});

test('a setting without an environment variable is refused, not dropped', () => {
  assert.throws(() => operatorEnv({ now: () => 0 }), /now has no environment variable/);
  assert.throws(() => operatorEnv({ tokenTtlSeconds: 5 }), /tokenTtlSeconds has no environment variable/);
});

test('TEST_SERVER selects the build: unset -> the TypeScript, bundle -> the bundle, anything else -> an error', () => {
  assert.equal(testServerBuild({}), 'source');
  assert.equal(testServerBuild({ TEST_SERVER: 'bundle' }), 'bundle');
  assert.throws(() => testServerBuild({ TEST_SERVER: 'bundel' }), /TEST_SERVER=bundel: unknown/);
});
