// WeCom answers: JSON, errcode first, HTTP 200 for API errors; each error kind of the product
// answered through WeCom's table (core wires/wecom.ts), with the suffix every WeCom errmsg carries:
// `, hint: [<seconds>_0_<32 hex>], from ip: <ip>, more info at https://open.work.weixin.qq.com/devtool/query?e=<code>`.
// The hint's hex is the request's x-request-id (a UUID without its dashes), so that an errmsg a
// user pastes leads to the server's log line.

import { createHash } from 'node:crypto';
import { WECOM_ERROR_INFO_URL, WECOM_ERRORS, type WeComAnswerKind, type WeComOnlyKind } from '@oapi-media/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import { failureKind } from '../../errors.ts';
import { noteOnRequest } from '../../http/request-log.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

/** A failure only WeCom's wire distinguishes (which credential of /cgi-bin/gettoken is missing). */
export class WeComOnlyError extends Error {
  readonly kind: WeComOnlyKind;
  constructor(kind: WeComOnlyKind) {
    super(kind);
    this.name = 'WeComOnlyError';
    this.kind = kind;
  }
}

/** errcode 0 and WeCom's errmsg of that call ("ok" for gettoken, "" for the media calls), then the fields. */
export function sendOk(reply: FastifyReply, errmsg: 'ok' | '', fields: Record<string, unknown>): FastifyReply {
  return reply.code(200).header('content-type', JSON_TYPE).send(JSON.stringify({ errcode: 0, errmsg, ...fields }));
}

function hintOf(requestId: string, now: number): string {
  const compact = requestId.replaceAll('-', '').toLowerCase();
  const hex = /^[0-9a-f]{32}$/.test(compact) ? compact : createHash('sha256').update(requestId).digest('hex').slice(0, 32);
  return `${Math.floor(now / 1000)}_0_${hex}`;
}

/** The body of an answer written straight to the socket (HTTP that is not a request: no client address to name). */
export function rawErrorBody(kind: WeComAnswerKind, requestId: string, config: Config): string {
  const { errcode, text } = WECOM_ERRORS[kind];
  return JSON.stringify({ errcode, errmsg: `${text}, hint: [${hintOf(requestId, config.now())}], more info at ${WECOM_ERROR_INFO_URL}${errcode}` });
}

/** WeCom's errmsg of `kind` with its hint suffix. */
export function errmsgOf(kind: WeComAnswerKind, request: FastifyRequest, config: Config): string {
  const { errcode, text } = WECOM_ERRORS[kind];
  return `${text}, hint: [${hintOf(request.id, config.now())}], from ip: ${request.ip}, more info at ${WECOM_ERROR_INFO_URL}${errcode}`;
}

export function sendError(reply: FastifyReply, request: FastifyRequest, kind: WeComAnswerKind, config: Config, httpStatus?: number): FastifyReply {
  const answer = WECOM_ERRORS[kind];
  noteOnRequest(request, { errcode: answer.errcode, errorKind: kind });
  return reply
    .code(httpStatus ?? answer.httpStatus)
    .header('content-type', JSON_TYPE)
    .send(JSON.stringify({ errcode: answer.errcode, errmsg: errmsgOf(kind, request, config) }));
}

/** Any failure, as WeCom answers it; the server's own faults are logged with their stack. */
export function sendFailure(reply: FastifyReply, request: FastifyRequest, error: unknown, config: Config, httpStatus?: number): FastifyReply {
  if (error instanceof WeComOnlyError) {
    noteOnRequest(request, { reason: error.message });
    return sendError(reply, request, error.kind, config, httpStatus);
  }
  const kind = failureKind(request, error);
  return sendError(reply, request, kind, config, httpStatus);
}

/** WeCom's error answer, for the OpenAPI document. */
export const ERROR_ANSWER_SCHEMA = {
  type: 'object',
  properties: {
    errcode: { type: 'integer', description: 'WeCom errcode, never 0 (docs/api.md "WeCom")' },
    errmsg: { type: 'string', description: 'WeCom\'s English text, then ", hint: [...], from ip: ..., more info at https://open.work.weixin.qq.com/devtool/query?e=CODE": match on errcode' },
  },
  required: ['errcode', 'errmsg'],
} as const;

export const NOT_AN_API_CALL_RESPONSES = {
  405: { description: 'another method than the call\'s (errcode 43001 or 43002)', ...ERROR_ANSWER_SCHEMA },
} as const;

/** The calls that carry an access_token (in the query only, as WeCom requires). */
export const ACCESS_TOKEN_SECURITY = [{ accessToken: [] }];
export const NO_SECURITY: never[] = [];

/** An answer with `errcode` (an injected fault): its entry of WeCom's table, or the bare code with WeCom's errmsg suffix. */
export function sendCode(reply: FastifyReply, request: FastifyRequest, errcode: number, httpStatus: number | undefined, config: Config): FastifyReply {
  const kind = (Object.keys(WECOM_ERRORS) as WeComAnswerKind[]).find((k) => WECOM_ERRORS[k].errcode === errcode);
  if (kind !== undefined) return sendError(reply, request, kind, config, httpStatus);
  noteOnRequest(request, { errcode });
  const errmsg = `error (injected), hint: [${hintOf(request.id, config.now())}], from ip: ${request.ip}, more info at ${WECOM_ERROR_INFO_URL}${errcode}`;
  return reply.code(httpStatus ?? 200).header('content-type', JSON_TYPE).send(JSON.stringify({ errcode, errmsg }));
}
