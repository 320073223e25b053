// Builds the Fastify instance from the services; never listens (tests inject, server.ts listens).
// Only what every wire shares lives here: request ids, logging, metrics, /healthz, /readyz,
// /metrics, /openapi.json. Each wire is a dialect plugin (dialects/), mounted as the config says.

import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteShorthandOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import packageJson from '../package.json' with { type: 'json' };
import { pino, type Logger } from 'pino';
import type { Services } from './composition-root.ts';
import type { DialectContext } from './dialects/dialect.ts';
import { mountedDialects, type MountedDialect } from './dialects/index.ts';
import { ApiError } from '@oapi-media/core';
import { guardDrain } from './http/body-budget.ts';
import { DrainState } from './http/draining.ts';
import { answerOnSocket, malformedHttpKind } from './http/client-errors.ts';
import { createMetrics } from './http/metrics.ts';
import { answeredErrcode, OneLinePerRequest, requestFacts } from './http/request-log.ts';
import { requestIdOf } from './http/request-id.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

export interface AppOptions {
  /** A pino logger to log into (tests pass a silent one or capture lines); default: stdout. */
  logger?: Logger;
  /** The node's shutdown state (server.ts begins it on a signal); default: never draining. */
  drain?: DrainState;
  /** Routes and hooks of a mode (the emulator's /__oapi/), registered before the wires so that its hooks see every request. */
  extension?: AppExtension;
}

export interface AppExtension {
  /** Its tag in the OpenAPI document. */
  tag: { name: string; description: string };
  register(app: FastifyInstance, mounts: readonly MountedDialect[], context: DialectContext): Promise<void> | void;
}

/** Still answered once the listener has closed: liveness, readiness (503 then) and metrics. */
const OPERATIONS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * JSON lines on stdout, written asynchronously: lines logged while a write is under way go out
 * together in the next one (one write per line cost 3 % of the CPU of small uploads). pino flushes
 * what is pending when the process exits; a kill -9 can lose the lines of the last moment.
 */
function defaultLogger(level: string): Logger {
  return pino({ level }, pino.destination({ dest: 1, sync: false }));
}

/** Node's own header deadline (it answers 408 past it), checked every quarter of it, at most every 2 s. */
export function headerDeadline(timeoutMs: number): { headersTimeout: number; connectionsCheckingInterval: number } {
  return { headersTimeout: timeoutMs, connectionsCheckingInterval: Math.max(250, Math.min(2_000, Math.floor(timeoutMs / 4))) };
}

/** The HTTP status of each malformed-HTTP kind when no wire is mounted at the root. */
const PLAIN_STATUS = { malformedHttpRequest: 400, requestHeadersTimeout: 408, requestHeadersTooLarge: 431, requestTooLarge: 413 } as const;
/** One line per change of where rate limits are counted (REDIS_URL), never one per request. */
function logSharedLimits(services: Services, log: Logger): void {
  const state = services.sharedLimits;
  if (state === undefined) return;
  const fallingBack = 'Redis unreachable: rate limits and lockouts are counted per node until it is back';
  if (!state.shared) log.warn({ rateLimits: 'per-node' }, fallingBack);
  state.watch((change) => {
    if (change.shared) log.info({ rateLimits: 'shared', fallbacks: state.fallbacks }, 'Redis reachable again: rate limits are shared across nodes');
    else log.warn({ rateLimits: 'per-node', reason: change.error.message }, fallingBack);
  });
}

export async function buildApp(services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = services;
  const drain = options.drain ?? new DrainState();
  const mounts = mountedDialects(config.dialects);
  // Outside every wire's routes (a malformed URL, an unknown path, unparsable HTTP) the wire
  // mounted at the root answers, in its shape; with none there, a plain JSON answer.
  const rootDialect = mounts.find(({ prefix }) => prefix === '')?.dialect;
  const app = Fastify({
    loggerInstance: (options.logger ?? defaultLogger(config.logLevel)) as FastifyBaseLogger,
    genReqId: requestIdOf,
    connectionTimeout: config.requestIdleTimeoutMs,
    // Node checks header deadlines only every connectionsCheckingInterval (30 s by default): check
    // often enough that a trickled header block is cut near its deadline, not up to 30 s later.
    http: headerDeadline(config.headerTimeoutMs),
    trustProxy: config.trustProxy,
    // Refused in the wire's shape instead (the onRequest hook below, http/draining.ts).
    return503OnClosing: false,
    logController: new OneLinePerRequest(),
    // Node's parser refused the bytes before they were a request: the root wire's error shape.
    clientErrorHandler(error: NodeJS.ErrnoException, socket) {
      if (error.code === 'ECONNRESET' || socket.destroyed) return; // the client is gone: nothing to answer
      const kind = malformedHttpKind(error);
      const requestId = answerOnSocket(socket, (id) => rootDialect?.answerMalformedHttp(kind, id, config)
        ?? { status: PLAIN_STATUS[kind], body: JSON.stringify({ error: kind, request_id: id }) });
      app.log.info({ reqId: requestId, kind, code: error.code, remoteAddress: socket.remoteAddress }, 'malformed HTTP refused');
    },
  });

  const metrics = createMetrics({
    uploadsReading: () => services.uploadSlots.active,
    uploadsWaiting: () => services.uploadSlots.waiting,
    ...(services.sharedLimits === undefined ? {} : { sharedLimits: services.sharedLimits }),
  });
  app.addHook('onClose', async () => metrics.clear());
  logSharedLimits(services, app.log as Logger);
  const context: DialectContext = { services: services.dialect, config };
  // Past an early answer a body is drained within the largest budget of the wires served.
  const drainBudgetBytes = Math.max(...mounts.map(({ dialect }) => dialect.bodyBudgetBytes));

  // Route schemas are for the OpenAPI document: the routes check their own input (to answer with
  // their wire's codes, never fastify's 400) and send pre-serialized JSON, so nothing is compiled.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Bodies are read by the routes themselves, as streams (uploads are never buffered whole).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (!drain.draining) return;
    reply.header('connection', 'close');
    if (drain.refusing && !OPERATIONS_PATHS.has(request.url.split('?')[0]!)) throw new ApiError('systemBusy', 'shutting down');
  });
  // An answer begun before the signal (an upload in flight) closes its connection too.
  app.addHook('onSend', async (_request, reply) => {
    if (drain.draining) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.duration.observe({ route }, reply.elapsedTime / 1000);
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode), errcode: String(answeredErrcode(request)) });
    const facts = requestFacts(request);
    if (facts.errorKind === 'authLockedOut') metrics.authLockouts.inc();
    if (facts.storedBytes !== undefined) metrics.storedBytes.inc({ type: facts.storedType ?? 'unknown' }, facts.storedBytes);
    // Ended and not destroyed: written to its end (a cut download, client gone or blob short, is destroyed).
    if (facts.sentBytes !== undefined && reply.raw.writableEnded && !reply.raw.destroyed) metrics.sentBytes.inc(facts.sentBytes);
    guardDrain(request.raw, drainBudgetBytes);
  });

  app.setErrorHandler(async (error, request, reply) => {
    if (rootDialect) return rootDialect.answerError(error, request, reply, context);
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).header('content-type', JSON_TYPE).send(JSON.stringify({ error: 'internal error', request_id: request.id }));
  });
  app.setNotFoundHandler(async (request, reply) => {
    if (rootDialect) return rootDialect.answerNotFound(request, reply, context);
    return reply.code(404).header('content-type', JSON_TYPE).send(JSON.stringify({ error: 'not found', request_id: request.id }));
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'oapi-media',
        description: 'DingTalk- and WeCom-compatible enterprise media API (each wire its own paths, tokens and media ids). API errors are HTTP 200 with a non-zero errcode.',
        version: packageJson.version,
        license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
      },
      servers: [{ url: '{origin}', description: 'this server', variables: { origin: { default: 'http://127.0.0.1:8080', description: 'scheme, host and port the server listens on' } } }],
      tags: [
        { name: 'DingTalk', description: 'DingTalk\'s media API (oapi), byte for byte (docs/api.md)' },
        { name: 'WeCom', description: 'WeCom\'s (企业微信) media API under /cgi-bin, byte for byte (docs/api.md "WeCom"); its own tokens and media ids' },
        { name: 'Feishu', description: 'Feishu\'s / Lark\'s media API (/open-apis): token, im/v1 images and files; errors are HTTP 4xx (docs/api.md "Feishu")' },
        { name: 'Operations', description: 'Health, readiness and metrics of this node' },
        ...(options.extension ? [options.extension.tag] : []),
      ],
      components: {
        securitySchemes: {
          accessToken: { type: 'apiKey', in: 'query', name: 'access_token', description: 'from GET /gettoken (DingTalk) or GET /cgi-bin/gettoken (WeCom), 7200 s; each works on its own wire only' },
          // Only when the wire is served: an unused scheme is a lint warning.
          ...(mounts.some(({ dialect }) => dialect.name === 'feishu')
            ? { feishuTenantToken: { type: 'http', scheme: 'bearer', description: 'Feishu: a tenant_access_token (t-…) from POST /open-apis/auth/v3/tenant_access_token/internal' } }
            : {}),
        },
      },
    },
  });
  // The API described for people, from npm's copy of Swagger UI (nothing from a CDN).
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { tryItOutEnabled: false } });

  if (options.extension) await options.extension.register(app, mounts, context);
  for (const { dialect, prefix } of mounts) {
    await app.register(async (wire) => {
      await dialect.register(wire, context);
      if (prefix !== '') wire.setNotFoundHandler(async (request, reply) => dialect.answerNotFound(request, reply, context));
    }, { prefix });
  }

  // Another method than GET matches no route: the not-found answer (the root wire's, or plain JSON).
  const notFound = { description: 'another method than GET: no such route', type: 'object', additionalProperties: true };
  const operations = (operationId: string, summary: string, response: Record<number, object>): RouteShorthandOptions =>
    ({ schema: { operationId, summary, tags: ['Operations'], security: [], response: { ...response, 404: notFound } } });
  const status = (description: string) => ({ description, type: 'object', properties: { status: { type: 'string' } } });
  app.get('/healthz', operations('liveness', 'Liveness', { 200: status('the process answers') }), async () => ({ status: 'ok' }));
  app.get('/readyz', operations('readiness', 'Readiness: database and storage reachable, and not shutting down', {
    200: status('ready'),
    503: { description: 'shutting down (status "draining"), or database or storage unreachable', type: 'object', properties: { status: { type: 'string' }, failing: { type: 'array', items: { type: 'string', enum: ['database', 'storage'] } } } },
  }), async (_request, reply) => {
    if (drain.draining) return reply.code(503).send({ status: 'draining', failing: [] });
    const checks = await Promise.allSettled([services.metadata.ping(), services.blobs.ping()]);
    const failing = ['database', 'storage'].filter((_, i) => checks[i]!.status === 'rejected');
    return reply.code(failing.length === 0 ? 200 : 503).send({ status: failing.length === 0 ? 'ready' : 'unavailable', failing });
  });
  app.get('/metrics', operations('metrics', 'Prometheus metrics', {
    200: { description: 'Prometheus text exposition', content: { 'text/plain': { schema: { type: 'string' } } } },
  }), async (_request, reply) =>
    reply.header('content-type', metrics.contentType).send(await metrics.scrape()),
  );
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return app;
}
