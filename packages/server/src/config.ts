// One typed config, validated once at start (flags > env > defaults) and passed down frozen.

import { resolve } from 'node:path';
import type { ErrmsgLanguage } from '@oapi-media/core';

export const TOKEN_TTL_SECONDS = 7200; // api.md "GET /gettoken": tokens live 7200 s and are renewed to a full 7200 s
/** Suite tickets rotate every 20 minutes by default (issue 8; DingTalk's own push period is not documented). */
export const SUITE_TICKET_ROTATION_SECONDS = 20 * 60;
/**
 * Media up to this size are kept inside the SQLite file with their row by default: one shared WAL
 * fsync per group of commits instead of a file, an fsync and a rename each (docs/performance.md).
 */
export const DEFAULT_INLINE_MAX_BYTES = 64 * 1024;
/** Inline content is held in memory while it is received: keep that small per request. */
export const LARGEST_INLINE_MAX_BYTES = 1024 * 1024;
/** Upload bodies read at once by default (service/upload-slots.ts). */
export const DEFAULT_UPLOAD_STREAMS = 16;
/** How long a shutdown lets in-flight requests finish, from the signal to the exit (Kubernetes' default stop timeout). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;
/**
 * The slowest upload body that is read on: below this rate over the window it is cut (uploadTooSlow).
 * 1 KiB/s is far below any working mobile link (2G EDGE carries ~20 KiB/s) and far above a trickle.
 */
export const DEFAULT_MIN_BODY_BYTES_PER_SECOND = 1024;
export const DEFAULT_MIN_BODY_RATE_WINDOW_MS = 10_000;
/**
 * The wires served when OAPI_MEDIA_DIALECTS is not set: all of them. Their paths do not collide
 * (WeCom's are under /cgi-bin), and DingTalk, at the root, answers every other path.
 */
export const DEFAULT_DIALECTS = 'dingtalk,wecom,feishu';
/** How often a node removes media past their expiry (WeCom's 3 days), by default. */
export const DEFAULT_EXPIRY_SWEEP_INTERVAL_MS = 60_000;
/**
 * PostgreSQL: the longest wait for a pool connection and for each statement's answer (client side),
 * so that a database that stopped answering turns into -1 instead of a hung request.
 */
export const DEFAULT_DATABASE_TIMEOUT_MS = 10_000;
/**
 * S3: each attempt of a request must be answered (response headers) within this, and a connection
 * silent this long is cut. Idempotent calls are tried up to S3_MAX_ATTEMPTS times.
 */
export const DEFAULT_S3_TIMEOUT_MS = 30_000;
/** Attempts of an idempotent S3 call (the AWS SDK's standard retry mode, with its backoff and retry budget). */
export const S3_MAX_ATTEMPTS = 3;

/** One wire served, and the path prefix its routes are mounted under ('' = its own paths). */
export interface DialectMount {
  readonly name: string;
  readonly prefix: string;
}

export interface Config {
  readonly host: string;
  readonly port: number;
  /** The data folder: SQLite file, blobs and staging temp files of the embedded default. */
  readonly dataDir: string;
  /** postgres://... selects PostgreSQL for metadata; undefined = SQLite in dataDir. */
  readonly databaseUrl: string | undefined;
  /** s3://BUCKET?endpoint=... selects S3 for blobs; undefined = local disk in dataDir. */
  readonly storageUrl: string | undefined;
  /** redis://... makes rate limits hold across nodes; undefined = per node. */
  readonly redisUrl: string | undefined;
  /** PostgreSQL: wait for a pool connection, and for each statement's answer (DEFAULT_DATABASE_TIMEOUT_MS). */
  readonly databaseTimeoutMs: number;
  /** S3: per attempt of a request, and per silent connection (DEFAULT_S3_TIMEOUT_MS). */
  readonly s3TimeoutMs: number;
  /** Key that tokens are derived from (HMAC); undefined = generated once into dataDir/secret.key. */
  readonly secretKey: string | undefined;
  readonly errmsgLanguage: ErrmsgLanguage;
  readonly logLevel: string;
  readonly tokenTtlSeconds: number;
  /** Requests per second per app unless an org sets its own; 0 = unlimited. */
  readonly defaultRateLimitPerSecond: number;
  /** How long a client may stay silent mid-request before it is cut off (slow-loris guard). */
  readonly requestIdleTimeoutMs: number;
  /**
   * Deadline for a request's whole header block, from its first byte (0 = off). The idle timeout
   * restarts on every byte, so a client trickling headers would otherwise keep its connection.
   * At most Node's request timeout (300 s), which bounds a whole request.
   */
  readonly headerTimeoutMs: number;
  /** Failed credential checks (wrong appsecret, unknown token) per client IP per window before 45009; 0 = off. */
  readonly authFailureLimit: number;
  readonly authFailureWindowMs: number;
  /** A suite's ticket is replaced once it is this old (on demand, no timer); the last two stay valid (issue 8). */
  readonly suiteTicketRotationSeconds: number;
  /**
   * Which proxies' X-Forwarded-For to believe for the client address (fastify `trustProxy`):
   * false (default, direct clients), true, or a comma-separated list of addresses/CIDRs. Behind a
   * load balancer set it, or every client shares the balancer's address in per-IP limits.
   */
  readonly trustProxy: boolean | string;
  /**
   * Media up to this many bytes are stored inside the embedded SQLite database with their row
   * instead of as files (0 = never). PostgreSQL keeps none: with it every media goes to the blob store.
   */
  readonly inlineMaxBytes: number;
  /**
   * How many upload bodies are read at once (0 = no bound); more uploads wait, unread, for a slot
   * (at most half the idle timeout). Keeps memory flat under many concurrent uploads.
   */
  readonly uploadStreams: number;
  /**
   * An upload body is cut (uploadTooSlow) when less than this many bytes arrived over one window
   * of `minBodyRateWindowMs` while the server was reading it (0 = never). Stops a client that
   * trickles its body (one byte just under the idle timeout) from holding a slot and a connection.
   */
  readonly minBodyBytesPerSecond: number;
  readonly minBodyRateWindowMs: number;
  /**
   * Shutdown (SIGTERM/SIGINT): from the signal /readyz answers 503 and every answer carries
   * Connection: close; the listener stays open `shutdownDrainDelayMs` (for a balancer to see the
   * 503 and move away), then closes; in-flight requests finish until `shutdownGraceMs` after the
   * signal, less its last 3 s (a quarter of it if shorter) to cut the rest, remove their temp files
   * and close the stores: the process exits within the grace.
   */
  readonly shutdownGraceMs: number;
  readonly shutdownDrainDelayMs: number;
  /**
   * Which wires are served and where: OAPI_MEDIA_DIALECTS=dingtalk (the default), or e.g.
   * `dingtalk,dingtalk=/v2`. Names are checked against the dialects the server has when the app is built.
   */
  readonly dialects: readonly DialectMount[];
  /**
   * How often this node removes media past their expiry, rows then bytes (0 = never: expired media
   * still answer as unknown, and stay stored). Safe on many nodes at once.
   */
  readonly expirySweepIntervalMs: number;
  /** Current time in ms; injectable so that tests expire tokens without waiting. */
  readonly now: () => number;
}

/**
 * Every environment variable the server and the operator CLI read: what `serve --help` lists and
 * the README's configuration table names (test/help.test.ts checks both against what this file
 * and the stores read, so none can drift).
 */
export const ENVIRONMENT: readonly { name: string; default: string; meaning: string }[] = [
  { name: 'HOST', default: '127.0.0.1', meaning: 'address to listen on (--host)' },
  { name: 'PORT', default: '8080', meaning: 'port to listen on, 0 = any free port (--port)' },
  { name: 'OAPI_MEDIA_DATA', default: './data', meaning: 'data folder (--data)' },
  { name: 'OAPI_MEDIA_ERRMSG_LANGUAGE', default: 'zh', meaning: 'errmsg text: zh (DingTalk\'s own) or en (--errmsg-language)' },
  { name: 'DATABASE_URL', default: 'none: SQLite in the data folder', meaning: 'postgres://user:password@host:5432/db[?schema=NAME]: metadata in PostgreSQL' },
  { name: 'OAPI_MEDIA_STORAGE', default: 'none: files in the data folder', meaning: 's3://BUCKET[/prefix]?endpoint=URL&region=R&forcePathStyle=true: bytes in S3' },
  { name: 'AWS_ACCESS_KEY_ID', default: 'the AWS SDK\'s chain', meaning: 'S3 credentials (read by the AWS SDK), with AWS_SECRET_ACCESS_KEY' },
  { name: 'AWS_SECRET_ACCESS_KEY', default: 'the AWS SDK\'s chain', meaning: 'S3 credentials (read by the AWS SDK)' },
  { name: 'AWS_REGION', default: 'us-east-1', meaning: 'S3 region unless OAPI_MEDIA_STORAGE says region=' },
  { name: 'OAPI_MEDIA_DATABASE_TIMEOUT_MS', default: String(DEFAULT_DATABASE_TIMEOUT_MS), meaning: 'PostgreSQL: longest wait for a connection and for each statement before -1' },
  { name: 'OAPI_MEDIA_S3_TIMEOUT_MS', default: String(DEFAULT_S3_TIMEOUT_MS), meaning: `S3: each attempt answered within this, a silent connection cut after it; idempotent calls tried ${S3_MAX_ATTEMPTS} times` },
  { name: 'REDIS_URL', default: 'none: per node', meaning: 'redis://...: rate limits and lockouts shared by every node' },
  { name: 'OAPI_MEDIA_SECRET_KEY', default: 'generated into DATA/secret.key', meaning: 'key tokens and sealed suite secrets derive from; required with DATABASE_URL, the same on every node' },
  { name: 'OAPI_MEDIA_RATE_LIMIT', default: '0 (none)', meaning: 'requests per second per app unless its organization sets its own' },
  { name: 'OAPI_MEDIA_AUTH_FAILURE_LIMIT', default: '20', meaning: 'failed checks of one appkey from one address per window before 45009; 0 = off' },
  { name: 'OAPI_MEDIA_AUTH_FAILURE_WINDOW_MS', default: '60000', meaning: 'that window' },
  { name: 'OAPI_MEDIA_REQUEST_IDLE_TIMEOUT_MS', default: '30000', meaning: 'a client silent this long mid-request is cut off' },
  { name: 'OAPI_MEDIA_HEADER_TIMEOUT_MS', default: '15000', meaning: 'a request\'s headers must all arrive within this (408 past it); at most 300000' },
  { name: 'OAPI_MEDIA_TRUST_PROXY', default: 'false', meaning: 'true, or proxy addresses/CIDRs whose X-Forwarded-For gives the client address' },
  { name: 'OAPI_MEDIA_SUITE_TICKET_ROTATION_SECONDS', default: String(SUITE_TICKET_ROTATION_SECONDS), meaning: 'a suite ticket is replaced once this old' },
  { name: 'OAPI_MEDIA_UPLOAD_STREAMS', default: String(DEFAULT_UPLOAD_STREAMS), meaning: 'upload bodies read at once, 0 = no bound' },
  { name: 'OAPI_MEDIA_MIN_BODY_BYTES_PER_SECOND', default: String(DEFAULT_MIN_BODY_BYTES_PER_SECOND), meaning: 'an upload body slower than this over the window is cut (errcode 45011); 0 = never' },
  { name: 'OAPI_MEDIA_MIN_BODY_RATE_WINDOW_MS', default: String(DEFAULT_MIN_BODY_RATE_WINDOW_MS), meaning: 'that window' },
  { name: 'OAPI_MEDIA_SHUTDOWN_GRACE_MS', default: String(DEFAULT_SHUTDOWN_GRACE_MS), meaning: 'on SIGTERM/SIGINT in-flight requests may finish until this long after the signal; the process exits within it' },
  { name: 'OAPI_MEDIA_SHUTDOWN_DRAIN_DELAY_MS', default: '0', meaning: 'on SIGTERM/SIGINT the listener stays open this long (within the grace), /readyz answering 503, before it closes' },
  { name: 'OAPI_MEDIA_INLINE_MAX_BYTES', default: String(DEFAULT_INLINE_MAX_BYTES), meaning: 'with SQLite: media up to this size are kept inside meta.sqlite; 0 = none' },
  { name: 'OAPI_MEDIA_DIALECTS', default: DEFAULT_DIALECTS, meaning: 'wires served: name or name=/prefix, comma-separated (dingtalk, wecom)' },
  { name: 'OAPI_MEDIA_EXPIRY_SWEEP_INTERVAL_MS', default: String(DEFAULT_EXPIRY_SWEEP_INTERVAL_MS), meaning: 'how often expired media (WeCom: 3 days) are removed, rows then bytes; 0 = never' },
  { name: 'LOG_LEVEL', default: 'info', meaning: 'pino level of the JSON log lines (stdout); debug also shows stack traces of CLI errors' },
];

export interface ConfigInput {
  host?: string;
  port?: number | string;
  dataDir?: string;
  databaseUrl?: string;
  storageUrl?: string;
  redisUrl?: string;
  databaseTimeoutMs?: number | string;
  s3TimeoutMs?: number | string;
  secretKey?: string;
  errmsgLanguage?: string;
  logLevel?: string;
  tokenTtlSeconds?: number;
  defaultRateLimitPerSecond?: number | string;
  requestIdleTimeoutMs?: number | string;
  headerTimeoutMs?: number | string;
  authFailureLimit?: number | string;
  authFailureWindowMs?: number | string;
  suiteTicketRotationSeconds?: number | string;
  trustProxy?: boolean | string;
  inlineMaxBytes?: number | string;
  uploadStreams?: number | string;
  minBodyBytesPerSecond?: number | string;
  minBodyRateWindowMs?: number | string;
  shutdownGraceMs?: number | string;
  shutdownDrainDelayMs?: number | string;
  dialects?: string;
  expirySweepIntervalMs?: number | string;
  now?: () => number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function parsePort(value: number | string): number {
  const port = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`invalid port: ${value}`);
  return port;
}

function parseNonNegative(name: string, value: number | string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(`invalid ${name}: ${value}`);
  return n;
}

function parsePositive(name: string, value: number | string): number {
  const n = parseNonNegative(name, value);
  if (n === 0) throw new ConfigError(`invalid ${name}: must be above 0`);
  return n;
}

/** Node bounds a whole request by its requestTimeout (300 s); a header deadline past it means nothing. */
const NODE_REQUEST_TIMEOUT_MS = 300_000;

function parseHeaderTimeout(value: number | string): number {
  const n = parsePositive('header timeout', value);
  if (n > NODE_REQUEST_TIMEOUT_MS) throw new ConfigError(`invalid header timeout: ${n} ms is above ${NODE_REQUEST_TIMEOUT_MS} ms (the whole request's limit)`);
  return n;
}

function parseTrustProxy(value: boolean | string): boolean | string {
  if (typeof value === 'boolean') return value;
  if (value === '' || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  return value;
}

function parseWholeNumber(name: string, value: number | string): number {
  const n = parseNonNegative(name, value);
  if (!Number.isInteger(n)) throw new ConfigError(`invalid ${name}: ${value} (a whole number)`);
  return n;
}

function parseInlineMax(value: number | string): number {
  const n = parseNonNegative('inline max bytes', value);
  if (!Number.isInteger(n) || n > LARGEST_INLINE_MAX_BYTES) {
    throw new ConfigError(`invalid inline max bytes: ${value} (an integer from 0 to ${LARGEST_INLINE_MAX_BYTES})`);
  }
  return n;
}

/** The drain delay is part of the grace: a delay as long as the grace would leave in-flight requests no time. */
function parseShutdown(grace: number | string, drainDelay: number | string): { shutdownGraceMs: number; shutdownDrainDelayMs: number } {
  const shutdownGraceMs = parsePositive('shutdown grace', grace);
  const shutdownDrainDelayMs = parseNonNegative('shutdown drain delay', drainDelay);
  if (shutdownDrainDelayMs >= shutdownGraceMs) {
    throw new ConfigError(`invalid shutdown drain delay: ${shutdownDrainDelayMs} ms is not below the shutdown grace (${shutdownGraceMs} ms), which it is part of`);
  }
  return { shutdownGraceMs, shutdownDrainDelayMs };
}

const DIALECT_NAME = /^[a-z][a-z0-9-]*$/;
const DIALECT_PREFIX = /^(\/[A-Za-z0-9._~-]+)+$/;

/** `name` or `name=/prefix`, comma-separated; each (name, prefix) once. */
function parseDialects(value: string): DialectMount[] {
  const mounts: DialectMount[] = [];
  for (const item of value.split(',').map((part) => part.trim()).filter(Boolean)) {
    const [name = '', prefix = '', extra] = item.split('=');
    if (extra !== undefined || !DIALECT_NAME.test(name) || (prefix !== '' && !DIALECT_PREFIX.test(prefix))) {
      throw new ConfigError(`invalid dialect ${JSON.stringify(item)}: a name such as dingtalk, or name=/prefix`);
    }
    if (mounts.some((m) => m.prefix === prefix && m.name === name)) throw new ConfigError(`dialect ${item} given twice`);
    mounts.push({ name, prefix });
  }
  if (mounts.length === 0) throw new ConfigError('no dialect to serve: OAPI_MEDIA_DIALECTS names at least one (e.g. dingtalk)');
  return mounts;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Flags (input) win over the environment, which wins over the defaults. */
export function loadConfig(input: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const language = input.errmsgLanguage ?? env.OAPI_MEDIA_ERRMSG_LANGUAGE ?? 'zh';
  if (language !== 'zh' && language !== 'en') throw new ConfigError(`invalid errmsg language: ${language} (zh or en)`);
  const databaseUrl = nonEmpty(input.databaseUrl ?? env.DATABASE_URL);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// URL');
  }
  const storageUrl = nonEmpty(input.storageUrl ?? env.OAPI_MEDIA_STORAGE);
  if (storageUrl !== undefined && !storageUrl.startsWith('s3://')) {
    throw new ConfigError('OAPI_MEDIA_STORAGE must be an s3://BUCKET?endpoint=... URL');
  }
  const secretKey = nonEmpty(input.secretKey ?? env.OAPI_MEDIA_SECRET_KEY);
  // Tokens and sealed suite secrets are derived with this key: nodes (and operator commands) sharing
  // a database with keys of their own would hand out tokens and seal secrets that work nowhere else.
  if (databaseUrl !== undefined && secretKey === undefined) {
    throw new ConfigError('DATABASE_URL is set but OAPI_MEDIA_SECRET_KEY is not: every node and operator command sharing a database needs the same key (e.g. openssl rand -base64 32)');
  }
  return Object.freeze({
    host: input.host ?? env.HOST ?? '127.0.0.1',
    port: parsePort(input.port ?? env.PORT ?? 8080),
    dataDir: resolve(input.dataDir ?? env.OAPI_MEDIA_DATA ?? './data'),
    databaseUrl,
    storageUrl,
    redisUrl: nonEmpty(input.redisUrl ?? env.REDIS_URL),
    databaseTimeoutMs: parsePositive('database timeout', input.databaseTimeoutMs ?? env.OAPI_MEDIA_DATABASE_TIMEOUT_MS ?? DEFAULT_DATABASE_TIMEOUT_MS),
    s3TimeoutMs: parsePositive('S3 timeout', input.s3TimeoutMs ?? env.OAPI_MEDIA_S3_TIMEOUT_MS ?? DEFAULT_S3_TIMEOUT_MS),
    secretKey,
    errmsgLanguage: language,
    logLevel: input.logLevel ?? env.LOG_LEVEL ?? 'info',
    tokenTtlSeconds: input.tokenTtlSeconds ?? TOKEN_TTL_SECONDS,
    defaultRateLimitPerSecond: parseNonNegative(
      'rate limit',
      input.defaultRateLimitPerSecond ?? env.OAPI_MEDIA_RATE_LIMIT ?? 0,
    ),
    requestIdleTimeoutMs: parseNonNegative(
      'request idle timeout',
      input.requestIdleTimeoutMs ?? env.OAPI_MEDIA_REQUEST_IDLE_TIMEOUT_MS ?? 30_000,
    ),
    headerTimeoutMs: parseHeaderTimeout(input.headerTimeoutMs ?? env.OAPI_MEDIA_HEADER_TIMEOUT_MS ?? 15_000),
    authFailureLimit: parseNonNegative('auth failure limit', input.authFailureLimit ?? env.OAPI_MEDIA_AUTH_FAILURE_LIMIT ?? 20),
    authFailureWindowMs: parseNonNegative(
      'auth failure window',
      input.authFailureWindowMs ?? env.OAPI_MEDIA_AUTH_FAILURE_WINDOW_MS ?? 60_000,
    ),
    suiteTicketRotationSeconds: parsePositive(
      'suite ticket rotation',
      input.suiteTicketRotationSeconds ?? env.OAPI_MEDIA_SUITE_TICKET_ROTATION_SECONDS ?? SUITE_TICKET_ROTATION_SECONDS,
    ),
    trustProxy: parseTrustProxy(input.trustProxy ?? env.OAPI_MEDIA_TRUST_PROXY ?? false),
    uploadStreams: parseWholeNumber('upload streams', input.uploadStreams ?? env.OAPI_MEDIA_UPLOAD_STREAMS ?? DEFAULT_UPLOAD_STREAMS),
    minBodyBytesPerSecond: parseNonNegative('min body bytes per second', input.minBodyBytesPerSecond ?? env.OAPI_MEDIA_MIN_BODY_BYTES_PER_SECOND ?? DEFAULT_MIN_BODY_BYTES_PER_SECOND),
    minBodyRateWindowMs: parsePositive('min body rate window', input.minBodyRateWindowMs ?? env.OAPI_MEDIA_MIN_BODY_RATE_WINDOW_MS ?? DEFAULT_MIN_BODY_RATE_WINDOW_MS),
    ...parseShutdown(
      input.shutdownGraceMs ?? env.OAPI_MEDIA_SHUTDOWN_GRACE_MS ?? DEFAULT_SHUTDOWN_GRACE_MS,
      input.shutdownDrainDelayMs ?? env.OAPI_MEDIA_SHUTDOWN_DRAIN_DELAY_MS ?? 0,
    ),
    inlineMaxBytes: parseInlineMax(input.inlineMaxBytes ?? env.OAPI_MEDIA_INLINE_MAX_BYTES ?? DEFAULT_INLINE_MAX_BYTES),
    dialects: Object.freeze(parseDialects(input.dialects ?? env.OAPI_MEDIA_DIALECTS ?? DEFAULT_DIALECTS)),
    expirySweepIntervalMs: parseWholeNumber(
      'expiry sweep interval',
      input.expirySweepIntervalMs ?? env.OAPI_MEDIA_EXPIRY_SWEEP_INTERVAL_MS ?? DEFAULT_EXPIRY_SWEEP_INTERVAL_MS,
    ),
    now: input.now ?? Date.now,
  });
}
