// DingTalk's token extraction: the access_token query parameter (or, for an upload, the form field).

import type { FastifyRequest } from 'fastify';
import type { Caller, DialectServices } from '../../service/dialect-services.ts';

/** The caller of an API that takes an access_token: checked, then admitted against its rate (45009). */
export function admitCaller(services: DialectServices, request: FastifyRequest, accessToken: string | undefined): Promise<Caller> {
  return services.access.admit(request.ip, accessToken, 'dingtalk');
}
