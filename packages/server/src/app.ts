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
import { mountedDialects } from './dialects/index.ts';
import { guardDrain } from './http/body-budget.ts';
import { createMetrics } from './http/metrics.ts';
import { answeredErrcode, OneLinePerRequest, requestFacts } from './http/request-log.ts';
import { requestIdOf } from './http/request-id.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

export interface AppOptions {
  /** A pino logger to log into (tests pass a silent one or capture lines); default: stdout. */
  logger?: Logger;
}

/**
 * JSON lines on stdout, written asynchronously: lines logged while a write is under way go out
 * together in the next one (one write per line cost 3 % of the CPU of small uploads). pino flushes
 * what is pending when the process exits; a kill -9 can lose the lines of the last moment.
 */
function defaultLogger(level: string): Logger {
  return pino({ level }, pino.destination({ dest: 1, sync: false }));
}

/** Node's own header deadline (it answers 408 past it), checked every quarter of it, at most every 2 s. */
function headerDeadline(timeoutMs: number): { headersTimeout: number; connectionsCheckingInterval: number } {
  return { headersTimeout: timeoutMs, connectionsCheckingInterval: Math.max(250, Math.min(2_000, Math.floor(timeoutMs / 4))) };
}

export async function buildApp(services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = services;
  const app = Fastify({
    loggerInstance: (options.logger ?? defaultLogger(config.logLevel)) as FastifyBaseLogger,
    genReqId: requestIdOf,
    connectionTimeout: config.requestIdleTimeoutMs,
    // Node checks header deadlines only every connectionsCheckingInterval (30 s by default): check
    // often enough that a trickled header block is cut near its deadline, not up to 30 s later.
    http: headerDeadline(config.headerTimeoutMs),
    trustProxy: config.trustProxy,
    return503OnClosing: true,
    logController: new OneLinePerRequest(),
  });

  const metrics = createMetrics({
    uploadsReading: () => services.uploadSlots.active,
    uploadsWaiting: () => services.uploadSlots.waiting,
  });
  const mounts = mountedDialects(config.dialects);
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

  // Outside every wire's routes (a malformed URL, an unknown path) the wire mounted at the root
  // answers, in its shape; with none there, a plain JSON answer.
  const rootDialect = mounts.find(({ prefix }) => prefix === '')?.dialect;
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
        description: 'DingTalk-compatible enterprise media API. API errors are HTTP 200 with a non-zero errcode.',
        version: packageJson.version,
        license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
      },
      servers: [{ url: '{origin}', description: 'this server', variables: { origin: { default: 'http://127.0.0.1:8080', description: 'scheme, host and port the server listens on' } } }],
      tags: [
        { name: 'DingTalk', description: 'DingTalk\'s media API (oapi), byte for byte (docs/api.md)' },
        { name: 'Operations', description: 'Health, readiness and metrics of this node' },
      ],
      components: {
        securitySchemes: {
          accessToken: { type: 'apiKey', in: 'query', name: 'access_token', description: 'from GET /gettoken (7200 s)' },
        },
      },
    },
  });
  // The API described for people, from npm's copy of Swagger UI (nothing from a CDN).
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { tryItOutEnabled: false } });

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
  app.get('/readyz', operations('readiness', 'Readiness: database and storage reachable', {
    200: status('ready'),
    503: { description: 'database or storage unreachable', type: 'object', properties: { status: { type: 'string' }, failing: { type: 'array', items: { type: 'string', enum: ['database', 'storage'] } } } },
  }), async (_request, reply) => {
    const checks = await Promise.allSettled([services.metadata.ping(), services.blobs.ping()]);
    const failing = ['database', 'storage'].filter((_, i) => checks[i]!.status === 'rejected');
    return reply.code(failing.length === 0 ? 200 : 503).send({ status: failing.length === 0 ? 'ready' : 'unavailable', failing });
  });
  app.get('/metrics', operations('metrics', 'Prometheus metrics', {
    200: { description: 'Prometheus text exposition', content: { 'text/plain': { schema: { type: 'string' } } } },
  }), async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return app;
}
