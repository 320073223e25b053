// Feishu's token extraction: `Authorization: Bearer t-…`. The token Feishu hands out starts with
// "t-" (a tenant_access_token); behind the prefix is the product's token.

import { ApiError } from '@oapi-media/core';
import type { FastifyRequest } from 'fastify';
import type { Caller, DialectServices } from '../../service/dialect-services.ts';

export const TOKEN_PREFIX = 't-';

/** The token as Feishu shows it. */
export const feishuToken = (accessToken: string): string => `${TOKEN_PREFIX}${accessToken}`;

/** The caller of a call that carries a Bearer token: checked, then admitted against its rate (99991400). */
export async function admitCaller(services: DialectServices, request: FastifyRequest): Promise<Caller> {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer[ \t]+(\S*)\s*$/i.exec(header);
  const bearer = match?.[1];
  if (bearer === undefined || bearer === '') throw new ApiError('missingToken');
  if (!bearer.startsWith(TOKEN_PREFIX)) throw new ApiError('invalidToken', 'not a tenant_access_token (t-…)');
  return services.access.admit(request.ip, bearer.slice(TOKEN_PREFIX.length), 'feishu');
}
