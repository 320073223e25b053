// GET /cgi-bin/gettoken?corpid=&corpsecret= -> {"errcode":0,"errmsg":"ok","access_token":"…","expires_in":7200}.

import type { FastifyInstance } from 'fastify';
import { param } from '../../http/params.ts';
import type { DialectServices } from '../../service/dialect-services.ts';
import { NO_SECURITY, NOT_AN_API_CALL_RESPONSES, sendOk, WeComOnlyError } from './answers.ts';

export const gettokenSchema = {
  operationId: 'wecomGetToken',
  tags: ['WeCom'],
  summary: 'Get an access_token (7200 s) for a WeCom app (corpid + corpsecret)',
  description: 'The same token again while it is valid. Missing corpid: 41002; missing corpsecret: 41004; wrong or unknown credentials: 40001. The token works on /cgi-bin only.',
  security: NO_SECURITY,
  querystring: {
    type: 'object',
    properties: { corpid: { type: 'string', description: 'ww + 16 hex (app create --wire wecom)' }, corpsecret: { type: 'string' } },
    required: ['corpid', 'corpsecret'],
  },
  response: {
    200: {
      description: 'errcode 0 with the token, or a WeCom error (HTTP 200, errcode not 0)',
      type: 'object',
      properties: {
        errcode: { type: 'integer' }, errmsg: { type: 'string', description: '"ok", or the error\'s text with its hint' },
        access_token: { type: 'string' }, expires_in: { type: 'integer', description: 'seconds (7200)' },
      },
      required: ['errcode', 'errmsg'],
    },
    ...NOT_AN_API_CALL_RESPONSES,
  },
} as const;

export function registerGettoken(app: FastifyInstance, services: DialectServices): void {
  app.get('/gettoken', { schema: gettokenSchema, attachValidation: true }, async (request, reply) => {
    const corpId = param(request.query, 'corpid');
    const corpSecret = param(request.query, 'corpsecret');
    if (!corpId) throw new WeComOnlyError('missingCorpId');
    if (!corpSecret) throw new WeComOnlyError('missingCorpSecret');
    const grant = await services.access.tokenForApp(request.ip, corpId, corpSecret, 'wecom');
    return sendOk(reply, 'ok', { access_token: grant.accessToken, expires_in: grant.expiresIn });
  });
}
