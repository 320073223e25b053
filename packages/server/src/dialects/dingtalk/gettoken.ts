// GET /gettoken?appkey=&appsecret= (api.md "GET /gettoken"), or corpid=&corpsecret= as older SDKs
// send (api.md "Notes").

import { ApiError } from '@oapi-media/core';
import type { FastifyInstance } from 'fastify';
import { param } from '../../http/params.ts';
import type { DialectServices } from '../../service/dialect-services.ts';
import { DingTalkOnlyError, NO_SECURITY, NOT_AN_API_CALL_RESPONSES, sendOk, TOKEN_ANSWER_SCHEMA } from './answers.ts';

export const gettokenSchema = {
  operationId: 'getToken',
  tags: ['DingTalk'],
  summary: 'Get an access_token (7200 s) for an app',
  description: 'The same token again while it is valid, renewed to a full 7200 s. Wrong credentials: 40096 (40089 under the older corpid/corpsecret names).',
  security: NO_SECURITY,
  querystring: {
    type: 'object',
    properties: {
      appkey: { type: 'string' }, appsecret: { type: 'string' },
      corpid: { type: 'string', description: 'older name of appkey' },
      corpsecret: { type: 'string', description: 'older name of appsecret' },
    },
  },
  response: { 200: TOKEN_ANSWER_SCHEMA, ...NOT_AN_API_CALL_RESPONSES },
} as const;

export function registerGettoken(app: FastifyInstance, services: DialectServices): void {
  app.get('/gettoken', { schema: gettokenSchema, attachValidation: true }, async (request, reply) => {
    const q = request.query;
    const appKey = param(q, 'appkey');
    const appSecret = param(q, 'appsecret');
    const corpId = param(q, 'corpid');
    const corpSecret = param(q, 'corpsecret');
    const byAppKey = appKey !== undefined || appSecret !== undefined;
    const key = byAppKey ? appKey : corpId;
    const secret = byAppKey ? appSecret : corpSecret;
    if (!key || !secret) throw new ApiError('missingParameter');
    let grant;
    try {
      grant = await services.access.tokenForApp(request.ip, key, secret, 'dingtalk');
    } catch (error) {
      // DingTalk answers wrong credentials sent under the older names with a code of their own.
      if (!byAppKey && error instanceof ApiError && error.kind === 'wrongCredentials') throw new DingTalkOnlyError('wrongCorpCredentials', { cause: error });
      throw error;
    }
    return sendOk(reply, { access_token: grant.accessToken, expires_in: grant.expiresIn });
  });
}
