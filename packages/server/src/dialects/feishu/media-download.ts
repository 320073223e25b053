// GET /open-apis/im/v1/images/:image_key and GET /open-apis/im/v1/files/:file_key: the stored bytes
// (HTTP 200, or 206/416 for a Range), Bearer token. An image_key reaches only the images route, a
// file_key only the files route; a key of another wire, tenant or kind is Feishu's 234001.

import { ApiError, FEISHU_DOWNLOAD_MAX_BYTES, FORMAT_CONTENT_TYPES, parseRange, type ByteRange } from '@oapi-media/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { contentDisposition } from '../../http/content-disposition.ts';
import type { DialectServices } from '../../service/dialect-services.ts';
import { BEARER_SECURITY, ERROR_RESPONSES, FeishuOnlyError } from './answers.ts';
import { admitCaller } from './caller.ts';
import { sendMediaBody } from '../../http/media-response.ts';

const downloadSchema = (what: 'image' | 'file', method: 'GET' | 'HEAD') => ({
  operationId: `feishuDownload${what === 'image' ? 'Image' : 'File'}${method === 'HEAD' ? 'Headers' : ''}`,
  tags: ['Feishu'],
  summary: `${method === 'GET' ? 'Download' : 'The headers of a download of'} the bytes of an ${what}_key of the caller's tenant`,
  description: 'Range (one range) is honoured: 206 with Content-Range, 416 when unsatisfiable. Files over 100 MB: 234037.',
  security: BEARER_SECURITY,
  params: { type: 'object', properties: { [`${what}_key`]: { type: 'string' } }, required: [`${what}_key`] },
  headers: { type: 'object', properties: { range: { type: 'string', description: 'bytes=START-END, bytes=START- or bytes=-SUFFIX' } } },
  response: {
    200: { description: 'the bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
    206: { description: 'the requested range of the bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
    416: { description: 'the range lies past the end (Content-Range: bytes */SIZE)', type: 'null' },
    ...ERROR_RESPONSES,
  },
});

export function registerMediaDownload(app: FastifyInstance, services: DialectServices): void {
  for (const [what, prefix] of [['image', 'img_'], ['file', 'file_']] as const) {
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const caller = await admitCaller(services, request);
      const key = (request.params as Record<string, string | undefined>)[`${what}_key`];
      if (key !== undefined && key !== '' && !key.startsWith(prefix)) throw new ApiError('unknownMedia', `${key} is not an ${what}_key`);
      const row = await services.downloads.find(caller, key);
      if (row.size > FEISHU_DOWNLOAD_MAX_BYTES) throw new FeishuOnlyError('downloadTooLarge');
      let range: ByteRange | undefined;
      if (request.headers.range !== undefined) {
        const parsed = parseRange(request.headers.range, row.size);
        if (parsed === 'unsatisfiable') return reply.code(416).header('x-tt-logid', request.id).header('content-range', `bytes */${row.size}`).send();
        range = parsed ?? undefined;
      }
      const length = range ? range.end - range.start + 1 : row.size;
      reply
        .header('x-tt-logid', request.id)
        .header('content-type', FORMAT_CONTENT_TYPES[row.format])
        .header('content-length', length)
        .header('accept-ranges', 'bytes')
        .header('content-disposition', contentDisposition(row.fileName))
        .header('x-content-type-options', 'nosniff');
      if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${row.size}`);
      if (request.method === 'HEAD') return reply.send();
      await sendMediaBody(request, reply, await services.downloads.open(row, range), length);
    };
    const url = `/open-apis/im/v1/${what}s/:${what}_key`;
    // HEAD declared here, not generated: fastify's generated HEAD would read the whole blob.
    app.route({ method: 'GET', url, schema: downloadSchema(what, 'GET'), attachValidation: true, exposeHeadRoute: false, handler });
    app.route({ method: 'HEAD', url, schema: downloadSchema(what, 'HEAD'), attachValidation: true, handler });
  }
}
