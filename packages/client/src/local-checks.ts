// The checks the server makes before it stores a file, made before sending it, with the
// errcodes the server answers (api.md "POST /media/upload"; the limits and formats come
// from @oapi-media/core, DingTalk's tables that the server uses). `localChecks: false` skips them.

import { DINGTALK_ERRORS, DINGTALK_MEDIA_LIMITS, EXTENSION_FORMATS, extensionOf, isMediaType, type ErrorKind } from '@oapi-media/core';
import { DingTalkError } from './errors.ts';

export interface UploadToCheck {
  readonly type: string;
  readonly filename: string;
  /** Unknown for a stream: then the size is checked while it is read (metered-stream.ts). */
  readonly size: number | undefined;
}

/** Throws the DingTalkError the server would answer, or returns the type's byte limit. */
export function checkUploadLocally(upload: UploadToCheck): number {
  if (!isMediaType(upload.type)) throw localError('unknownMediaType');
  const rule = DINGTALK_MEDIA_LIMITS[upload.type];
  // Size before format: the server refuses a declared Content-Length over the limit unread.
  if (upload.size !== undefined && upload.size > rule.maxBytes) throw localError('mediaTooLarge');
  if (upload.size === 0) throw localError('emptyMedia');
  const format = EXTENSION_FORMATS[extensionOf(upload.filename)];
  if (format === undefined || !rule.formats.includes(format)) throw localError('formatNotAllowed');
  return rule.maxBytes;
}

/** The notes of local-check errors (DingTalkError.note), one per way the check ended the call. */
export const LOCAL_CHECK_NOTES = Object.freeze({
  /** Refused before anything was sent. */
  nothingSent: 'checked locally, nothing sent',
  /** A stream of unknown size passed the type's limit while it was being sent: the send was cut. */
  stoppedAtLimit: 'checked locally, upload stopped at the limit',
});

export function localError(kind: ErrorKind, note: string = LOCAL_CHECK_NOTES.nothingSent): DingTalkError {
  const { errcode, zh } = DINGTALK_ERRORS[kind];
  return new DingTalkError({ errcode, errmsg: zh, note });
}
