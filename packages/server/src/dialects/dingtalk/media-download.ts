// GET /media/downloadFile?access_token=&media_id= (alias GET /media/get): the stored bytes with
// ETag, Range (206/416), If-None-Match (304), Content-Disposition and nosniff (api.md "GET /media/downloadFile").

import { FORMAT_CONTENT_TYPES, parseRange, type ByteRange } from '@oapi-media/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import { param } from '../../http/params.ts';
import { noteOnRequest } from '../../http/request-log.ts';
import { contentDisposition } from '../../http/content-disposition.ts';
import type { DialectServices } from '../../service/dialect-services.ts';
import { admitCaller } from './caller.ts';

export const downloadSchema = {
  summary: 'Download the bytes of a media_id of the caller\'s organization',
  querystring: {
    type: 'object',
    properties: { access_token: { type: 'string' }, media_id: { type: 'string' } },
  },
  response: {
    200: { description: 'the bytes (or a JSON error with HTTP 200)', type: 'string', format: 'binary' },
    206: { description: 'one byte range', type: 'string', format: 'binary' },
    304: { description: 'not modified (If-None-Match)', type: 'null' },
    416: { description: 'range not satisfiable', type: 'null' },
  },
} as const;

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((candidate) => {
    const value = candidate.trim().replace(/^W\//, '');
    return value === '*' || value === etag;
  });
}

export function registerMediaDownload(app: FastifyInstance, services: DialectServices): void {
  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const caller = await admitCaller(services, request, param(request.query, 'access_token'));
    const row = await services.downloads.find(caller, param(request.query, 'media_id'));
    const etag = `"${row.sha256}"`;
    reply
      .header('etag', etag)
      .header('last-modified', new Date(row.createdAt).toUTCString())
      .header('accept-ranges', 'bytes')
      .header('cache-control', 'private, max-age=31536000, immutable') // a media_id's bytes never change
      .header('x-content-type-options', 'nosniff')
      .header('content-disposition', contentDisposition(row.fileName));
    if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send();

    let range: ByteRange | undefined;
    const ifRange = request.headers['if-range'];
    if (request.headers.range !== undefined && (ifRange === undefined || ifRange === etag)) {
      const parsed = parseRange(request.headers.range, row.size);
      if (parsed === 'unsatisfiable') {
        return reply.code(416).header('content-range', `bytes */${row.size}`).send();
      }
      range = parsed ?? undefined;
    }
    const length = range ? range.end - range.start + 1 : row.size;
    reply.header('content-type', FORMAT_CONTENT_TYPES[row.format]).header('content-length', length);
    if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${row.size}`);
    if (request.method === 'HEAD') return reply.send();
    const body = await services.downloads.open(row, range);
    // The body writes itself (reused buffers for a local file, one write for bytes kept with the
    // row); fastify's onResponse hooks and request log still run when the response finishes.
    reply.hijack();
    reply.raw.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
    noteOnRequest(request, { sentBytes: length }); // counted only if the response is written to its end
    await body.writeTo(reply.raw).catch((error: unknown) => {
      request.log.error({ err: error }, 'download cut: the blob could not be read to its end');
    });
  };
  for (const url of ['/media/downloadFile', '/media/get']) {
    // HEAD declared here, not generated: fastify's generated HEAD would read the whole blob and
    // reset Content-Length; ours opens nothing and keeps the headers of the GET.
    app.route({ method: ['GET', 'HEAD'], url, schema: downloadSchema, attachValidation: true, exposeHeadRoute: false, handler });
  }
}
