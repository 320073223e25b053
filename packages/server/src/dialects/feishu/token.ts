// POST /open-apis/auth/v3/tenant_access_token/internal (and app_access_token/internal) with JSON
// {"app_id":"cli_…","app_secret":"…"}: a self-built app's token. Feishu's rule (core TOKEN_REUSE):
// the same token, unrenewed, with the seconds it has left, while 30 minutes or more are left;
// under that, a new token, the old one staying valid to its end.

import type { FastifyInstance } from 'fastify';
import type { DialectServices } from '../../service/dialect-services.ts';
import { ERROR_RESPONSES, FeishuOnlyError, sendOk } from './answers.ts';
import { feishuToken } from './caller.ts';
import { readSmallBody } from '../../http/small-body.ts';

/** The body is one small JSON object; anything longer is not a token request. */
const BODY_LIMIT_BYTES = 16 * 1024;

/** app_id and app_secret of a JSON body; undefined for whatever is missing or not a string. */
function credentialsOf(body: string | undefined): { appId?: string; appSecret?: string } {
  try {
    const parsed: unknown = JSON.parse(body ?? '');
    if (typeof parsed !== 'object' || parsed === null) return {};
    const { app_id: appId, app_secret: appSecret } = parsed as Record<string, unknown>;
    return { appId: typeof appId === 'string' ? appId : undefined, appSecret: typeof appSecret === 'string' ? appSecret : undefined };
  } catch {
    return {};
  }
}

const tokenSchema = (kind: 'tenant' | 'app') => ({
  operationId: kind === 'tenant' ? 'feishuTenantAccessToken' : 'feishuAppAccessToken',
  tags: ['Feishu'],
  summary: `Get a self-built app's ${kind}_access_token (t-…, 7200 s)`,
  description: 'The same token with the seconds it has left while 30 minutes or more are left; under that a new one, the old one staying valid to its end.'
    + (kind === 'app' ? ' The answer carries the same token as tenant_access_token too (for a self-built app they are one).' : ''),
  security: [],
  consumes: ['application/json'],
  body: {
    type: 'object',
    properties: { app_id: { type: 'string', description: 'cli_…' }, app_secret: { type: 'string' } },
    required: ['app_id', 'app_secret'],
  },
  response: {
    200: {
      type: 'object',
      properties: {
        code: { type: 'integer', enum: [0] }, msg: { type: 'string', enum: ['ok'] },
        [`${kind}_access_token`]: { type: 'string' },
        ...(kind === 'app' ? { tenant_access_token: { type: 'string' } } : {}),
        expire: { type: 'integer', description: 'seconds the token has left' },
      },
      required: ['code', 'msg', `${kind}_access_token`, 'expire'],
    },
    ...ERROR_RESPONSES,
  },
});

export function registerToken(app: FastifyInstance, services: DialectServices): void {
  for (const kind of ['tenant', 'app'] as const) {
    app.post(`/open-apis/auth/v3/${kind}_access_token/internal`, { schema: tokenSchema(kind), attachValidation: true }, async (request, reply) => {
      const { appId, appSecret } = credentialsOf(await readSmallBody(request, BODY_LIMIT_BYTES));
      if (!appId || !appSecret) throw new FeishuOnlyError('missingAppCredentials');
      const grant = await services.access.tokenForApp(request.ip, appId, appSecret, 'feishu');
      const token = feishuToken(grant.accessToken);
      const body = kind === 'tenant'
        ? { code: 0, msg: 'ok', tenant_access_token: token, expire: grant.expiresIn }
        : { code: 0, msg: 'ok', app_access_token: token, tenant_access_token: token, expire: grant.expiresIn };
      return sendOk(reply, request, body);
    });
  }
}
