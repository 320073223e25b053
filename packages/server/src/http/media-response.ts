// The end of every wire's download: the headers set on the reply go out, then the media's body
// writes itself to the socket (service/dialect-services.ts MediaBody: reused buffers for a local
// file, one write for bytes kept with the row).

import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { noteOnRequest } from './request-log.ts';

/** Writes the reply's status and headers, then `body` (`length` bytes). A body cut short is logged; the response is then cut. */
export async function sendMediaBody(
  request: FastifyRequest, reply: FastifyReply, body: { writeTo(response: ServerResponse): Promise<void> }, length: number,
): Promise<void> {
  // Hijacked: fastify's onResponse hooks and request log still run when the response finishes.
  reply.hijack();
  reply.raw.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
  noteOnRequest(request, { sentBytes: length }); // counted only if the response is written to its end
  await body.writeTo(reply.raw).catch((error: unknown) => {
    request.log.error({ err: error }, 'download cut: the blob could not be read to its end');
  });
}
