// A ConfigInput as the environment an operator sets for `oapi-media serve` and the operator CLI
// (config.ts reads them): how a test passes its config to a server in its own process.

import type { ConfigInput } from '../../src/config.ts';

/**
 * The variable of each setting; null: none (only an in-process server can take it). Typed over
 * every key, so a setting added to ConfigInput fails the typecheck until it is named here.
 */
const VARIABLES: Record<keyof ConfigInput, string | null> = {
  host: 'HOST',
  port: 'PORT',
  dataDir: 'OAPI_MEDIA_DATA',
  databaseUrl: 'DATABASE_URL',
  storageUrl: 'OAPI_MEDIA_STORAGE',
  redisUrl: 'REDIS_URL',
  databaseTimeoutMs: 'OAPI_MEDIA_DATABASE_TIMEOUT_MS',
  s3TimeoutMs: 'OAPI_MEDIA_S3_TIMEOUT_MS',
  secretKey: 'OAPI_MEDIA_SECRET_KEY',
  errmsgLanguage: 'OAPI_MEDIA_ERRMSG_LANGUAGE',
  logLevel: 'LOG_LEVEL',
  tokenTtlSeconds: null,
  defaultRateLimitPerSecond: 'OAPI_MEDIA_RATE_LIMIT',
  requestIdleTimeoutMs: 'OAPI_MEDIA_REQUEST_IDLE_TIMEOUT_MS',
  headerTimeoutMs: 'OAPI_MEDIA_HEADER_TIMEOUT_MS',
  authFailureLimit: 'OAPI_MEDIA_AUTH_FAILURE_LIMIT',
  authFailureWindowMs: 'OAPI_MEDIA_AUTH_FAILURE_WINDOW_MS',
  suiteTicketRotationSeconds: 'OAPI_MEDIA_SUITE_TICKET_ROTATION_SECONDS',
  trustProxy: 'OAPI_MEDIA_TRUST_PROXY',
  inlineMaxBytes: 'OAPI_MEDIA_INLINE_MAX_BYTES',
  uploadStreams: 'OAPI_MEDIA_UPLOAD_STREAMS',
  minBodyBytesPerSecond: 'OAPI_MEDIA_MIN_BODY_BYTES_PER_SECOND',
  minBodyRateWindowMs: 'OAPI_MEDIA_MIN_BODY_RATE_WINDOW_MS',
  shutdownGraceMs: 'OAPI_MEDIA_SHUTDOWN_GRACE_MS',
  shutdownDrainDelayMs: 'OAPI_MEDIA_SHUTDOWN_DRAIN_DELAY_MS',
  dialects: 'OAPI_MEDIA_DIALECTS',
  expirySweepIntervalMs: 'OAPI_MEDIA_EXPIRY_SWEEP_INTERVAL_MS',
  now: null,
};

/** Every variable the server reads its config from. */
export const CONFIG_VARIABLES: readonly string[] = Object.values(VARIABLES).filter((name): name is string => name !== null);

/**
 * The variables for `config`; a setting left undefined stays unset. Throws for a setting that no
 * variable carries: a server started without it would run half-configured.
 */
export function operatorEnv(config: ConfigInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    const name = VARIABLES[key as keyof ConfigInput];
    if (name === undefined) throw new Error(`unknown setting ${key}`);
    if (name === null) throw new Error(`setting ${key} has no environment variable: only an in-process server (not TEST_SERVER=bundle) can take it`);
    env[name] = String(value);
  }
  return env;
}
