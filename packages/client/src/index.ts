// @oapi-media/client: DingTalk's oapi media calls for Node ^20.19 || >=22.12, against oapi-media or DingTalk.

export { createClient, DINGTALK_BASE_URL } from './client.ts';
export type { AppCredentials, CallOptions, Client, ClientOptions, ClientSettings, MediaApi } from './client.ts';
export type { SuiteCredentials } from './suite-token-source.ts';
export {
  DingTalkError, isDingTalkError, isMediaClientError, isNetworkError, isTimeoutError,
  MEDIA_CLIENT_ERROR_BRAND, MediaClientError, NetworkError, TimeoutError,
} from './errors.ts';
export type { DingTalkErrorInit, MediaClientErrorKind } from './errors.ts';
export type { UploadInput } from './upload-input.ts';
export type { UploadOptions, UploadProgress, UploadResult } from './media-upload.ts';
export type { ByteRange, DownloadOptions } from './media-download.ts';
export { DownloadedMedia } from './downloaded-media.ts';
export type { DownloadProgress, SavedFile } from './downloaded-media.ts';
export type { RetryOptions } from './retry-policy.ts';
export type { MediaType } from '@oapi-media/core';
