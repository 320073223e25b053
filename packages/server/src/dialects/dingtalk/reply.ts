// DingTalk answers: JSON, errcode first, HTTP 200 (api.md "Conventions").

import type { FastifyReply } from 'fastify';

export function sendOk(reply: FastifyReply, fields: Record<string, unknown>): FastifyReply {
  return reply
    .code(200)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify({ errcode: 0, errmsg: 'ok', ...fields }));
}

/** The answer of both token calls (/gettoken, /service/get_corp_token), for the OpenAPI document. */
export const TOKEN_ANSWER_SCHEMA = {
  type: 'object',
  properties: {
    errcode: { type: 'integer' }, errmsg: { type: 'string' },
    access_token: { type: 'string' }, expires_in: { type: 'integer', description: 'seconds (7200)' },
  },
} as const;
