// tus 1.0 resumable uploads (https://tus.io/protocols/resumable-upload), core + creation,
// creation-with-upload, termination, expiration and checksum, at /tus/files (api.md "Large files").
// Authenticated by DingTalk access tokens (Authorization: Bearer <access_token>); `type` (image,
// voice, video, file; default file: any format) and `filename` come in Upload-Metadata. Each PATCH
// is one chunk of the upload session engine (durable before its 204); the PATCH that completes the
// upload commits it like every upload (format check, quota, blob then row) and answers the media_id
// in `Oapi-Media-Id`, which a HEAD of the upload's URL answers too from then on. Errors: tus's HTTP
// statuses, with DingTalk's JSON body (errcode, errmsg) saying which rule was broken.

import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { ApiError, DINGTALK_ERRORS, DINGTALK_MEDIA_LIMITS, isMediaType, type DingTalkAnswerKind, type MediaTypeRule } from '@oapi-media/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import { failureKind } from '../../errors.ts';
import { closeIfOverBudget, markBodyCut } from '../../http/body-budget.ts';
import { watchBodyRate } from '../../http/body-rate.ts';
import { noteOnRequest } from '../../http/request-log.ts';
import { withoutIdleTimeout } from '../../http/server-busy.ts';
import { hashedChunks, type Caller, type DialectServices, type MediaRow, type UploadSessionRow } from '../../service/dialect-services.ts';
import { errorBody } from './answers.ts';
import { admitCaller } from './caller.ts';

export const TUS_PATH = '/tus/files';
const TUS_VERSION = '1.0.0';
const EXTENSIONS = 'creation,creation-with-upload,termination,expiration,checksum';
const CHECKSUMS = { sha1: 'sha1', sha256: 'sha256', md5: 'md5' } as const;
const OFFSET_STREAM = 'application/offset+octet-stream';
/** The header carrying the media_id of a completed upload (final PATCH, HEAD). */
export const MEDIA_ID_HEADER = 'oapi-media-id';
/** A tus PATCH answered early (e.g. 409) may carry a whole file: cut rather than drained past this. */
const TUS_DRAIN_BUDGET_BYTES = 1024 * 1024;

/** tus's HTTP status for each refusal; the body says which rule (DingTalk's errcode). */
export const TUS_STATUS: Partial<Record<DingTalkAnswerKind, number>> = {
  missingToken: 401, invalidToken: 401, tokenExpired: 401, authLockedOut: 429, rateLimited: 429,
  unknownUploadSession: 404, offsetMismatch: 409, chunkConflict: 409, checksumMismatch: 460,
  mediaTooLarge: 413, chunkOutOfRules: 413, quotaExceeded: 413, formatNotAllowed: 415, emptyMedia: 400,
  unknownMediaType: 400, missingParameter: 400, uploadIncomplete: 400, uploadTooSlow: 408, multipartRequired: 415,
};

const EXPOSED = ['Location', 'Upload-Offset', 'Upload-Length', 'Upload-Metadata', 'Upload-Expires', 'Tus-Resumable', 'Tus-Version', 'Tus-Extension', 'Tus-Max-Size', MEDIA_ID_HEADER].join(', ');

function tusHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('tus-resumable', TUS_VERSION).header('access-control-expose-headers', EXPOSED).header('cache-control', 'no-store');
}

function sendTusError(reply: FastifyReply, request: FastifyRequest, kind: DingTalkAnswerKind, config: Config): FastifyReply {
  const answer = DINGTALK_ERRORS[kind];
  noteOnRequest(request, { errcode: answer.errcode, errorKind: kind });
  const status = TUS_STATUS[kind] ?? (answer.httpStatus >= 400 ? answer.httpStatus : kind === 'systemBusy' ? 503 : 400);
  return tusHeaders(reply).code(status).header('content-type', 'application/json; charset=utf-8').send(errorBody(kind, request.id, config));
}

/** Upload-Metadata: `key base64value` pairs, comma-separated (a key may come without a value). */
function parseMetadata(header: string | undefined): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (header === undefined || header.trim() === '') return metadata;
  for (const pair of header.split(',')) {
    const [key, value, extra] = pair.trim().split(' ');
    if (!key || extra !== undefined || (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value))) throw new ApiError('missingParameter', 'malformed Upload-Metadata');
    metadata[key] = value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8');
  }
  return metadata;
}

function encodeMetadata(metadata: Record<string, string>): string {
  return Object.entries(metadata).map(([key, value]) => (value === '' ? key : `${key} ${Buffer.from(value, 'utf8').toString('base64')}`)).join(',');
}

/** Upload-Length, Upload-Offset: a whole number of bytes, or undefined. */
function byteCount(header: string | string[] | undefined): number | undefined | 'invalid' {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !/^\d{1,16}$/.test(header)) return 'invalid';
  return Number(header);
}

/** Upload-Checksum: `<algorithm> <base64 digest>`; the algorithm one of CHECKSUMS. */
function parseChecksum(header: string | string[] | undefined): { hash: Hash; expected: string } | undefined {
  if (header === undefined) return undefined;
  const [algorithm, digest] = typeof header === 'string' ? header.trim().split(' ') : [];
  if (!algorithm || !digest || !(algorithm in CHECKSUMS)) throw new ApiError('missingParameter', 'Upload-Checksum: unsupported algorithm');
  return { hash: createHash(CHECKSUMS[algorithm as keyof typeof CHECKSUMS]), expected: digest };
}

/** The commit rule of a tus upload: its `type`'s formats (any format for `file` or none), within the org's chunked cap. */
function ruleOf(metadata: Record<string, string>, cap: number): { type: 'image' | 'voice' | 'video' | 'file'; rule: MediaTypeRule } {
  const type = metadata.type;
  if (type === undefined || type === '' || type === 'file') return { type: 'file', rule: { maxBytes: cap, formats: [], anyFormat: true } };
  if (!isMediaType(type)) throw new ApiError('unknownMediaType', type);
  return { type, rule: { ...DINGTALK_MEDIA_LIMITS[type], maxBytes: cap } };
}

function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

export function registerTus(app: FastifyInstance, services: DialectServices, config: Config): void {
  const { largeFiles, uploads } = services;

  // tus answers in HTTP statuses: its own context and error handler inside DingTalk's.
  void app.register(async (tus) => {
    tus.setErrorHandler(async (error, request, reply) => {
      closeIfOverBudget(request, reply, TUS_DRAIN_BUDGET_BYTES);
      return sendTusError(reply, request, failureKind(request, error), config);
    });
    tus.setNotFoundHandler((request, reply) => sendTusError(reply, request, 'unknownUploadSession', config));

    tus.addHook('onRequest', async (request, reply) => {
      if (request.method === 'OPTIONS') return undefined;
      if (request.headers['tus-resumable'] !== TUS_VERSION) {
        return tusHeaders(reply).code(412).header('tus-version', TUS_VERSION).send();
      }
    });

    const caller = (request: FastifyRequest) => admitCaller(services, request, bearerToken(request));
    const hidden = { schema: { hide: true } };

    tus.options('', hidden, async (_request, reply) => tusHeaders(reply).code(204)
      .header('tus-version', TUS_VERSION).header('tus-extension', EXTENSIONS)
      .header('tus-checksum-algorithm', Object.keys(CHECKSUMS).join(','))
      .header('access-control-allow-headers', 'Authorization, Content-Type, Upload-Length, Upload-Offset, Upload-Metadata, Upload-Checksum, Tus-Resumable, Upload-Defer-Length, Upload-Concat')
      .header('access-control-allow-methods', 'POST, GET, HEAD, PATCH, DELETE, OPTIONS')
      .send());

    /** Receives one PATCH body (or creation-with-upload's) at `offset` into the session; commits on the last byte. */
    async function receive(request: FastifyRequest, reply: FastifyReply, who: Caller, session: UploadSessionRow, offset: number): Promise<{ offset: number; media?: MediaRow }> {
      const checksum = parseChecksum(request.headers['upload-checksum']);
      const declared = byteCount(request.headers['content-length']);
      const releaseSlot = declared !== 0 && offset < session.fileSize ? await uploads.slot(who.orgId) : () => {};
      // Piped at once: the rate watch's 'data' listener makes the body flow, and the engine may
      // await (its lock, opening a file) before it reads; the pipe holds the bytes meanwhile, with backpressure.
      const body = new PassThrough();
      request.raw.once('error', (error) => body.destroy(error));
      request.raw.once('aborted', () => body.destroy(new Error('client aborted the PATCH')));
      const stopWatching = watchBodyRate(request.raw, uploads.minBodyRate, (bytes, overMs) => {
        markBodyCut(request.raw);
        body.destroy(new ApiError('uploadTooSlow', `${bytes} bytes in ${overMs} ms`));
      });
      request.raw.pipe(body);
      let stored: number;
      try {
        stored = await largeFiles.append(session, {
          offset,
          declaredSize: typeof declared === 'number' ? declared : undefined,
          source: checksum ? Readable.from(hashedChunks(body, checksum.hash)) : body,
          accept() {
            if (checksum && checksum.hash.digest('base64') !== checksum.expected) throw new ApiError('checksumMismatch', `PATCH at ${offset}`);
          },
          // tus: a server SHOULD keep what an interrupted PATCH delivered (not when a checksum must cover it).
          keepInterrupted: checksum === undefined,
        });
      } finally {
        stopWatching();
        releaseSlot();
        // A refusal before the body was read: the rest goes to the drain (guardDrain), not to a pipe no one reads.
        request.raw.unpipe(body);
        body.destroy();
      }
      if (stored > offset) noteOnRequest(request, { uploadId: session.id.slice(0, 6), size: stored - offset });
      reply.header('upload-offset', stored);
      if (stored < session.fileSize) return { offset: stored };
      const metadata = largeFiles.metadataOf(session);
      const media = await withoutIdleTimeout(request, () => largeFiles.commit(who, session, { ...ruleOf(metadata, session.fileSize), fileName: metadata.filename }));
      noteOnRequest(request, { mediaId: media.mediaId, format: media.format, size: media.size });
      return { offset: stored, media };
    }

    tus.post('', hidden, (request, reply) => uploads.track(async () => {
      const who = await caller(request);
      if (request.headers['upload-defer-length'] !== undefined) throw new ApiError('missingParameter', 'Upload-Defer-Length is not supported');
      const length = byteCount(request.headers['upload-length']);
      if (length === undefined) throw new ApiError('missingParameter', 'Upload-Length');
      if (length === 'invalid' || length === 0) throw new ApiError('mediaTooLarge', 'Upload-Length');
      const metadata = parseMetadata(request.headers['upload-metadata'] as string | undefined);
      ruleOf(metadata, length); // an unknown type is refused before anything is opened
      const withUpload = (request.headers['content-type'] ?? '').startsWith(OFFSET_STREAM);
      const session = await largeFiles.open(who, { protocol: 'tus', fileSize: length, chunkCount: null, metadata });
      const location = `${request.url.split('?')[0]!.replace(/\/+$/, '')}/${session.id}`;
      tusHeaders(reply).header('location', location).header('upload-expires', new Date(session.expiresAt).toUTCString());
      noteOnRequest(request, { uploadId: session.id.slice(0, 6), fileSize: length });
      if (withUpload) {
        const done = await receive(request, reply, who, session, 0);
        if (done.media) reply.header(MEDIA_ID_HEADER, done.media.mediaId);
      }
      return reply.code(201).send();
    }));

    const sessionOf = async (request: FastifyRequest<{ Params: { id: string } }>) => {
      const who = await caller(request);
      return { who, session: await largeFiles.find(who, request.params.id, 'tus') };
    };

    /** Where an upload stands: still open (its session and bytes so far), or completed (its media). */
    const uploadState = async (request: FastifyRequest<{ Params: { id: string } }>) => {
      const who = await caller(request);
      try {
        const session = await largeFiles.find(who, request.params.id, 'tus');
        return { session, offset: (await largeFiles.progress(session)).bytes, media: null };
      } catch (error) {
        const media = error instanceof ApiError && error.kind === 'unknownUploadSession' ? await largeFiles.committedMedia(who, request.params.id) : null;
        if (!media) throw error;
        return { session: null, offset: media.size, media };
      }
    };

    tus.head<{ Params: { id: string } }>('/:id', hidden, async (request, reply) => {
      const { session, offset, media } = await uploadState(request);
      tusHeaders(reply).code(200).header('upload-offset', offset);
      if (media) return reply.header('upload-length', media.size).header(MEDIA_ID_HEADER, media.mediaId).send();
      const metadata = encodeMetadata(largeFiles.metadataOf(session));
      reply.header('upload-length', session.fileSize).header('upload-expires', new Date(session.expiresAt).toUTCString());
      if (metadata !== '') reply.header('upload-metadata', metadata);
      return reply.send();
    });

    // What HEAD says, as JSON for clients that cannot read headers (a browser without the exposed
    // ones, a script): the offset, the length and, once complete, the media_id.
    tus.get<{ Params: { id: string } }>('/:id', hidden, async (request, reply) => {
      const { session, offset, media } = await uploadState(request);
      if (media) reply.header(MEDIA_ID_HEADER, media.mediaId);
      const answer = media
        ? { offset, length: media.size, complete: true, media_id: media.mediaId, expires_at: null }
        : { offset, length: session.fileSize, complete: false, media_id: null, expires_at: session.expiresAt };
      return tusHeaders(reply).code(200).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify({ errcode: 0, errmsg: 'ok', ...answer }));
    });

    tus.patch<{ Params: { id: string } }>('/:id', hidden, (request, reply) => uploads.track(async () => {
      if (!(request.headers['content-type'] ?? '').startsWith(OFFSET_STREAM)) throw new ApiError('multipartRequired', `Content-Type must be ${OFFSET_STREAM}`);
      const offset = byteCount(request.headers['upload-offset']);
      if (offset === undefined || offset === 'invalid') throw new ApiError('missingParameter', 'Upload-Offset');
      const { who, session } = await sessionOf(request);
      const done = await receive(request, reply, who, session, offset);
      tusHeaders(reply).header('upload-expires', new Date(session.expiresAt).toUTCString());
      if (done.media) reply.header(MEDIA_ID_HEADER, done.media.mediaId);
      return reply.code(204).send();
    }));

    tus.delete<{ Params: { id: string } }>('/:id', hidden, async (request, reply) => {
      const { session } = await sessionOf(request);
      if (!(await largeFiles.terminate(session))) throw new ApiError('unknownUploadSession', 'gone');
      return tusHeaders(reply).code(204).send();
    });
  }, { prefix: TUS_PATH });
}
