// DingTalk's large-file API, the legacy DingPan shapes (api.md "Large files"):
//   POST /file/upload/single?access_token=&agent_id=&file_size=          part `file` ≤ 8 MiB  -> media_id '#…'
//   GET  /file/upload/transaction?access_token=&agent_id=&file_size=&chunk_numbers=          -> upload_id
//   POST /file/upload/chunk?access_token=&agent_id=&upload_id=&chunk_sequence=  part `file`  -> ok
//   GET  /file/upload/transaction?…&upload_id=   (the same path with upload_id commits)      -> media_id '#…'
//   GET  /file/download?access_token=&media_id=#…  (ours: DingTalk documents no download of these ids)
// Parameters come in the query or as form fields, the part is named `file` or `media` (clients in
// the wild do both). '#' ids are their own namespace: /media/downloadFile answers 40007 to them and
// /file/download answers 40007 to an '@' id, as DingTalk does.

import { ApiError, type MediaTypeRule } from '@oapi-media/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FORM_OVERHEAD_BYTES, readUploadForm, type UploadForm, type UploadFormRules } from '../../http/multipart-upload.ts';
import { param } from '../../http/params.ts';
import { noteOnRequest } from '../../http/request-log.ts';
import { withoutIdleTimeout } from '../../http/server-busy.ts';
import type { Caller, DialectServices, UploadSessionRow } from '../../service/dialect-services.ts';
import { ACCESS_TOKEN_SECURITY, NOT_AN_API_CALL_RESPONSES, sendOk } from './answers.ts';
import { admitCaller } from './caller.ts';
import { downloadSchema, mediaDownloadHandler } from './media-download.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
/** DingTalk: "文件大小不得超过8M" for /file/upload/single and for each chunk. */
export const SINGLE_MAX_BYTES = 8 * MiB;
export const CHUNK_MAX_BYTES = 8 * MiB;
/** DingTalk: every chunk but the last is more than 100 KB (read as KiB, inclusive). */
export const CHUNK_MIN_BYTES = 100 * KiB;
/** DingTalk: "最多支持8M * 10000". */
export const MAX_CHUNKS = 10_000;
/** A body this much past the largest chunk is cut off rather than drained after an early answer. */
export const LARGE_FILES_DRAIN_BUDGET_BYTES = 2 * (CHUNK_MAX_BYTES + FORM_OVERHEAD_BYTES);

const MULTIPART = /^multipart\/form-data\s*(;|$)/i;
const WHOLE_NUMBER = /^\d{1,16}$/;
const FILE_PARTS = ['file', 'media'] as const;

/** DingPan is a drive: any bytes are accepted; sniffing still decides the stored format and Content-Type. */
const anyFile = (maxBytes: number): MediaTypeRule => ({ maxBytes, formats: [], anyFormat: true });

const TEXT = { type: 'string' } as const;
const ANSWER = (extra: Record<string, unknown>, description: string) => ({
  200: {
    description: `${description}, or a DingTalk error (HTTP 200, errcode not 0: api.md "Large files")`,
    type: 'object',
    properties: {
      errcode: { type: 'integer' }, errmsg: TEXT, request_id: { type: 'string', description: 'on errors: the x-request-id of the answer' }, ...extra,
    },
    required: ['errcode', 'errmsg'],
  },
  ...NOT_AN_API_CALL_RESPONSES,
});
const COMMON_QUERY = { access_token: TEXT, agent_id: { type: 'string', description: 'accepted and ignored (no agents here)' } };

const singleSchema = {
  operationId: 'uploadSingleFile', tags: ['DingTalk large files'],
  summary: 'Upload a file of at most 8 MiB in one request; its media_id starts with #',
  security: ACCESS_TOKEN_SECURITY, consumes: ['multipart/form-data'],
  querystring: { type: 'object', properties: { ...COMMON_QUERY, file_size: { type: 'string', description: 'bytes; when given, must equal the part\'s size (45023)' } } },
  body: { type: 'object', properties: { file: { type: 'string', format: 'binary', description: 'the file (or a part named media)' } } },
  response: ANSWER({ media_id: TEXT }, 'errcode 0 with the media_id'),
} as const;

const transactionSchema = {
  operationId: 'uploadTransaction', tags: ['DingTalk large files'],
  summary: 'Without upload_id: open a chunked upload (answers upload_id). With upload_id: commit it (answers media_id, a # id)',
  description: 'An uncommitted transaction is deleted with its chunks 24 h after it was opened. A commit sent again answers the same media_id.',
  security: ACCESS_TOKEN_SECURITY,
  querystring: {
    type: 'object',
    properties: {
      ...COMMON_QUERY,
      file_size: { type: 'string', description: 'the whole file\'s bytes (required to open)' },
      chunk_numbers: { type: 'string', description: '1 … 10000 (required to open)' },
      upload_id: { type: 'string', description: 'present: commit this transaction' },
      file_name: { type: 'string', description: 'ours (optional, to open): the name downloads give the file' },
    },
  },
  response: ANSWER({ upload_id: TEXT, media_id: TEXT }, 'errcode 0 with upload_id (open) or media_id (commit)'),
} as const;

const chunkSchema = {
  operationId: 'uploadChunk', tags: ['DingTalk large files'],
  summary: 'Upload chunk chunk_sequence (1-based) of a transaction: 100 KiB … 8 MiB, the last one smaller allowed',
  description: 'Sending a chunk again with the same bytes answers ok and changes nothing; with other bytes 45022.',
  security: ACCESS_TOKEN_SECURITY, consumes: ['multipart/form-data'],
  querystring: { type: 'object', properties: { ...COMMON_QUERY, upload_id: TEXT, chunk_sequence: { type: 'string', description: '1 … chunk_numbers' } } },
  body: {
    type: 'object',
    properties: { file: { type: 'string', format: 'binary', description: 'the chunk (or a part named media)' }, access_token: TEXT, upload_id: TEXT, chunk_sequence: TEXT },
  },
  response: ANSWER({}, 'errcode 0'),
} as const;

function declaredLength(request: FastifyRequest): number | undefined {
  const n = Number(request.headers['content-length']);
  return request.headers['content-length'] !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** A whole number parameter, or `invalid` (refused with the kind the caller names). */
function wholeNumber(text: string | undefined): number | undefined | 'invalid' {
  if (text === undefined || text === '') return undefined;
  return WHOLE_NUMBER.test(text) ? Number(text) : 'invalid';
}

/** A parameter from the query, else from the form's fields. */
function paramOf(request: FastifyRequest, form: UploadForm | undefined, name: string): string | undefined {
  return param(request.query, name) ?? form?.fields.get(name);
}

export function registerLargeFiles(app: FastifyInstance, services: DialectServices): void {
  const { largeFiles, uploads } = services;

  /** Reads a multipart body (with an upload slot) after what the query decides was checked. */
  async function readForm(request: FastifyRequest, caller: Caller | undefined, rules: UploadFormRules, capBytes: number, tooLarge: 'mediaTooLarge' | 'chunkOutOfRules') {
    if (!MULTIPART.test(request.headers['content-type'] ?? '')) throw new ApiError('multipartRequired');
    const declared = declaredLength(request);
    if (declared !== undefined && declared > capBytes + FORM_OVERHEAD_BYTES) throw new ApiError(tooLarge, `declared ${declared} bytes`);
    const releaseSlot = await uploads.slot(caller?.orgId);
    try {
      return await readUploadForm(request.raw, rules, capBytes);
    } finally {
      releaseSlot();
    }
  }

  const queryCaller = async (request: FastifyRequest): Promise<Caller | undefined> => {
    const token = param(request.query, 'access_token');
    return token === undefined ? undefined : admitCaller(services, request, token);
  };

  app.post('/file/upload/single', { schema: singleSchema, attachValidation: true }, (request, reply) => uploads.track(async () => {
    let caller = await queryCaller(request);
    const rules: UploadFormRules = { fileFields: FILE_PARTS, receive: uploads.receive, minBodyRate: uploads.minBodyRate };
    const form = await readForm(request, caller, rules, SINGLE_MAX_BYTES, 'mediaTooLarge');
    try {
      caller ??= await admitCaller(services, request, form.fields.get('access_token'));
      if (!form.staged) throw new ApiError(form.limitReached !== undefined ? 'tooManyFormParts' : 'missingMedia');
      const fileSize = wholeNumber(paramOf(request, form, 'file_size'));
      if (fileSize === 'invalid') throw new ApiError('mediaTooLarge', 'file_size is not a whole number');
      if (fileSize !== undefined && fileSize !== form.staged.size) throw new ApiError('uploadIncomplete', `file_size ${fileSize}, part of ${form.staged.size} bytes`);
      const row = await largeFiles.commitSingle(caller, form.staged, { type: 'file', rule: anyFile(SINGLE_MAX_BYTES), fileName: form.fileName });
      noteOnRequest(request, { mediaId: row.mediaId, format: row.format, size: row.size });
      return sendOk(reply, { media_id: row.mediaId });
    } finally {
      await form.staged?.discard();
    }
  }));

  app.get('/file/upload/transaction', { schema: transactionSchema, attachValidation: true }, async (request, reply) => {
    const caller = await admitCaller(services, request, param(request.query, 'access_token'));
    const fileSize = wholeNumber(param(request.query, 'file_size'));
    const chunkNumbers = wholeNumber(param(request.query, 'chunk_numbers'));
    const uploadId = param(request.query, 'upload_id');
    if (uploadId !== undefined) return uploads.track(() => commitTransaction(caller, uploadId, fileSize, chunkNumbers, reply));

    if (fileSize === undefined || chunkNumbers === undefined) throw new ApiError('missingParameter', 'file_size and chunk_numbers');
    if (fileSize === 'invalid' || fileSize === 0) throw new ApiError('mediaTooLarge', 'file_size');
    if (chunkNumbers === 'invalid' || chunkNumbers < 1 || chunkNumbers > MAX_CHUNKS) throw new ApiError('chunkOutOfRules', `chunk_numbers ${chunkNumbers}`);
    // Chunks of 100 KiB … 8 MiB (the last 1 byte … 8 MiB) must be able to make file_size.
    if (fileSize > chunkNumbers * CHUNK_MAX_BYTES || fileSize < (chunkNumbers - 1) * CHUNK_MIN_BYTES + 1) {
      throw new ApiError('chunkOutOfRules', `${chunkNumbers} chunks cannot make ${fileSize} bytes`);
    }
    const fileName = param(request.query, 'file_name');
    const session = await largeFiles.open(caller, {
      protocol: 'dingtalk', fileSize, chunkCount: chunkNumbers, metadata: fileName === undefined ? {} : { filename: fileName },
    });
    noteOnRequest(request, { uploadId: session.id.slice(0, 6), fileSize, chunkNumbers });
    return sendOk(reply, { upload_id: session.id });
  });

  async function commitTransaction(
    caller: Caller, uploadId: string, fileSize: number | 'invalid' | undefined, chunkNumbers: number | 'invalid' | undefined, reply: import('fastify').FastifyReply,
  ) {
    let session: UploadSessionRow;
    try {
      session = await largeFiles.find(caller, uploadId, 'dingtalk');
    } catch (error) {
      // A commit sent again after its answer was lost answers the same media.
      const committed = error instanceof ApiError && error.kind === 'unknownUploadSession' ? await largeFiles.committedMedia(caller, uploadId) : null;
      if (!committed) throw error;
      return sendOk(reply, { media_id: committed.mediaId });
    }
    if (fileSize !== undefined && fileSize !== session.fileSize) throw new ApiError('uploadIncomplete', `file_size ${fileSize} differs from the transaction's ${session.fileSize}`);
    if (chunkNumbers !== undefined && chunkNumbers !== session.chunkCount) throw new ApiError('uploadIncomplete', `chunk_numbers ${chunkNumbers} differs from the transaction's ${session.chunkCount}`);
    const { filename } = largeFiles.metadataOf(session);
    const row = await withoutIdleTimeout(reply.request, () => largeFiles.commit(caller, session, { type: 'file', rule: anyFile(session.fileSize), fileName: filename }));
    noteOnRequest(reply.request, { mediaId: row.mediaId, format: row.format, size: row.size });
    return sendOk(reply, { media_id: row.mediaId });
  }

  app.post('/file/upload/chunk', { schema: chunkSchema, attachValidation: true }, (request, reply) => uploads.track(async () => {
    let caller = await queryCaller(request);
    // Known from the query before the body is read: a chunk for no open session is not stored.
    let session: UploadSessionRow | undefined;
    const queryUploadId = param(request.query, 'upload_id');
    if (caller && queryUploadId !== undefined) session = await largeFiles.find(caller, queryUploadId, 'dingtalk');
    const rules: UploadFormRules = { fileFields: FILE_PARTS, receive: largeFiles.receiveChunk, minBodyRate: uploads.minBodyRate };
    const form = await readForm(request, caller, rules, CHUNK_MAX_BYTES, 'chunkOutOfRules');
    try {
      caller ??= await admitCaller(services, request, form.fields.get('access_token'));
      const uploadId = paramOf(request, form, 'upload_id');
      const sequenceText = paramOf(request, form, 'chunk_sequence');
      const missing = uploadId === undefined || sequenceText === undefined || !form.staged;
      if (form.limitReached !== undefined && missing) throw new ApiError('tooManyFormParts', `${form.limitReached} limit reached`);
      if (uploadId === undefined || sequenceText === undefined) throw new ApiError('missingParameter', 'upload_id and chunk_sequence');
      session ??= await largeFiles.find(caller, uploadId, 'dingtalk');
      const seq = wholeNumber(sequenceText);
      const count = session.chunkCount ?? MAX_CHUNKS;
      if (seq === undefined || seq === 'invalid' || seq < 1 || seq > count) throw new ApiError('chunkOutOfRules', `chunk_sequence ${sequenceText} of ${count}`);
      if (!form.staged) throw new ApiError('missingMedia');
      const fileSize = session.fileSize;
      const stored = await largeFiles.putChunk(session, {
        seq,
        offset: -1,
        accept(size) {
          if (size === 0) throw new ApiError('chunkOutOfRules', `chunk ${seq} is empty`);
          if (seq < count && size < CHUNK_MIN_BYTES) throw new ApiError('chunkOutOfRules', `chunk ${seq} of ${size} bytes, under ${CHUNK_MIN_BYTES}`);
          if (size > fileSize) throw new ApiError('chunkOutOfRules', `chunk ${seq} of ${size} bytes, past file_size ${fileSize}`);
        },
      }, form.staged);
      noteOnRequest(request, { uploadId: session.id.slice(0, 6), seq, size: stored.chunk.size, repeated: stored.repeated });
      return sendOk(reply, {});
    } finally {
      await form.staged?.discard();
    }
  }));

  const download = mediaDownloadHandler(services, (caller, mediaId) => largeFiles.findMedia(caller, mediaId));
  app.route({ method: 'GET', url: '/file/download', schema: downloadSchema('downloadLargeFile', 'GET', false, '/file/download'), attachValidation: true, exposeHeadRoute: false, handler: download });
  app.route({ method: 'HEAD', url: '/file/download', schema: downloadSchema('downloadLargeFileHeaders', 'HEAD', false, '/file/download'), attachValidation: true, handler: download });
}
