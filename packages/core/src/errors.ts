// The one table: every error kind of the product -> DingTalk errcode, errmsg (api.md "Error codes").
// Server and client share it so that both answer the same way.

export interface ErrorEntry {
  readonly errcode: number;
  /** DingTalk's own text (the default, for byte-level compatibility). */
  readonly zh: string;
  readonly en: string;
  /** HTTP status: 200 for API errors, as DingTalk does; others only for what is not an API call. */
  readonly httpStatus: number;
}

export const ERRORS = Object.freeze({
  systemBusy: { errcode: -1, zh: '系统繁忙', en: 'system busy', httpStatus: 200 },
  crash: { errcode: -1, zh: '系统繁忙', en: 'system busy', httpStatus: 500 },
  invalidMediaType: { errcode: 40004, zh: '不合法的媒体文件类型', en: 'invalid media type', httpStatus: 200 },
  invalidFileType: { errcode: 40005, zh: '不合法的文件类型', en: 'invalid file type', httpStatus: 200 },
  invalidFileSize: { errcode: 40006, zh: '不合法的文件大小', en: 'invalid file size', httpStatus: 200 },
  invalidMediaId: { errcode: 40007, zh: '不合法的媒体文件id', en: 'invalid media_id', httpStatus: 200 },
  invalidAccessToken: { errcode: 40014, zh: '不合法的access_token', en: 'invalid access_token', httpStatus: 200 },
  missingParameter: { errcode: 40035, zh: '缺少参数', en: 'missing parameter', httpStatus: 200 },
  invalidCorpCredentials: { errcode: 40089, zh: '不合法的corpid或corpsecret', en: 'invalid corpid or corpsecret', httpStatus: 200 },
  invalidAppCredentials: { errcode: 40096, zh: '不合法的appKey或appSecret', en: 'invalid appKey or appSecret', httpStatus: 200 },
  missingAccessToken: { errcode: 41001, zh: '缺少access_token参数', en: 'missing access_token', httpStatus: 200 },
  missingMedia: { errcode: 41005, zh: '缺少多媒体文件数据', en: 'missing media file', httpStatus: 200 },
  missingMediaId: { errcode: 41006, zh: '缺少media_id参数', en: 'missing media_id', httpStatus: 200 },
  expiredAccessToken: { errcode: 42001, zh: 'access_token超时', en: 'access_token expired', httpStatus: 200 },
  getRequired: { errcode: 43001, zh: '需要GET请求', en: 'GET required', httpStatus: 405 },
  postRequired: { errcode: 43002, zh: '需要POST请求', en: 'POST required', httpStatus: 405 },
  multipartRequired: { errcode: 43008, zh: '参数需要multipart类型', en: 'multipart/form-data required', httpStatus: 200 },
  emptyMedia: { errcode: 44001, zh: '多媒体文件为空', en: 'empty media file', httpStatus: 200 },
  rateLimited: { errcode: 45009, zh: '接口调用超过限制', en: 'API call rate limit exceeded', httpStatus: 200 },
  // Not a DingTalk code (DingTalk's media space is not capped per org): the product's own, outside
  // DingTalk's ranges that SDKs retry on (-1, 45009), since retrying cannot help.
  quotaExceeded: { errcode: 45010, zh: '超过企业存储空间配额', en: 'organization storage quota exceeded', httpStatus: 200 },
  // POST /service/get_corp_token (issue 8, third-party suites). 40079 and the texts of 853002/853005
  // are DingTalk's own as answered by the live service; the texts of 853001/853003/853004 are
  // DingTalk support's descriptions of those codes (docs/suites.md).
  corpNotAuthorized: { errcode: 40079, zh: '不存在的授权信息', en: 'the organization has not authorized this suite', httpStatus: 200 },
  invalidSignatureTimestamp: { errcode: 853001, zh: 'timestamp参数格式不正确', en: 'timestamp must be epoch milliseconds', httpStatus: 200 },
  staleSignatureTimestamp: { errcode: 853002, zh: '签名时间戳参数超时', en: 'timestamp more than a minute away from the server clock', httpStatus: 200 },
  invalidSuiteKey: { errcode: 853003, zh: 'accessKey参数不合法', en: 'invalid accessKey (unknown suiteKey)', httpStatus: 200 },
  invalidSignature: { errcode: 853004, zh: 'signature参数不正确', en: 'signature does not match', httpStatus: 200 },
  invalidSuiteTicket: { errcode: 853005, zh: '签名中套件ticket参数无效', en: 'invalid suiteTicket in the signature', httpStatus: 200 },
  notFound: { errcode: 404, zh: '请求的URI地址不存在', en: 'the requested URI does not exist', httpStatus: 404 },
} satisfies Record<string, ErrorEntry>);

export type ErrorKind = keyof typeof ERRORS;

export type ErrmsgLanguage = 'zh' | 'en';

/** A failure the API answers with its errcode; `detail` is for logs only, never sent. */
export class ApiError extends Error {
  readonly kind: ErrorKind;
  readonly detail: string | undefined;
  constructor(kind: ErrorKind, detail?: string) {
    super(detail ? `${kind}: ${detail}` : kind);
    this.name = 'ApiError';
    this.kind = kind;
    this.detail = detail;
  }
  get errcode(): number {
    return ERRORS[this.kind].errcode;
  }
}
