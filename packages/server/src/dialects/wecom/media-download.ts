// GET /cgi-bin/media/get?access_token=&media_id=: the bytes of a temporary media, with Range
// (206, Content-Range, Accept-Ranges); errors are HTTP 200 JSON, as WeCom answers them. And
// GET /cgi-bin/media/img/<key>: a published image (uploadimg), without a token, cacheable for good.

import { ApiError, FORMAT_CONTENT_TYPES, parseRange, type ByteRange } from '@oapi-media/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fresh from 'fresh';
import { contentDisposition } from '../../http/content-disposition.ts';
import { param } from '../../http/params.ts';
import type { DialectServices, MediaRow } from '../../service/dialect-services.ts';
import { ACCESS_TOKEN_SECURITY, ERROR_ANSWER_SCHEMA, NO_SECURITY } from './answers.ts';
import { PUBLISHED_IMAGE_PATH } from './media-upload.ts';
import { sendMediaBody } from '../../http/media-response.ts';

const BYTES = { type: 'string', format: 'binary' } as const;
const MEDIA_HEADERS = {
  'content-type': { type: 'string', description: 'the stored format\'s type (image/png, application/pdf, application/octet-stream, ...)' },
  'content-length': { type: 'integer' },
  'content-disposition': { type: 'string', description: 'attachment, with the file name as uploaded' },
  'accept-ranges': { type: 'string', enum: ['bytes'] },
  etag: { type: 'string', description: 'the sha256 of the bytes, quoted (strong)' },
} as const;

const ranged = (description: string) => ({
  200: { description, headers: MEDIA_HEADERS, content: { 'application/octet-stream': { schema: BYTES }, 'application/json': { schema: ERROR_ANSWER_SCHEMA } } },
  206: {
    description: 'one byte range',
    headers: { ...MEDIA_HEADERS, 'content-range': { type: 'string', description: 'bytes START-END/SIZE' } },
    content: { 'application/octet-stream': { schema: BYTES } },
  },
  416: { description: 'range not satisfiable', headers: { 'content-range': { type: 'string', description: 'bytes */SIZE' } } },
});

export const getSchema = {
  operationId: 'wecomGetMedia',
  tags: ['WeCom'],
  summary: 'Download a temporary media of the caller\'s organization (uploaded on WeCom, within its 3 days)',
  description: 'Errors are WeCom JSON with HTTP 200: 40007 for an unknown, expired, another organization\'s or another wire\'s media_id. One Range is honoured (206).',
  security: ACCESS_TOKEN_SECURITY,
  querystring: { type: 'object', properties: { access_token: { type: 'string' }, media_id: { type: 'string' } }, required: ['access_token', 'media_id'] },
  headers: { type: 'object', properties: { range: { type: 'string', description: 'bytes=START-END, bytes=START- or bytes=-SUFFIX' } } },
  response: ranged('the bytes (or a WeCom error as JSON, HTTP 200)'),
} as const;

export const publishedImageSchema = {
  operationId: 'wecomPublishedImage',
  tags: ['WeCom'],
  summary: 'A permanent image uploaded with /cgi-bin/media/uploadimg, by the URL it answered (no token)',
  description: 'Cacheable for good: Cache-Control public, immutable; ETag and If-None-Match (304). An unknown key: HTTP 404 with errcode 40007.',
  security: NO_SECURITY,
  params: { type: 'object', properties: { key: { type: 'string', description: 'the URL\'s unguessable key' } }, required: ['key'] },
  response: {
    ...ranged('the image'),
    304: { description: 'not modified (If-None-Match matched)', headers: { etag: MEDIA_HEADERS.etag } },
    404: { description: 'no such image (errcode 40007)', content: { 'application/json': { schema: ERROR_ANSWER_SCHEMA } } },
  },
} as const;

/** The stored bytes (or one range) with their headers, written through the product's download body. */
async function sendMedia(
  request: FastifyRequest, reply: FastifyReply, services: DialectServices, row: MediaRow, how: { cacheControl: string; inline: boolean },
): Promise<FastifyReply | void> {
  const etag = `"${row.sha256}"`;
  reply
    .header('etag', etag)
    .header('accept-ranges', 'bytes')
    .header('cache-control', how.cacheControl)
    .header('x-content-type-options', 'nosniff')
    .header('content-disposition', how.inline ? contentDisposition(row.fileName).replace(/^attachment/, 'inline') : contentDisposition(row.fileName));
  if (fresh({ 'if-none-match': request.headers['if-none-match'] }, { etag })) return reply.code(304).send();
  let range: ByteRange | undefined;
  if (request.headers.range !== undefined) {
    const parsed = parseRange(request.headers.range, row.size);
    if (parsed === 'unsatisfiable') return reply.code(416).header('content-range', `bytes */${row.size}`).send();
    range = parsed ?? undefined;
  }
  const length = range ? range.end - range.start + 1 : row.size;
  reply.header('content-type', FORMAT_CONTENT_TYPES[row.format]).header('content-length', length);
  if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${row.size}`);
  await sendMediaBody(request, reply, await services.downloads.open(row, range), length);
}

/** Thrown by the published-image route so that its error answer is HTTP 404 (a URL, not an API call). */
export class PublishedImageMissing extends Error {
  override name = 'PublishedImageMissing';
}

export function registerMediaDownload(app: FastifyInstance, services: DialectServices, now: () => number): void {
  app.get('/media/get', { schema: getSchema, attachValidation: true, exposeHeadRoute: false }, async (request, reply) => {
    const caller = await services.access.admit(request.ip, param(request.query, 'access_token'), 'wecom');
    const row = await services.downloads.find(caller, param(request.query, 'media_id'));
    // A temporary media's bytes never change; a cache keeps them no longer than the media lives.
    const maxAge = row.expiresAt === null ? 0 : Math.max(0, Math.floor((row.expiresAt - now()) / 1000));
    return sendMedia(request, reply, services, row, { cacheControl: `private, max-age=${maxAge}`, inline: false });
  });
  app.get(`${PUBLISHED_IMAGE_PATH}/:key`, { schema: publishedImageSchema, attachValidation: true, exposeHeadRoute: false }, async (request, reply) => {
    const { key } = request.params as { key: string };
    let row: MediaRow;
    try {
      row = await services.downloads.findPublishedImage(key);
    } catch (error) {
      if (error instanceof ApiError && error.kind === 'unknownMedia') throw new PublishedImageMissing(error.message, { cause: error });
      throw error;
    }
    // Shown in message bodies and browsers: inline, and cached for good (its bytes never change).
    return sendMedia(request, reply, services, row, { cacheControl: 'public, max-age=31536000, immutable', inline: true });
  });
}
