// The checks the server makes before it stores a file, made before sending it, with the
// errcodes the server answers (api.md "POST /media/upload"; the limits and formats come
// from @oapi-media/core, the table the server uses). `localChecks: false` skips them.

import { ERRORS, EXTENSION_FORMATS, MEDIA_TYPE_RULES, extensionOf, isMediaType, type ErrorKind } from '@oapi-media/core';
import { DingTalkError } from './errors.ts';

export interface UploadToCheck {
  readonly type: string;
  readonly filename: string;
  /** Unknown for a stream: then the size is checked while it is read (metered-stream.ts). */
  readonly size: number | undefined;
}

/** Throws the DingTalkError the server would answer, or returns the type's byte limit. */
export function checkUploadLocally(upload: UploadToCheck): number {
  if (!isMediaType(upload.type)) throw localError('invalidMediaType');
  const rule = MEDIA_TYPE_RULES[upload.type];
  // Size before format: the server refuses a declared Content-Length over the limit unread.
  if (upload.size !== undefined && upload.size > rule.maxBytes) throw localError('invalidFileSize');
  if (upload.size === 0) throw localError('emptyMedia');
  const format = EXTENSION_FORMATS[extensionOf(upload.filename)];
  if (format === undefined || !rule.formats.includes(format)) throw localError('invalidFileType');
  return rule.maxBytes;
}

export function localError(kind: ErrorKind, note = 'checked locally, nothing sent'): DingTalkError {
  const { errcode, zh } = ERRORS[kind];
  return new DingTalkError({ errcode, errmsg: zh, note });
}
