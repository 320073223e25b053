// DingTalk answers: JSON, errcode first, HTTP 200 for API errors (api.md "Conventions"); each error
// kind of the product answered through DingTalk's table (core wires/dingtalk.ts).

import { DINGTALK_ERRORS, type DingTalkAnswerKind, type DingTalkOnlyKind } from '@oapi-media/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import { failureKind } from '../../errors.ts';
import { noteOnRequest } from '../../http/request-log.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

/** A failure only DingTalk's wire distinguishes (e.g. wrong credentials under the older names). */
export class DingTalkOnlyError extends Error {
  readonly kind: DingTalkOnlyKind;
  constructor(kind: DingTalkOnlyKind, options?: ErrorOptions) {
    super(kind, options);
    this.name = 'DingTalkOnlyError';
    this.kind = kind;
  }
}

export function sendOk(reply: FastifyReply, fields: Record<string, unknown>): FastifyReply {
  return reply.code(200).header('content-type', JSON_TYPE).send(JSON.stringify({ errcode: 0, errmsg: 'ok', ...fields }));
}

/** The answer of both token calls (/gettoken, /service/get_corp_token), for the OpenAPI document. */
export const TOKEN_ANSWER_SCHEMA = {
  description: 'errcode 0 with the token, or a DingTalk error (HTTP 200, errcode not 0)',
  type: 'object',
  properties: {
    errcode: { type: 'integer', description: '0, or a DingTalk errcode' }, errmsg: { type: 'string' },
    access_token: { type: 'string' }, expires_in: { type: 'integer', description: 'seconds (7200)' },
    request_id: { type: 'string', description: 'on errors: the x-request-id of the answer' },
  },
  required: ['errcode', 'errmsg'],
} as const;

/** DingTalk's error answer (api.md "Conventions"), for the OpenAPI document. */
export const ERROR_ANSWER_SCHEMA = {
  type: 'object',
  properties: {
    errcode: { type: 'integer', description: 'DingTalk errcode, never 0 (README "Error codes")' },
    errmsg: { type: 'string', description: 'DingTalk\'s text (zh by default, en with OAPI_MEDIA_ERRMSG_LANGUAGE=en): match on errcode' },
    request_id: { type: 'string', description: 'the x-request-id of the answer' },
  },
  required: ['errcode', 'errmsg', 'request_id'],
} as const;

/** Wrong methods and unknown paths are not API calls: HTTP 405 and 404, in DingTalk's error shape. */
export const NOT_AN_API_CALL_RESPONSES = {
  405: { description: 'another method than the call\'s (errcode 43001 or 43002)', ...ERROR_ANSWER_SCHEMA },
} as const;

/** The calls that carry an access_token (in the query; the upload also takes it as a form field). */
export const ACCESS_TOKEN_SECURITY = [{ accessToken: [] }];
/** The calls that get a token take credentials as parameters instead. */
export const NO_SECURITY: never[] = [];

/** DingTalk's error body (api.md "Conventions"): errcode, errmsg and the answer's request id. */
export function errorBody(kind: DingTalkAnswerKind, requestId: string, config: Config): string {
  const answer = DINGTALK_ERRORS[kind];
  return JSON.stringify({ errcode: answer.errcode, errmsg: answer[config.errmsgLanguage], request_id: requestId });
}

export function sendError(reply: FastifyReply, request: FastifyRequest, kind: DingTalkAnswerKind, config: Config, httpStatus?: number): FastifyReply {
  const answer = DINGTALK_ERRORS[kind];
  noteOnRequest(request, { errcode: answer.errcode, errorKind: kind });
  return reply
    .code(httpStatus ?? answer.httpStatus)
    .header('content-type', JSON_TYPE)
    .send(errorBody(kind, request.id, config));
}

/** Any failure, as DingTalk answers it; the server's own faults are logged with their stack. */
export function sendFailure(reply: FastifyReply, request: FastifyRequest, error: unknown, config: Config): FastifyReply {
  if (error instanceof DingTalkOnlyError) {
    noteOnRequest(request, { reason: error.message });
    return sendError(reply, request, error.kind, config);
  }
  const kind = failureKind(request, error);
  return sendError(reply, request, kind, config);
}

/** An answer with `errcode` (an injected fault): its entry of DingTalk's table, or the bare code. */
export function sendCode(reply: FastifyReply, request: FastifyRequest, errcode: number, httpStatus: number | undefined, config: Config): FastifyReply {
  const kind = (Object.keys(DINGTALK_ERRORS) as DingTalkAnswerKind[]).find((k) => DINGTALK_ERRORS[k].errcode === errcode);
  if (kind !== undefined) return sendError(reply, request, kind, config, httpStatus);
  noteOnRequest(request, { errcode });
  return reply.code(httpStatus ?? 200).header('content-type', JSON_TYPE)
    .send(JSON.stringify({ errcode, errmsg: config.errmsgLanguage === 'en' ? 'error (injected)' : '系统错误', request_id: request.id }));
}
