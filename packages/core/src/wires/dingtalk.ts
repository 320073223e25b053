// DingTalk's wire tables (api.md): every error kind of the product -> DingTalk's errcode, errmsg and
// HTTP status, and DingTalk's limits per media type. Server and SDK share them so that both answer
// the same way.

import type { ErrorKind } from '../error-kinds.ts';
import { MiB, type MediaLimits } from '../media-types.ts';

export interface DingTalkAnswer {
  readonly errcode: number;
  /** DingTalk's own text (the default, for byte-level compatibility). */
  readonly zh: string;
  readonly en: string;
  /** HTTP status: 200 for API errors, as DingTalk does; others only for what is not an API call. */
  readonly httpStatus: number;
}

/**
 * What DingTalk alone distinguishes: wrong credentials sent under the older names corpid/corpsecret
 * get their own errcode (40089) rather than 40096.
 */
export type DingTalkOnlyKind = 'wrongCorpCredentials';

export type DingTalkAnswerKind = ErrorKind | DingTalkOnlyKind;

/** Which of DingTalk's texts an errmsg carries. */
export type ErrmsgLanguage = 'zh' | 'en';

export const DINGTALK_ERRORS: Readonly<Record<DingTalkAnswerKind, DingTalkAnswer>> = Object.freeze({
  systemBusy: { errcode: -1, zh: '系统繁忙', en: 'system busy', httpStatus: 200 },
  internalError: { errcode: -1, zh: '系统繁忙', en: 'system busy', httpStatus: 500 },
  unknownMediaType: { errcode: 40004, zh: '不合法的媒体文件类型', en: 'invalid media type', httpStatus: 200 },
  formatNotAllowed: { errcode: 40005, zh: '不合法的文件类型', en: 'invalid file type', httpStatus: 200 },
  mediaTooLarge: { errcode: 40006, zh: '不合法的文件大小', en: 'invalid file size', httpStatus: 200 },
  // DingTalk's rules have no smallest size: not reached on this wire, answered as DingTalk's size error.
  mediaTooSmall: { errcode: 40006, zh: '不合法的文件大小', en: 'invalid file size', httpStatus: 200 },
  unknownMedia: { errcode: 40007, zh: '不合法的媒体文件id', en: 'invalid media_id', httpStatus: 200 },
  invalidToken: { errcode: 40014, zh: '不合法的access_token', en: 'invalid access_token', httpStatus: 200 },
  missingParameter: { errcode: 40035, zh: '缺少参数', en: 'missing parameter', httpStatus: 200 },
  wrongCorpCredentials: { errcode: 40089, zh: '不合法的corpid或corpsecret', en: 'invalid corpid or corpsecret', httpStatus: 200 },
  wrongCredentials: { errcode: 40096, zh: '不合法的appKey或appSecret', en: 'invalid appKey or appSecret', httpStatus: 200 },
  missingToken: { errcode: 41001, zh: '缺少access_token参数', en: 'missing access_token', httpStatus: 200 },
  missingMedia: { errcode: 41005, zh: '缺少多媒体文件数据', en: 'missing media file', httpStatus: 200 },
  missingMediaId: { errcode: 41006, zh: '缺少media_id参数', en: 'missing media_id', httpStatus: 200 },
  tokenExpired: { errcode: 42001, zh: 'access_token超时', en: 'access_token expired', httpStatus: 200 },
  getRequired: { errcode: 43001, zh: '需要GET请求', en: 'GET required', httpStatus: 405 },
  postRequired: { errcode: 43002, zh: '需要POST请求', en: 'POST required', httpStatus: 405 },
  multipartRequired: { errcode: 43008, zh: '参数需要multipart类型', en: 'multipart/form-data required', httpStatus: 200 },
  emptyMedia: { errcode: 44001, zh: '多媒体文件为空', en: 'empty media file', httpStatus: 200 },
  rateLimited: { errcode: 45009, zh: '接口调用超过限制', en: 'API call rate limit exceeded', httpStatus: 200 },
  // DingTalk has one code for "too often" (45009); the lockout keeps it, so that SDKs back off, with
  // a text of its own so that an operator tells it from an app's request rate.
  authLockedOut: { errcode: 45009, zh: '认证失败次数过多，请稍后再试', en: 'too many failed credential checks from this address; retry later', httpStatus: 200 },
  // Not a DingTalk code (DingTalk's media space is not capped per org): the product's own, outside
  // DingTalk's ranges that SDKs retry on (-1, 45009), since retrying cannot help.
  // Not DingTalk codes either (DingTalk documents no form limits): the product's own, beside 45010,
  // so that a refused form says what was wrong instead of 41005/43008 (api.md "Form limits").
  tooManyFormParts: { errcode: 45012, zh: '表单字段或分段过多', en: 'too many fields or parts in the upload form', httpStatus: 200 },
  partHeaderTooLarge: { errcode: 45013, zh: '表单分段头过大', en: 'a form part header is larger than 16 KiB', httpStatus: 200 },
  invalidFileName: { errcode: 40098, zh: '不合法的文件名', en: 'invalid file name (a control character such as NUL sent raw in the part header)', httpStatus: 200 },
  quotaExceeded: { errcode: 45010, zh: '超过企业存储空间配额', en: 'organization storage quota exceeded', httpStatus: 200 },
  // The product's own too (DingTalk documents no minimum rate): a retry on a better link can help,
  // but not an immediate one, so not -1.
  uploadTooSlow: { errcode: 45011, zh: '上传速度过慢', en: 'upload body arrived slower than the server\'s minimum rate', httpStatus: 200 },
  // Upload sessions (issue 18: /file/upload/*): DingTalk documents no codes for these; the
  // product's own, 45020-45029 (api.md "Large files").
  unknownUploadSession: { errcode: 45020, zh: '不合法的upload_id', en: 'invalid upload_id (unknown, expired or committed)', httpStatus: 200 },
  chunkOutOfRules: { errcode: 45021, zh: '不合法的文件块', en: 'chunk outside the rules of its transaction (sequence, size)', httpStatus: 200 },
  chunkConflict: { errcode: 45022, zh: '文件块已上传且内容不同', en: 'chunk already uploaded with other bytes', httpStatus: 200 },
  checksumMismatch: { errcode: 45024, zh: '文件块校验和不一致', en: 'chunk checksum mismatch (Upload-Checksum)', httpStatus: 200 },
  offsetMismatch: { errcode: 45025, zh: '文件块偏移不一致', en: 'Upload-Offset is not where the upload stands', httpStatus: 200 },
  uploadIncomplete: { errcode: 45023, zh: '文件块不完整', en: 'transaction incomplete: chunks missing or not adding up to file_size', httpStatus: 200 },
  // POST /service/get_corp_token (issue 8, third-party suites). 40079 and the texts of 853002/853005
  // are DingTalk's own as answered by the live service; the texts of 853001/853003/853004 are
  // DingTalk support's descriptions of those codes (docs/suites.md).
  suiteNotAuthorized: { errcode: 40079, zh: '不存在的授权信息', en: 'the organization has not authorized this suite', httpStatus: 200 },
  malformedSignatureTimestamp: { errcode: 853001, zh: 'timestamp参数格式不正确', en: 'timestamp must be epoch milliseconds', httpStatus: 200 },
  staleSignatureTimestamp: { errcode: 853002, zh: '签名时间戳参数超时', en: 'timestamp more than a minute away from the server clock', httpStatus: 200 },
  unknownSuite: { errcode: 853003, zh: 'accessKey参数不合法', en: 'invalid accessKey (unknown suiteKey)', httpStatus: 200 },
  wrongSignature: { errcode: 853004, zh: 'signature参数不正确', en: 'signature does not match', httpStatus: 200 },
  wrongSuiteTicket: { errcode: 853005, zh: '签名中套件ticket参数无效', en: 'invalid suiteTicket in the signature', httpStatus: 200 },
  unknownEndpoint: { errcode: 404, zh: '请求的URI地址不存在', en: 'the requested URI does not exist', httpStatus: 404 },
  // Not API calls: HTTP that Node's parser refused, answered in the shape of unknownEndpoint
  // (errcode = the HTTP status), so that a client or a proxy log sees JSON and a request id.
  malformedHttpRequest: { errcode: 400, zh: '请求格式错误', en: 'malformed HTTP request', httpStatus: 400 },
  requestHeadersTimeout: { errcode: 408, zh: '请求头超时', en: 'the request headers did not arrive in time', httpStatus: 408 },
  requestHeadersTooLarge: { errcode: 431, zh: '请求头过大', en: 'the request headers are too large', httpStatus: 431 },
  requestTooLarge: { errcode: 413, zh: '请求过大', en: 'request too large', httpStatus: 413 },
});

/** api.md "POST /media/upload": DingTalk's size limit and formats of each media type. */
export const DINGTALK_MEDIA_LIMITS: MediaLimits = Object.freeze({
  image: { maxBytes: 20 * MiB, formats: ['jpg', 'gif', 'png', 'bmp'] },
  voice: { maxBytes: 2 * MiB, formats: ['amr', 'mp3', 'wav'] },
  video: { maxBytes: 20 * MiB, formats: ['mp4'] },
  file: { maxBytes: 20 * MiB, formats: ['doc', 'docx', 'xls', 'xlsx', 'ppt', 'pptx', 'zip', 'pdf', 'rar'] },
});
