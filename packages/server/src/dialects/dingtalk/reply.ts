// DingTalk answers: JSON, errcode first, HTTP 200 (api.md "Conventions").

import type { FastifyReply } from 'fastify';

export function sendOk(reply: FastifyReply, fields: Record<string, unknown>): FastifyReply {
  return reply
    .code(200)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify({ errcode: 0, errmsg: 'ok', ...fields }));
}
