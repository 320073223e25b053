// POST /open-apis/im/v1/images (multipart image_type + image) and POST /open-apis/im/v1/files
// (multipart file_type + file_name + optional duration + file), Bearer token.

import {
  ApiError, FEISHU_FILE_RULES, FEISHU_FILE_TYPES, FEISHU_IMAGE_MAX_SIDE, FEISHU_IMAGE_RULE, FEISHU_IMAGE_TYPES,
  type FeishuFileType, type MediaType, type MediaTypeRule,
} from '@oapi-media/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FORM_OVERHEAD_BYTES, readUploadForm, type UploadForm } from '../../http/multipart-upload.ts';
import { noteOnRequest } from '../../http/request-log.ts';
import type { Caller, DialectServices, MediaRow, StagedUpload } from '../../service/dialect-services.ts';
import { BEARER_SECURITY, ERROR_RESPONSES, FeishuOnlyError } from './answers.ts';
import { admitCaller } from './caller.ts';
import { imageResolutionOf } from './image-resolution.ts';
import { sendOk } from './answers.ts';

const MULTIPART = /^multipart\/form-data\s*(;|$)/i;

const FILE_MAX_BYTES = Math.max(...Object.values(FEISHU_FILE_RULES).map(({ rule }) => rule.maxBytes));

/** A body this much larger than it may be is cut off rather than read to its end after the answer. */
export const DRAIN_BUDGET_BYTES = 2 * (FILE_MAX_BYTES + FORM_OVERHEAD_BYTES);

const isOneOf = <T extends string>(values: readonly T[], value: string | undefined): value is T =>
  value !== undefined && (values as readonly string[]).includes(value);

function declaredLength(request: FastifyRequest): number | undefined {
  const n = Number(request.headers['content-length'] ?? Number.NaN);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Checks the token and the framing, then reads the form (its file part staged) with an upload slot. */
async function readForm(services: DialectServices, request: FastifyRequest, fileField: string, capBytes: number): Promise<{ caller: Caller; form: UploadForm }> {
  const caller = await admitCaller(services, request);
  if (!MULTIPART.test(request.headers['content-type'] ?? '')) throw new ApiError('multipartRequired');
  const declared = declaredLength(request);
  // A declared Content-Length over the limit is refused before the body is read.
  if (declared !== undefined && declared > capBytes + FORM_OVERHEAD_BYTES) throw new ApiError('mediaTooLarge', `declared ${declared} bytes`);
  // The token is a header: the slot is the caller's organization's (fairly shared between them).
  const releaseSlot = await services.uploads.slot(caller.orgId);
  try {
    const rules = { fileFields: [fileField], receive: services.uploads.receive, minBodyRate: services.uploads.minBodyRate };
    return { caller, form: await readUploadForm(request.raw, rules, capBytes) };
  } finally {
    releaseSlot();
  }
}

async function commit(
  services: DialectServices, request: FastifyRequest, caller: Caller, staged: StagedUpload,
  details: { type: MediaType; rule: MediaTypeRule; fileName: string | undefined },
): Promise<MediaRow> {
  const row = await services.uploads.commit(caller, staged, details);
  noteOnRequest(request, { mediaId: row.mediaId, type: row.type, format: row.format, size: row.size });
  return row;
}

const imageSchema = {
  operationId: 'feishuUploadImage',
  tags: ['Feishu'],
  summary: 'Upload an image (≤ 10 MB; JPG, PNG, WEBP, GIF, BMP, ICO, TIFF, HEIC) and get its image_key',
  description: 'Resolution: GIF ≤ 2000×2000, others ≤ 12000×12000, avatar ≤ 4096×4096 (234039). Refused uploads leave nothing stored.',
  security: BEARER_SECURITY,
  consumes: ['multipart/form-data'],
  body: {
    type: 'object',
    properties: {
      image_type: { type: 'string', enum: [...FEISHU_IMAGE_TYPES] },
      image: { type: 'string', format: 'binary' },
    },
    required: ['image_type', 'image'],
  },
  response: {
    200: {
      type: 'object',
      properties: {
        code: { type: 'integer', enum: [0] }, msg: { type: 'string', enum: ['success'] },
        data: { type: 'object', properties: { image_key: { type: 'string', description: 'img_v2_…' } }, required: ['image_key'] },
      },
      required: ['code', 'msg', 'data'],
    },
    ...ERROR_RESPONSES,
  },
} as const;

const fileSchema = {
  operationId: 'feishuUploadFile',
  tags: ['Feishu'],
  summary: 'Upload a file (≤ 30 MB) and get its file_key',
  description: 'The bytes must be what file_type says: opus = Ogg Opus, mp4, pdf, doc = .doc/.docx, xls = .xls/.xlsx, ppt = .ppt/.pptx; stream takes any bytes. Refused uploads leave nothing stored.',
  security: BEARER_SECURITY,
  consumes: ['multipart/form-data'],
  body: {
    type: 'object',
    properties: {
      file_type: { type: 'string', enum: [...FEISHU_FILE_TYPES] },
      file_name: { type: 'string', description: 'with its extension; kept for downloads' },
      duration: { type: 'string', description: 'milliseconds, for audio and video (optional; empty = none)' },
      file: { type: 'string', format: 'binary' },
    },
    required: ['file_type', 'file_name', 'file'],
  },
  response: {
    200: {
      type: 'object',
      properties: {
        code: { type: 'integer', enum: [0] }, msg: { type: 'string', enum: ['success'] },
        data: { type: 'object', properties: { file_key: { type: 'string', description: 'file_v2_…' } }, required: ['file_key'] },
      },
      required: ['code', 'msg', 'data'],
    },
    ...ERROR_RESPONSES,
  },
} as const;

export function registerMediaUpload(app: FastifyInstance, services: DialectServices): void {
  app.post('/open-apis/im/v1/images', { schema: imageSchema, attachValidation: true }, (request, reply) => services.uploads.track(async () => {
    const { caller, form } = await readForm(services, request, 'image', FEISHU_IMAGE_RULE.maxBytes);
    try {
      const imageType = form.fields.get('image_type');
      if (!isOneOf(FEISHU_IMAGE_TYPES, imageType)) throw new ApiError('unknownMediaType', `image_type ${imageType ?? 'missing'}`);
      if (!form.staged) throw new ApiError('missingMedia');
      const resolution = imageResolutionOf(form.staged.head);
      if (resolution) {
        const maxSide = imageType === 'avatar' ? FEISHU_IMAGE_MAX_SIDE.avatar : FEISHU_IMAGE_MAX_SIDE[resolution.kind];
        if (resolution.width > maxSide || resolution.height > maxSide) throw new FeishuOnlyError('imageResolutionTooLarge');
      }
      let row: MediaRow;
      try {
        row = await commit(services, request, caller, form.staged, { type: 'image', rule: FEISHU_IMAGE_RULE, fileName: form.fileName });
      } catch (error) {
        // Feishu tells an image it cannot read (234011) from a file of the wrong kind (234001).
        if (error instanceof ApiError && error.kind === 'formatNotAllowed') throw new FeishuOnlyError('unrecognizedImage', { cause: error });
        throw error;
      }
      return sendOk(reply, request, { code: 0, msg: 'success', data: { image_key: row.mediaId } });
    } finally {
      await form.staged?.discard(); // harmless once the commit took it
    }
  }));

  app.post('/open-apis/im/v1/files', { schema: fileSchema, attachValidation: true }, (request, reply) => services.uploads.track(async () => {
    const { caller, form } = await readForm(services, request, 'file', FILE_MAX_BYTES);
    try {
      const fileType = form.fields.get('file_type');
      if (!isOneOf(FEISHU_FILE_TYPES, fileType)) throw new ApiError('unknownMediaType', `file_type ${fileType ?? 'missing'}`);
      const fileName = form.fields.get('file_name');
      if (!fileName) throw new ApiError('missingParameter', 'file_name missing');
      // duration is milliseconds; an empty field is "none" (the official Python SDK sends it so).
      const duration = form.fields.get('duration');
      if (duration !== undefined && duration !== '' && !/^\d{1,12}$/.test(duration)) throw new ApiError('missingParameter', `duration ${duration}`);
      if (!form.staged) throw new ApiError('missingMedia');
      const { type, rule } = FEISHU_FILE_RULES[fileType as FeishuFileType];
      const row = await commit(services, request, caller, form.staged, { type, rule, fileName });
      return sendOk(reply, request, { code: 0, msg: 'success', data: { file_key: row.mediaId } });
    } finally {
      await form.staged?.discard();
    }
  }));
}
