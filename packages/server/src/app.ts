// Builds the Fastify instance from the services; never listens (tests inject, server.ts listens).

import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { ERRORS } from '@oapi-media/core';
import { pino, type Logger } from 'pino';
import { registerDingTalk } from './dialects/dingtalk/index.ts';
import { DRAIN_BUDGET_BYTES } from './dialects/dingtalk/media-upload.ts';
import { errorPayload, mapError } from './errors.ts';
import { createMetrics } from './http/metrics.ts';
import { answeredErrcode, noteOnRequest, OneLinePerRequest } from './http/request-log.ts';
import { requestIdOf } from './http/request-id.ts';
import type { Services } from './services.ts';

const JSON_TYPE = 'application/json; charset=utf-8';
/** After an early answer, the rest of a body is read and dropped for at most this long. */
const DRAIN_TIMEOUT_MS = 10_000;

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

export async function buildApp(services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = services;
  const app = Fastify({
    loggerInstance: (options.logger ?? defaultLogger(config.logLevel)) as FastifyBaseLogger,
    genReqId: requestIdOf,
    connectionTimeout: config.requestIdleTimeoutMs,
    trustProxy: config.trustProxy,
    return503OnClosing: true,
    logController: new OneLinePerRequest(),
  });

  const metrics = createMetrics();

  // Route schemas are for the OpenAPI document: the routes check their own input (to answer with
  // DingTalk's errcodes, never fastify's 400) and send pre-serialized JSON, so nothing is compiled.
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
    metrics.requests.inc({ route, method: request.method, errcode: String(answeredErrcode(request)) });
    guardDrain(request.raw);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const { kind, serverFault } = mapError(error);
    if (serverFault) request.log.error({ err: error }, 'request failed');
    noteOnRequest(request, { errcode: ERRORS[kind].errcode, ...(serverFault ? {} : { reason: (error as Error).message }) });
    const declared = Number(request.headers['content-length'] ?? 0);
    if (!request.raw.complete && declared > DRAIN_BUDGET_BYTES) reply.header('connection', 'close');
    return reply
      .code(ERRORS[kind].httpStatus)
      .header('content-type', JSON_TYPE)
      .send(errorPayload(kind, config.errmsgLanguage, request.id));
  });
  app.setNotFoundHandler(async (request, reply) => {
    noteOnRequest(request, { errcode: ERRORS.notFound.errcode });
    return reply.code(404).header('content-type', JSON_TYPE).send(errorPayload('notFound', config.errmsgLanguage, request.id));
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'oapi-media',
        description: 'DingTalk-compatible enterprise media API. API errors are HTTP 200 with a non-zero errcode.',
        version: '0.1.0',
      },
    },
  });

  registerDingTalk(app, services);

  app.get('/healthz', { schema: { summary: 'Liveness' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { summary: 'Readiness: database and storage reachable' } }, async (_request, reply) => {
    const checks = await Promise.allSettled([services.metadata.ping(), services.blobs.ping()]);
    const failing = ['database', 'storage'].filter((_, i) => checks[i]!.status === 'rejected');
    return reply.code(failing.length === 0 ? 200 : 503).send({ status: failing.length === 0 ? 'ready' : 'unavailable', failing });
  });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: false } }, async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return app;
}

/**
 * After an early answer (e.g. 40006 mid-upload) Node reads and drops the rest of the body to keep
 * the connection usable; a client that keeps sending past the budget or the timeout is cut off.
 */
function guardDrain(request: import('node:http').IncomingMessage): void {
  // readableEnded: a body the route read to its end (fastify inject never sets `complete`).
  if (request.complete || request.readableEnded || request.destroyed) return;
  let drained = 0;
  const timer = setTimeout(() => request.socket?.destroy(), DRAIN_TIMEOUT_MS);
  timer.unref();
  request.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_BUDGET_BYTES) request.socket?.destroy();
  });
  request.once('end', () => clearTimeout(timer));
  request.once('close', () => clearTimeout(timer));
  request.resume();
}
