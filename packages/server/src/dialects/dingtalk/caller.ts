// Who is calling an API that takes an access_token: the token checked (failures counted per client
// address against guessing), then the caller's request rate admitted (45009).

import type { FastifyRequest } from 'fastify';
import type { Caller } from '../../service/tokens.ts';
import type { Services } from '../../services.ts';

export async function admitCaller(services: Services, request: FastifyRequest, accessToken: string | undefined): Promise<Caller> {
  const caller = await services.authThrottle.guard(request.ip, () => services.tokens.verify(accessToken));
  await services.admission.admit(caller);
  return caller;
}
