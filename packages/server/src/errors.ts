// Maps whatever a request failed with to one error kind of the product (core/error-kinds.ts),
// wire-neutral: each dialect then answers that kind in its own shape. The caller never sees
// internal details: only the wire's code, its message and the request id.

import { ApiError, type ErrorKind } from '@oapi-media/core';
import type { FastifyRequest } from 'fastify';
import { noteOnRequest } from './http/request-log.ts';
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
  if (error instanceof StagingLimitError) return { kind: 'mediaTooLarge', serverFault: false };
  if (error instanceof QuotaExceededError) return { kind: 'quotaExceeded', serverFault: false };
  // Storage or database down, disk full, a blob missing under a row: the wire's "system busy"
  // (DingTalk: -1 with HTTP 200, api.md "Error codes").
  if (error instanceof StoreUnavailableError || error instanceof BlobUnavailableError || error instanceof BlobNotFoundError) {
    return { kind: 'systemBusy', serverFault: true };
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'EMFILE') return { kind: 'systemBusy', serverFault: true };
  // Fastify's own 4xx (e.g. a malformed URL) are the caller's.
  const statusCode = (error as { statusCode?: number } | undefined)?.statusCode;
  if (statusCode === 404) return { kind: 'unknownEndpoint', serverFault: false };
  return { kind: 'internalError', serverFault: true };
}

/**
 * The kind a request's failure is answered with, on any wire: the caller's reason noted on the
 * request's log line, or, for the server's own faults, the error logged with its stack.
 */
export function failureKind(request: FastifyRequest, error: unknown): ErrorKind {
  const { kind, serverFault } = mapError(error);
  if (serverFault) request.log.error({ err: error }, 'request failed');
  else noteOnRequest(request, { reason: (error as Error).message });
  return kind;
}
