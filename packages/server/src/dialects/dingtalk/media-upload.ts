// POST /media/upload?access_token=&type= with multipart field `media` (api.md "POST /media/upload").

import { ApiError, DINGTALK_MEDIA_LIMITS, MEDIA_TYPES, isMediaType, largestMediaBytes } from '@oapi-media/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { param } from '../../http/params.ts';
import { FORM_OVERHEAD_BYTES, readUploadForm, type UploadFormRules } from '../../http/multipart-upload.ts';
import { noteOnRequest } from '../../http/request-log.ts';
import type { Caller, DialectServices } from '../../service/dialect-services.ts';
import { ACCESS_TOKEN_SECURITY, NOT_AN_API_CALL_RESPONSES, sendOk } from './answers.ts';
import { admitCaller } from './caller.ts';

export const uploadSchema = {
  summary: 'Upload a media file (image, voice, video or file) and get its reusable media_id',
  operationId: 'uploadMedia',
  tags: ['DingTalk'],
  description: 'The limits and formats of each type: README "The API". Refused uploads leave nothing stored.',
  security: ACCESS_TOKEN_SECURITY,
  consumes: ['multipart/form-data'],
  body: {
    type: 'object',
    properties: {
      media: { type: 'string', format: 'binary', description: 'the file; its file name is kept for downloads' },
      access_token: { type: 'string', description: 'instead of the query parameter' },
      type: { type: 'string', enum: [...MEDIA_TYPES], description: 'instead of the query parameter' },
    },
    required: ['media'],
  },
  querystring: {
    type: 'object',
    properties: {
      access_token: { type: 'string', description: 'may also be sent as a form field' },
      type: { type: 'string', enum: [...MEDIA_TYPES], description: 'may also be sent as a form field' },
    },
  },
  response: {
    200: {
      description: 'errcode 0 with the media_id, or a DingTalk error (HTTP 200, errcode not 0)',
      type: 'object',
      properties: {
        errcode: { type: 'integer', description: '0, or a DingTalk errcode' }, errmsg: { type: 'string' },
        media_id: { type: 'string' }, created_at: { type: 'integer', description: 'epoch milliseconds' },
        type: { type: 'string', enum: [...MEDIA_TYPES] },
        request_id: { type: 'string', description: 'on errors: the x-request-id of the answer' },
      },
      required: ['errcode', 'errmsg'],
    },
    ...NOT_AN_API_CALL_RESPONSES,
  },
} as const;

const MULTIPART = /^multipart\/form-data\s*(;|$)/i;

const LARGEST_MEDIA_BYTES = largestMediaBytes(DINGTALK_MEDIA_LIMITS);

/** A body this much larger than it may be is cut off rather than read to its end after the answer. */
export const DRAIN_BUDGET_BYTES = 2 * (LARGEST_MEDIA_BYTES + FORM_OVERHEAD_BYTES);

function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function registerMediaUpload(app: FastifyInstance, services: DialectServices): void {
  const formRules: UploadFormRules = { fileFields: ['media'], receive: services.uploads.receive, minBodyRate: services.uploads.minBodyRate };
  app.post('/media/upload', { schema: uploadSchema, attachValidation: true }, (request, reply) => services.uploads.track(async () => {
    const queryToken = param(request.query, 'access_token');
    const queryType = param(request.query, 'type');

    // What the query already decides is answered before the body is read.
    let caller: Caller | undefined;
    if (queryToken !== undefined) caller = await admitCaller(services, request, queryToken);
    if (queryType !== undefined && !isMediaType(queryType) && caller) throw new ApiError('unknownMediaType', queryType);
    if (!MULTIPART.test(request.headers['content-type'] ?? '')) throw new ApiError('multipartRequired');
    const knownType = isMediaType(queryType) ? queryType : undefined;
    const capBytes = knownType ? DINGTALK_MEDIA_LIMITS[knownType].maxBytes : LARGEST_MEDIA_BYTES;
    const declared = declaredLength(request);
    // api.md "POST /media/upload": a declared Content-Length over the limit is refused before the body is read.
    if (declared !== undefined && declared > capBytes + FORM_OVERHEAD_BYTES) {
      throw new ApiError('mediaTooLarge', `declared ${declared} bytes`);
    }

    // The body is read only with a slot (service/upload-slots.ts): until then it waits, unread.
    // The caller's organization is known here when its token is in the query (as most SDKs send it).
    const releaseSlot = await services.uploads.slot(caller?.orgId);
    let form: Awaited<ReturnType<typeof readUploadForm>>;
    try {
      form = await readUploadForm(request.raw, formRules, capBytes);
    } finally {
      releaseSlot();
    }
    try {
      const type = queryType ?? form.fields.get('type');
      // What is missing may be among the parts past a form limit: say so rather than "missing".
      const missing = !form.staged || (caller === undefined && !form.fields.has('access_token')) || type === undefined;
      if (form.limitReached !== undefined && missing) throw new ApiError('tooManyFormParts', `${form.limitReached} limit reached`);
      caller ??= await admitCaller(services, request, form.fields.get('access_token'));
      if (!isMediaType(type)) throw new ApiError('unknownMediaType', type ?? 'missing');
      if (!form.staged) throw new ApiError('missingMedia');
      const row = await services.uploads.commit(caller, form.staged, { type, rule: DINGTALK_MEDIA_LIMITS[type], fileName: form.fileName });
      noteOnRequest(request, { mediaId: row.mediaId, type: row.type, format: row.format, size: row.size });
      return sendOk(reply, { media_id: row.mediaId, created_at: row.createdAt, type: row.type });
    } finally {
      await form.staged?.discard(); // harmless once the commit took it
    }
  }));
}
