// GET /gettoken?appkey=&appsecret= (api.md "GET /gettoken"), or corpid=&corpsecret= as older SDKs
// send (api.md "Notes").

import { ApiError } from '@oapi-media/core';
import type { FastifyInstance } from 'fastify';
import { param } from '../../http/params.ts';
import { appPrincipal } from '../../service/tokens.ts';
import type { Services } from '../../services.ts';
import { sendOk, TOKEN_ANSWER_SCHEMA } from './reply.ts';

export const gettokenSchema = {
  summary: 'Get an access_token (7200 s) for an app',
  querystring: {
    type: 'object',
    properties: {
      appkey: { type: 'string' }, appsecret: { type: 'string' },
      corpid: { type: 'string', description: 'older name of appkey' },
      corpsecret: { type: 'string', description: 'older name of appsecret' },
    },
  },
  response: { 200: TOKEN_ANSWER_SCHEMA },
} as const;

export function registerGettoken(app: FastifyInstance, services: Services): void {
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
    const found = await services.authThrottle.guard(request.ip, async () => {
      const app = await services.tokens.authenticateApp(key, secret);
      if (!app) throw new ApiError(byAppKey ? 'invalidAppCredentials' : 'invalidCorpCredentials');
      return app;
    });
    const grant = await services.tokens.issue(appPrincipal(found.id), found.orgId);
    return sendOk(reply, { access_token: grant.accessToken, expires_in: grant.expiresIn });
  });
}
