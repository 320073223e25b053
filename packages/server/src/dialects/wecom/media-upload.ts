// POST /cgi-bin/media/upload?access_token=&type= with the part `media` (a temporary media, 3 days),
// and POST /cgi-bin/media/uploadimg?access_token= (a permanent image URL). WeCom takes the token
// and the type in the URL only ("需要拼接在URL中，不能放在请求包体中"): both are checked before the
// body is read. `filelength` in the part's header is informational: the bytes received decide.

import {
  ApiError, MEDIA_TYPES, WECOM_MEDIA_LIMITS, WECOM_UPLOADIMG_RULE, isMediaType, largestMediaBytes, type MediaTypeRule,
} from '@oapi-media/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { param } from '../../http/params.ts';
import { FORM_OVERHEAD_BYTES, readUploadForm, type UploadForm, type UploadFormRules } from '../../http/multipart-upload.ts';
import { noteOnRequest } from '../../http/request-log.ts';
import type { Caller, DialectServices, MediaRow, StagedUpload } from '../../service/dialect-services.ts';
import { ACCESS_TOKEN_SECURITY, NOT_AN_API_CALL_RESPONSES, sendOk } from './answers.ts';

const MULTIPART = /^multipart\/form-data\s*(;|$)/i;
const LARGEST_MEDIA_BYTES = largestMediaBytes(WECOM_MEDIA_LIMITS);

/** A body this much larger than it may be is cut off rather than read to its end after the answer. */
export const DRAIN_BUDGET_BYTES = 2 * (LARGEST_MEDIA_BYTES + FORM_OVERHEAD_BYTES);

/** The path of a published image under the wire's base path (/cgi-bin). */
export const PUBLISHED_IMAGE_PATH = '/media/img';

const MEDIA_PART = {
  type: 'object',
  properties: { media: { type: 'string', format: 'binary', description: 'the file (filename and filelength in its header, as WeCom\'s SDKs send)' } },
  required: ['media'],
} as const;

export const uploadSchema = {
  operationId: 'wecomUploadMedia',
  tags: ['WeCom'],
  summary: 'Upload a temporary media (valid 3 days) and get its media_id',
  description: 'Limits: every file > 5 bytes (else 40006); image ≤ 10 MB jpg/png, voice ≤ 2 MB amr, video ≤ 10 MB mp4, file ≤ 20 MB any format (else 45001). After 3 days the media_id answers 40007 and its bytes are removed.',
  security: ACCESS_TOKEN_SECURITY,
  consumes: ['multipart/form-data'],
  body: MEDIA_PART,
  querystring: {
    type: 'object',
    properties: { access_token: { type: 'string' }, type: { type: 'string', enum: [...MEDIA_TYPES] } },
    required: ['access_token', 'type'],
  },
  response: {
    200: {
      description: 'errcode 0 with the media_id, or a WeCom error (HTTP 200, errcode not 0)',
      type: 'object',
      properties: {
        errcode: { type: 'integer' }, errmsg: { type: 'string', description: '"" on success' },
        type: { type: 'string', enum: [...MEDIA_TYPES] }, media_id: { type: 'string' },
        created_at: { type: 'string', description: 'epoch seconds, as a string' },
      },
      required: ['errcode', 'errmsg'],
    },
    ...NOT_AN_API_CALL_RESPONSES,
  },
} as const;

export const uploadImgSchema = {
  operationId: 'wecomUploadImage',
  tags: ['WeCom'],
  summary: 'Upload a permanent image (≤ 2 MB, jpg/png) and get its public URL',
  description: 'The URL is served by this server without a token: unguessable (256 random bits), permanent, cacheable (ETag, Cache-Control immutable). Anyone holding it can read the image. It counts against the organization\'s quota.',
  security: ACCESS_TOKEN_SECURITY,
  consumes: ['multipart/form-data'],
  body: MEDIA_PART,
  querystring: { type: 'object', properties: { access_token: { type: 'string' } }, required: ['access_token'] },
  response: {
    200: {
      description: 'errcode 0 with the URL, or a WeCom error (HTTP 200, errcode not 0)',
      type: 'object',
      properties: { errcode: { type: 'integer' }, errmsg: { type: 'string', description: '"" on success' }, url: { type: 'string' } },
      required: ['errcode', 'errmsg'],
    },
    ...NOT_AN_API_CALL_RESPONSES,
  },
} as const;

function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Token, then type, then the framing, checked from the URL and headers before any byte of the
 * body is read; then the body is staged (with an upload slot) and committed by `store`.
 */
async function receiveAndStore<T>(
  request: FastifyRequest,
  services: DialectServices,
  typeOf: (request: FastifyRequest) => { type: MediaRow['type']; rule: MediaTypeRule },
  store: (caller: Caller, staged: StagedUpload, fileName: string | undefined, type: MediaRow['type'], rule: MediaTypeRule) => Promise<T>,
): Promise<T> {
  const caller = await services.access.admit(request.ip, param(request.query, 'access_token'), 'wecom');
  const { type, rule } = typeOf(request);
  if (!MULTIPART.test(request.headers['content-type'] ?? '')) throw new ApiError('multipartRequired');
  const declared = declaredLength(request);
  if (declared !== undefined && declared > rule.maxBytes + FORM_OVERHEAD_BYTES) throw new ApiError('mediaTooLarge', `declared ${declared} bytes`);
  const formRules: UploadFormRules = { fileFields: ['media'], receive: services.uploads.receive, minBodyRate: services.uploads.minBodyRate };
  // The token is in the query (WeCom requires it there): the slot is the caller's organization's.
  const releaseSlot = await services.uploads.slot(caller.orgId);
  let form: UploadForm;
  try {
    form = await readUploadForm(request.raw, formRules, rule.maxBytes);
  } finally {
    releaseSlot();
  }
  try {
    if (!form.staged) throw new ApiError('missingMedia');
    return await store(caller, form.staged, form.fileName, type, rule);
  } finally {
    await form.staged?.discard(); // harmless once the commit took it
  }
}

export function registerMediaUpload(app: FastifyInstance, services: DialectServices): void {
  app.post('/media/upload', { schema: uploadSchema, attachValidation: true }, (request, reply) => services.uploads.track(async () => {
    const typeOf = (req: FastifyRequest) => {
      const type = param(req.query, 'type');
      if (!isMediaType(type)) throw new ApiError('unknownMediaType', type ?? 'missing');
      return { type, rule: WECOM_MEDIA_LIMITS[type] };
    };
    const row = await receiveAndStore(request, services, typeOf, (caller, staged, fileName, type, rule) =>
      services.uploads.commit(caller, staged, { type, rule, fileName }));
    noteOnRequest(request, { mediaId: row.mediaId, type: row.type, format: row.format, size: row.size });
    return sendOk(reply, '', { type: row.type, media_id: row.mediaId, created_at: String(Math.floor(row.createdAt / 1000)) });
  }));

  app.post('/media/uploadimg', { schema: uploadImgSchema, attachValidation: true }, (request, reply) => services.uploads.track(async () => {
    const typeOf = () => ({ type: 'image' as const, rule: WECOM_UPLOADIMG_RULE });
    const { row, urlKey } = await receiveAndStore(request, services, typeOf, (caller, staged, fileName, type, rule) =>
      services.uploads.publishImage(caller, staged, { type, rule, fileName }));
    noteOnRequest(request, { mediaId: row.mediaId, type: row.type, format: row.format, size: row.size });
    // Absolute, as WeCom's own; where the wire is mounted is the plugin's prefix (/cgi-bin, or under another prefix).
    const url = `${request.protocol}://${request.host}${app.prefix}${PUBLISHED_IMAGE_PATH}/${urlKey}`;
    return sendOk(reply, '', { url });
  }));
}
