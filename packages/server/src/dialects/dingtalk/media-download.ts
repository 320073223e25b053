// GET /media/downloadFile?access_token=&media_id= (alias GET /media/get): the stored bytes with
// ETag, Last-Modified, Range (206/416), If-None-Match or If-Modified-Since (304), Content-Disposition
// and nosniff (api.md "GET /media/downloadFile").

import { FORMAT_CONTENT_TYPES, parseRange, type ByteRange } from '@oapi-media/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fresh from 'fresh';
import { param } from '../../http/params.ts';
import { contentDisposition } from '../../http/content-disposition.ts';
import type { Caller, DialectServices, MediaRow } from '../../service/dialect-services.ts';
import { ACCESS_TOKEN_SECURITY, ERROR_ANSWER_SCHEMA } from './answers.ts';
import { admitCaller } from './caller.ts';
import { sendMediaBody } from '../../http/media-response.ts';

const BYTES = { type: 'string', format: 'binary' } as const;
const MEDIA_HEADERS = {
  'content-type': { description: 'the stored format\'s type (image/png, application/pdf, ...)', type: 'string' },
  'content-length': { type: 'integer' },
  etag: { description: 'the sha256 of the bytes, quoted (strong)', type: 'string' },
  'last-modified': { description: 'the upload time as an HTTP date (second precision)', type: 'string' },
  'accept-ranges': { type: 'string', enum: ['bytes'] },
  'content-disposition': { description: 'attachment, with the file name as uploaded (RFC 6266)', type: 'string' },
} as const;

/** GET (and the same for HEAD, which sends the headers alone) of /media/downloadFile or its alias /media/get. */
export function downloadSchema(operationId: string, method: 'GET' | 'HEAD', alias: boolean, path = '/media/downloadFile') {
  const body = method === 'GET';
  return {
    operationId,
    tags: ['DingTalk'],
    summary: `${body ? 'Download' : 'The headers of a download of'} the bytes of a media_id of the caller's organization${alias ? ` (alias of ${path})` : ''}`,
    description: 'Errors are DingTalk JSON with HTTP 200 (40007 for an unknown media_id or another organization\'s). Range (one range), If-Range, If-None-Match and If-Modified-Since are honoured; If-None-Match wins when both are sent (RFC 9110).',
    security: ACCESS_TOKEN_SECURITY,
    querystring: {
      type: 'object',
      properties: { access_token: { type: 'string' }, media_id: { type: 'string', description: path === '/media/downloadFile' ? 'as /media/upload answered it (an \'@\' id)' : 'as the large-file API answered it (a \'#\' id, sent URL-encoded: %23)' } },
      required: ['media_id'],
    },
    headers: {
      type: 'object',
      properties: {
        range: { type: 'string', description: 'bytes=START-END, bytes=START- or bytes=-SUFFIX (one range)' },
        'if-range': { type: 'string', description: 'the ETag: the range is honoured only while it matches' },
        'if-none-match': { type: 'string', description: 'an ETag seen before: 304 while it matches' },
        'if-modified-since': {
          type: 'string',
          description: 'an HTTP date: 304 unless the media is newer (ignored when If-None-Match is sent)',
        },
      },
    },
    response: {
      200: {
        description: 'the bytes (or a DingTalk error as JSON, HTTP 200)',
        headers: MEDIA_HEADERS,
        content: {
          'application/octet-stream': { schema: body ? BYTES : { type: 'string', maxLength: 0 } },
          'application/json': { schema: ERROR_ANSWER_SCHEMA },
        },
      },
      206: {
        description: 'one byte range',
        headers: { ...MEDIA_HEADERS, 'content-range': { description: 'bytes START-END/SIZE', type: 'string' } },
        content: { 'application/octet-stream': { schema: body ? BYTES : { type: 'string', maxLength: 0 } } },
      },
      304: {
        description: 'not modified (If-None-Match matched, or no If-None-Match and not modified since If-Modified-Since)',
        headers: { etag: MEDIA_HEADERS.etag, 'last-modified': MEDIA_HEADERS['last-modified'] },
      },
      405: { description: 'another method than GET or HEAD (errcode 43001)', content: { 'application/json': { schema: ERROR_ANSWER_SCHEMA } } },
      416: { description: 'range not satisfiable', headers: { 'content-range': { description: 'bytes */SIZE', type: 'string' } } },
    },
  };
}

/**
 * RFC 9110 13.2.2: If-None-Match (weak comparison, `*`) decides when it is sent, else
 * If-Modified-Since (a value that is no HTTP date is ignored); both before Range. `fresh` (jshttp)
 * compares in exactly that order, but also answers "modified" to any request with
 * `Cache-Control: no-cache`, a rule for caches; an origin server evaluates the conditions as sent.
 * Fetch clients (browsers, Node's fetch, the SDK) add that header to every conditional request
 * they send themselves, so only the two condition headers are handed to it.
 */
function notModified(request: FastifyRequest, etag: string, lastModified: string): boolean {
  const { 'if-none-match': ifNoneMatch, 'if-modified-since': ifModifiedSince } = request.headers;
  return fresh({ 'if-none-match': ifNoneMatch, 'if-modified-since': ifModifiedSince }, { etag, 'last-modified': lastModified });
}

/** Finds the media a download names, in one id namespace ('@' of /media/*, '#' of the large-file API). */
export type MediaFinder = (caller: Caller, mediaId: string | undefined) => Promise<MediaRow>;

/** A download (GET and HEAD) of the media `find` returns: conditional requests, one Range, the stored bytes. */
export function mediaDownloadHandler(services: DialectServices, find: MediaFinder) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const caller = await admitCaller(services, request, param(request.query, 'access_token'));
    const row = await find(caller, param(request.query, 'media_id'));
    const etag = `"${row.sha256}"`;
    const lastModified = new Date(row.createdAt).toUTCString();
    reply
      .header('etag', etag)
      .header('last-modified', lastModified)
      .header('accept-ranges', 'bytes')
      .header('cache-control', 'private, max-age=31536000, immutable') // a media_id's bytes never change
      .header('x-content-type-options', 'nosniff')
      .header('content-disposition', contentDisposition(row.fileName));
    if (notModified(request, etag, lastModified)) return reply.code(304).send();

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
    await sendMediaBody(request, reply, await services.downloads.open(row, range), length);
  };
}

export function registerMediaDownload(app: FastifyInstance, services: DialectServices): void {
  const handler = mediaDownloadHandler(services, (caller, mediaId) => services.downloads.find(caller, mediaId));
  for (const [url, name, alias] of [['/media/downloadFile', 'downloadMedia', false], ['/media/get', 'getMedia', true]] as const) {
    // HEAD declared here, not generated: fastify's generated HEAD would read the whole blob and
    // reset Content-Length; ours opens nothing and keeps the headers of the GET.
    app.route({ method: 'GET', url, schema: downloadSchema(name, 'GET', alias), attachValidation: true, exposeHeadRoute: false, handler });
    app.route({ method: 'HEAD', url, schema: downloadSchema(`${name}Headers`, 'HEAD', alias), attachValidation: true, handler });
  }
}
