// Maps whatever a request failed with to one entry of the errcode table (core/errors.ts).
// The caller never sees internal details: only errcode, errmsg and the request id.

import { ApiError, ERRORS, type ErrmsgLanguage, type ErrorKind } from '@oapi-media/core';
import { BlobNotFoundError, BlobUnavailableError } from './stores/blobs/interface.ts';
import { QuotaExceededError, StoreUnavailableError } from './stores/metadata/interface.ts';
import { StagingLimitError } from './service/staging.ts';

export interface MappedError {
  kind: ErrorKind;
  /** Whether the failure is the server's (logged as an error with its stack) or the caller's. */
  serverFault: boolean;
}

export function mapError(error: unknown): MappedError {
  if (error instanceof ApiError) return { kind: error.kind, serverFault: false };
  if (error instanceof StagingLimitError) return { kind: 'invalidFileSize', serverFault: false };
  if (error instanceof QuotaExceededError) return { kind: 'quotaExceeded', serverFault: false };
  // Storage or database down, disk full, a blob missing under a row: -1 with HTTP 200 (api.md "Error codes").
  if (error instanceof StoreUnavailableError || error instanceof BlobUnavailableError || error instanceof BlobNotFoundError) {
    return { kind: 'systemBusy', serverFault: true };
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'EMFILE') return { kind: 'systemBusy', serverFault: true };
  // Fastify's own 4xx (e.g. a malformed URL) are the caller's.
  const statusCode = (error as { statusCode?: number } | undefined)?.statusCode;
  if (statusCode === 404) return { kind: 'notFound', serverFault: false };
  return { kind: 'crash', serverFault: true };
}

export function errorPayload(kind: ErrorKind, language: ErrmsgLanguage, requestId: string): string {
  const entry = ERRORS[kind];
  return JSON.stringify({ errcode: entry.errcode, errmsg: entry[language], request_id: requestId });
}
