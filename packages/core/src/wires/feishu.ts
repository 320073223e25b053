// Feishu's / Lark's (/open-apis) wire tables (docs/api.md "Feishu"): every error kind of the product
// -> Feishu's code, msg and HTTP status, and Feishu's limits. Codes and texts of the media calls are
// those of Feishu's own error tables for im/v1/images and im/v1/files (open.larksuite.com
// server-docs/im-v1/image/create, file/create, file/get); the token codes are its common error codes.
// Unlike DingTalk and WeCom, Feishu answers errors with HTTP 4xx.

import type { ErrorKind } from '../error-kinds.ts';
import { MiB, type MediaTypeRule } from '../media-types.ts';

export interface FeishuAnswer {
  readonly code: number;
  readonly msg: string;
  readonly httpStatus: number;
}

/**
 * What Feishu alone distinguishes: a token call without app_id or app_secret (10003, where any other
 * missing parameter is 234001), an image whose bytes are no image format it takes (234011, where
 * a file of the wrong kind is 234001), an image over its resolution limit (234039), and a download
 * over its 100 MB (234037).
 */
export type FeishuOnlyKind = 'missingAppCredentials' | 'unrecognizedImage' | 'imageResolutionTooLarge' | 'downloadTooLarge';

export type FeishuAnswerKind = ErrorKind | FeishuOnlyKind;

const BAD_PARAM = { code: 234001, msg: 'Invalid request param.', httpStatus: 400 } as const;
const INVALID_TOKEN = { code: 99991663, msg: 'Invalid access token for authorization. Please make a request with token attached.', httpStatus: 400 } as const;
const RATE_LIMITED = { code: 99991400, msg: 'request trigger frequency limit', httpStatus: 429 } as const;

export const FEISHU_ERRORS: Readonly<Record<FeishuAnswerKind, FeishuAnswer>> = Object.freeze({
  // Feishu's "internal error" of the common table (retrying may help).
  systemBusy: { code: 99991500, msg: 'internal error', httpStatus: 500 },
  internalError: { code: 99991500, msg: 'internal error', httpStatus: 500 },
  // The token call (auth/v3/*_access_token/internal): an app_id or app_secret missing is Feishu's
  // "invalid param" (10003); a wrong pair is "app secret invalid" (10014), also for an unknown app_id
  // (no probing which app_ids exist).
  missingAppCredentials: { code: 10003, msg: 'invalid param', httpStatus: 400 },
  wrongCredentials: { code: 10014, msg: 'app secret invalid', httpStatus: 400 },
  missingToken: { code: 99991661, msg: 'Missing access token for authorization. Please make a request with token attached.', httpStatus: 400 },
  invalidToken: INVALID_TOKEN,
  // Feishu has no "expired" code of its own: an expired tenant_access_token is 99991663.
  tokenExpired: INVALID_TOKEN,
  rateLimited: RATE_LIMITED,
  // As on the other wires: the code SDKs back off on, with a text of its own for operators.
  authLockedOut: { ...RATE_LIMITED, msg: 'too many failed credential checks from this address; retry later' },
  // Uploads: a file_type / image_type outside Feishu's enums, bytes of another kind than file_type,
  // a missing field: all Feishu's "Invalid request param." (its table has no finer code).
  missingParameter: BAD_PARAM,
  unknownMediaType: BAD_PARAM,
  formatNotAllowed: BAD_PARAM,
  missingMedia: BAD_PARAM,
  multipartRequired: BAD_PARAM,
  mediaTooLarge: { code: 234006, msg: 'The file size exceed the max value.', httpStatus: 400 },
  // Feishu's rules have no smallest size but 1 byte: not reached on this wire.
  mediaTooSmall: { code: 234010, msg: 'File\'s size can\'t be 0.', httpStatus: 400 },
  emptyMedia: { code: 234010, msg: 'File\'s size can\'t be 0.', httpStatus: 400 },
  // Not a Feishu code (its media space is not capped per tenant): the product's own, outside the
  // codes SDKs retry on.
  quotaExceeded: { code: 234045, msg: 'organization storage quota exceeded', httpStatus: 400 },
  // Downloads: Feishu's get answers a key the app cannot read with "Invalid request param." (its
  // table has no "not found"): an unknown key, another tenant's and another wire's id alike.
  missingMediaId: BAD_PARAM,
  unknownMedia: BAD_PARAM,
  unrecognizedImage: { code: 234011, msg: 'Can\'t regonnize the image format.', httpStatus: 400 }, // sic: Feishu's spelling
  imageResolutionTooLarge: { code: 234039, msg: 'Image resolution exceeds limit.', httpStatus: 400 },
  downloadTooLarge: { code: 234037, msg: 'Downloaded file size exceeds limit.', httpStatus: 400 },
  // Upload sessions are a DingTalk (and tus) call: no Feishu route reaches these.
  unknownUploadSession: BAD_PARAM,
  chunkOutOfRules: BAD_PARAM,
  chunkConflict: BAD_PARAM,
  uploadIncomplete: BAD_PARAM,
  checksumMismatch: BAD_PARAM,
  offsetMismatch: BAD_PARAM,
  // Third-party suites are a DingTalk call (/service/get_corp_token): no Feishu route reaches these.
  suiteNotAuthorized: { code: 10014, msg: 'app secret invalid', httpStatus: 400 },
  malformedSignatureTimestamp: { code: 10014, msg: 'app secret invalid', httpStatus: 400 },
  staleSignatureTimestamp: { code: 10014, msg: 'app secret invalid', httpStatus: 400 },
  unknownSuite: { code: 10014, msg: 'app secret invalid', httpStatus: 400 },
  wrongSignature: { code: 10014, msg: 'app secret invalid', httpStatus: 400 },
  wrongSuiteTicket: { code: 10014, msg: 'app secret invalid', httpStatus: 400 },
  // The product's choice (Feishu's answer to an unknown /open-apis path is its gateway's 404).
  unknownEndpoint: { code: 404, msg: '404 page not found', httpStatus: 404 },
  getRequired: { code: 405, msg: 'method not allowed: GET required', httpStatus: 405 },
  postRequired: { code: 405, msg: 'method not allowed: POST required', httpStatus: 405 },
  // The product's own limits (docs/api.md "Form limits", the minimum body rate): Feishu's table has
  // no finer code than "Invalid request param." for a form it refuses; a body cut for its pace is the product's.
  tooManyFormParts: BAD_PARAM,
  partHeaderTooLarge: BAD_PARAM,
  invalidFileName: BAD_PARAM,
  uploadTooSlow: { code: 234046, msg: 'upload body arrived slower than the server\'s minimum rate', httpStatus: 400 },
  // Not API calls: HTTP that Node's parser refused (code = the HTTP status), when Feishu is mounted at the root.
  malformedHttpRequest: { code: 400, msg: 'malformed HTTP request', httpStatus: 400 },
  requestHeadersTimeout: { code: 408, msg: 'the request headers did not arrive in time', httpStatus: 408 },
  requestHeadersTooLarge: { code: 431, msg: 'the request headers are too large', httpStatus: 431 },
  requestTooLarge: { code: 413, msg: 'request too large', httpStatus: 413 },
});

/** POST /open-apis/im/v1/images: at most 10 MB, not empty, one of Feishu's nine image formats. */
export const FEISHU_IMAGE_RULE: MediaTypeRule = Object.freeze<MediaTypeRule>({
  maxBytes: 10 * MiB, formats: ['jpg', 'png', 'webp', 'gif', 'bmp', 'ico', 'tiff', 'heic'],
});

/** Feishu's image resolution limits (width and height each): GIF 2000, others 12000, an avatar 4096. */
export const FEISHU_IMAGE_MAX_SIDE = Object.freeze({ gif: 2000, other: 12000, avatar: 4096 });

export const FEISHU_IMAGE_TYPES = ['message', 'avatar'] as const;
export const FEISHU_FILE_TYPES = ['opus', 'mp4', 'pdf', 'doc', 'xls', 'ppt', 'stream'] as const;
export type FeishuFileType = (typeof FEISHU_FILE_TYPES)[number];

const FILE_MAX_BYTES = 30 * MiB;

/**
 * POST /open-apis/im/v1/files: at most 30 MB, not empty; the bytes must be what file_type says (doc
 * takes .doc and .docx, xls .xls and .xlsx, ppt .ppt and .pptx), except `stream`, which takes any.
 */
export const FEISHU_FILE_RULES: Readonly<Record<FeishuFileType, { readonly type: 'voice' | 'video' | 'file'; readonly rule: MediaTypeRule }>> = Object.freeze({
  opus: { type: 'voice', rule: { maxBytes: FILE_MAX_BYTES, formats: ['opus'] } },
  mp4: { type: 'video', rule: { maxBytes: FILE_MAX_BYTES, formats: ['mp4'] } },
  pdf: { type: 'file', rule: { maxBytes: FILE_MAX_BYTES, formats: ['pdf'] } },
  doc: { type: 'file', rule: { maxBytes: FILE_MAX_BYTES, formats: ['doc', 'docx'] } },
  xls: { type: 'file', rule: { maxBytes: FILE_MAX_BYTES, formats: ['xls', 'xlsx'] } },
  ppt: { type: 'file', rule: { maxBytes: FILE_MAX_BYTES, formats: ['ppt', 'pptx'] } },
  stream: { type: 'file', rule: { maxBytes: FILE_MAX_BYTES, formats: [], anyFormat: true } },
});

/** GET /open-apis/im/v1/files/:file_key: Feishu serves files of at most 100 MB (234037 past it). */
export const FEISHU_DOWNLOAD_MAX_BYTES = 100 * MiB;
