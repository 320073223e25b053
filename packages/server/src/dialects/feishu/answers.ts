// Feishu answers: JSON {code, msg, data} on success; errors with HTTP 400/401/429 (and 5xx for the
// server's faults) as {code, msg, error: {log_id}}, the log id also in the X-Tt-Logid header, as
// Feishu's gateway sends it. Here the log id is the request id (x-request-id), so one id finds the
// request in our logs. Each error kind answered through Feishu's table (core wires/feishu.ts).

import { FEISHU_ERRORS, type FeishuAnswerKind, type FeishuOnlyKind } from '@oapi-media/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { failureKind } from '../../errors.ts';
import { noteOnRequest } from '../../http/request-log.ts';
import { RateLimitedError } from '../../service/dialect-services.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

/** A failure only Feishu's wire distinguishes (an unrecognized image, its resolution, a download's size). */
export class FeishuOnlyError extends Error {
  readonly kind: FeishuOnlyKind;
  constructor(kind: FeishuOnlyKind, options?: ErrorOptions) {
    super(kind, options);
    this.name = 'FeishuOnlyError';
    this.kind = kind;
  }
}

export function sendOk(reply: FastifyReply, request: FastifyRequest, body: Record<string, unknown>): FastifyReply {
  return reply.code(200).header('x-tt-logid', request.id).header('content-type', JSON_TYPE).send(JSON.stringify(body));
}

export function sendError(reply: FastifyReply, request: FastifyRequest, kind: FeishuAnswerKind, error?: unknown, httpStatus?: number): FastifyReply {
  const answer = FEISHU_ERRORS[kind];
  noteOnRequest(request, { errcode: answer.code, errorKind: kind });
  if (error instanceof RateLimitedError) {
    // Feishu's rate limit headers: the limit of the window, and the seconds until it resets (ours is a second).
    reply.header('x-ogw-ratelimit-limit', String(error.perSecond)).header('x-ogw-ratelimit-reset', '1');
  }
  return reply
    .code(httpStatus ?? answer.httpStatus)
    .header('x-tt-logid', request.id)
    .header('content-type', JSON_TYPE)
    .send(JSON.stringify({ code: answer.code, msg: answer.msg, error: { log_id: request.id } }));
}

/** Any failure, as Feishu answers it; the server's own faults are logged with their stack. */
export function sendFailure(reply: FastifyReply, request: FastifyRequest, error: unknown): FastifyReply {
  if (error instanceof FeishuOnlyError) {
    noteOnRequest(request, { reason: error.message });
    return sendError(reply, request, error.kind);
  }
  const kind = failureKind(request, error);
  return sendError(reply, request, kind, error);
}

/** An answer with `code` (an injected fault): its entry of Feishu's table, or the bare code (HTTP 400 unless told). */
export function sendCode(reply: FastifyReply, request: FastifyRequest, code: number, httpStatus: number | undefined): FastifyReply {
  const kind = (Object.keys(FEISHU_ERRORS) as FeishuAnswerKind[]).find((k) => FEISHU_ERRORS[k].code === code);
  if (kind !== undefined) return sendError(reply, request, kind, undefined, httpStatus);
  noteOnRequest(request, { errcode: code });
  return reply.code(httpStatus ?? 400).header('x-tt-logid', request.id).header('content-type', JSON_TYPE)
    .send(JSON.stringify({ code, msg: 'error (injected)', error: { log_id: request.id } }));
}

/** Feishu's error answer, for the OpenAPI document. */
export const ERROR_ANSWER_SCHEMA = {
  type: 'object',
  properties: {
    code: { type: 'integer', description: 'Feishu\'s code, never 0 (docs/api.md "Feishu")' },
    msg: { type: 'string' },
    error: { type: 'object', properties: { log_id: { type: 'string', description: 'the request id, also in X-Tt-Logid and x-request-id' } } },
  },
  required: ['code', 'msg', 'error'],
} as const;

export const ERROR_RESPONSES = {
  400: { description: 'a Feishu error (bad parameter, file, token)', ...ERROR_ANSWER_SCHEMA },
  429: { description: '99991400, with x-ogw-ratelimit-limit and x-ogw-ratelimit-reset', ...ERROR_ANSWER_SCHEMA },
} as const;

/** The calls that carry a tenant_access_token: `Authorization: Bearer t-…`. */
export const BEARER_SECURITY = [{ feishuTenantToken: [] }];
