// A request body known to be one small document (a JSON token request): read whole, up to a bound.

import type { FastifyRequest } from 'fastify';

/** The body as UTF-8, or undefined past `limitBytes` (then it is not the request it claims to be). */
export async function readSmallBody(request: FastifyRequest, limitBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.raw as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
