// api.md "Conventions": every answer carries x-request-id (the caller's own when it sent a sane one).

import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const CALLER_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && CALLER_ID.test(given) ? given : randomUUID();
}
