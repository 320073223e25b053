// WeCom's (企业微信, /cgi-bin) wire tables (docs/api.md "WeCom"): every error kind of the product ->
// WeCom's errcode, English errmsg and HTTP status, and WeCom's limits per media type. Codes and
// meanings are WeCom's global error table (developer.work.weixin.qq.com/document/path/90313);
// the English texts are those the live service answers, as logged in public issue threads.

import type { ErrorKind } from '../error-kinds.ts';
import { MiB, type MediaLimits, type MediaTypeRule } from '../media-types.ts';

export interface WeComAnswer {
  readonly errcode: number;
  /** WeCom's English text, before the `, hint: [...]` suffix every error carries. */
  readonly text: string;
  /** HTTP status: 200 for API errors, as WeCom does; others only for what is not an API call. */
  readonly httpStatus: number;
}

/** What WeCom alone distinguishes: which credential of /cgi-bin/gettoken is missing. */
export type WeComOnlyKind = 'missingCorpId' | 'missingCorpSecret';

export type WeComAnswerKind = ErrorKind | WeComOnlyKind;

export const WECOM_ERRORS: Readonly<Record<WeComAnswerKind, WeComAnswer>> = Object.freeze({
  systemBusy: { errcode: -1, text: 'system busy', httpStatus: 200 },
  internalError: { errcode: -1, text: 'system busy', httpStatus: 500 },
  // An unknown corpid answers as a wrong secret: no probing which corpids exist (WeCom itself says 40013).
  wrongCredentials: { errcode: 40001, text: 'invalid credential', httpStatus: 200 },
  unknownMediaType: { errcode: 40004, text: 'invalid media type', httpStatus: 200 },
  formatNotAllowed: { errcode: 40005, text: 'invalid file type', httpStatus: 200 },
  mediaTooSmall: { errcode: 40006, text: 'invalid file size', httpStatus: 200 },
  unknownMedia: { errcode: 40007, text: 'invalid media_id', httpStatus: 200 },
  invalidToken: { errcode: 40014, text: 'invalid access_token', httpStatus: 200 },
  missingParameter: { errcode: 40035, text: 'invalid parameter', httpStatus: 200 },
  missingToken: { errcode: 41001, text: 'access_token missing', httpStatus: 200 },
  missingCorpId: { errcode: 41002, text: 'corpid missing', httpStatus: 200 },
  missingCorpSecret: { errcode: 41004, text: 'corpsecret missing', httpStatus: 200 },
  missingMedia: { errcode: 41005, text: 'media data missing', httpStatus: 200 },
  missingMediaId: { errcode: 41006, text: 'media_id missing', httpStatus: 200 },
  tokenExpired: { errcode: 42001, text: 'access_token expired', httpStatus: 200 },
  getRequired: { errcode: 43001, text: 'require GET method', httpStatus: 405 },
  postRequired: { errcode: 43002, text: 'require POST method', httpStatus: 405 },
  // WeCom answers a multipart body it cannot split (e.g. no boundary) with 44001 (empty media data).
  multipartRequired: { errcode: 44001, text: 'empty media data', httpStatus: 200 },
  emptyMedia: { errcode: 44001, text: 'empty media data', httpStatus: 200 },
  mediaTooLarge: { errcode: 45001, text: 'media size out of limit', httpStatus: 200 },
  rateLimited: { errcode: 45009, text: 'api freq out of limit', httpStatus: 200 },
  // As on DingTalk: the code SDKs back off on, with a text of its own for operators.
  authLockedOut: { errcode: 45009, text: 'too many failed credential checks from this address; retry later', httpStatus: 200 },
  // Not a WeCom code (WeCom's temporary media are not capped per corp): the product's own, the same
  // as DingTalk's, outside the codes SDKs retry on.
  quotaExceeded: { errcode: 45010, text: 'organization storage quota exceeded', httpStatus: 200 },
  // The product's minimum body rate (OAPI_MEDIA_MIN_BODY_BYTES_PER_SECOND): not a WeCom code, the same as DingTalk's.
  uploadTooSlow: { errcode: 45011, text: 'upload body arrived slower than the server\'s minimum rate', httpStatus: 200 },
  // Upload sessions are a DingTalk (and tus) call: no WeCom route reaches these; DingTalk's codes.
  unknownUploadSession: { errcode: 45020, text: 'invalid upload_id', httpStatus: 200 },
  chunkOutOfRules: { errcode: 45021, text: 'chunk outside the rules of its upload', httpStatus: 200 },
  chunkConflict: { errcode: 45022, text: 'chunk already uploaded with other bytes', httpStatus: 200 },
  uploadIncomplete: { errcode: 45023, text: 'upload incomplete', httpStatus: 200 },
  checksumMismatch: { errcode: 45024, text: 'chunk checksum mismatch', httpStatus: 200 },
  offsetMismatch: { errcode: 45025, text: 'upload offset mismatch', httpStatus: 200 },
  // Third-party suites are a DingTalk call (/service/get_corp_token): no WeCom route reaches these.
  suiteNotAuthorized: { errcode: 40001, text: 'invalid credential', httpStatus: 200 },
  malformedSignatureTimestamp: { errcode: 40001, text: 'invalid credential', httpStatus: 200 },
  staleSignatureTimestamp: { errcode: 40001, text: 'invalid credential', httpStatus: 200 },
  unknownSuite: { errcode: 40001, text: 'invalid credential', httpStatus: 200 },
  wrongSignature: { errcode: 40001, text: 'invalid credential', httpStatus: 200 },
  wrongSuiteTicket: { errcode: 40001, text: 'invalid credential', httpStatus: 200 },
  // The product's choice (WeCom's answer to an unknown /cgi-bin path is not documented): HTTP 404.
  unknownEndpoint: { errcode: 404, text: 'invalid api path', httpStatus: 404 },
  // The product's form limits (docs/api.md "Form limits"): the same codes as on DingTalk.
  tooManyFormParts: { errcode: 45012, text: 'too many fields or parts in the upload form', httpStatus: 200 },
  partHeaderTooLarge: { errcode: 45013, text: 'a form part header is larger than 16 KiB', httpStatus: 200 },
  invalidFileName: { errcode: 40098, text: 'invalid file name (a control character such as NUL sent raw in the part header)', httpStatus: 200 },
  // Not API calls: HTTP that Node's parser refused (errcode = the HTTP status), when WeCom is mounted at the root.
  malformedHttpRequest: { errcode: 400, text: 'malformed HTTP request', httpStatus: 400 },
  requestHeadersTimeout: { errcode: 408, text: 'the request headers did not arrive in time', httpStatus: 408 },
  requestHeadersTooLarge: { errcode: 431, text: 'the request headers are too large', httpStatus: 431 },
  requestTooLarge: { errcode: 413, text: 'request too large', httpStatus: 413 },
});

/** Every WeCom file is more than 5 bytes (WeCom's "上传临时素材": 所有文件size必须大于5个字节). */
const WECOM_MIN_BYTES = 6;

/** WeCom's limits of /cgi-bin/media/upload: image 10 MB jpg/png, voice 2 MB amr, video 10 MB mp4, file 20 MB any format. */
export const WECOM_MEDIA_LIMITS: MediaLimits = Object.freeze({
  image: { maxBytes: 10 * MiB, minBytes: WECOM_MIN_BYTES, formats: ['jpg', 'png'] },
  voice: { maxBytes: 2 * MiB, minBytes: WECOM_MIN_BYTES, formats: ['amr'] },
  video: { maxBytes: 10 * MiB, minBytes: WECOM_MIN_BYTES, formats: ['mp4'] },
  file: { maxBytes: 20 * MiB, minBytes: WECOM_MIN_BYTES, formats: [], anyFormat: true },
});

/** /cgi-bin/media/uploadimg: a permanent image for message bodies, at most 2 MB, jpg or png. */
export const WECOM_UPLOADIMG_RULE: MediaTypeRule = Object.freeze<MediaTypeRule>({ maxBytes: 2 * MiB, minBytes: WECOM_MIN_BYTES, formats: ['jpg', 'png'] });

/** Where an error's errmsg sends the reader, as WeCom's own answers do. */
export const WECOM_ERROR_INFO_URL = 'https://open.work.weixin.qq.com/devtool/query?e=';
