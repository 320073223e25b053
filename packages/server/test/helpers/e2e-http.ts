// What an end-to-end test says to a real listening oapi-media: get a token, build a multipart body
// byte by byte (parts in any order, a file part with or without a filename), upload, download.

import { createHash, randomBytes } from 'node:crypto';
import type { TestServer } from './test-server.ts';
import type { IncomingMessage } from 'node:http';

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function getToken(baseUrl: string, appKey: string, appSecret: string): Promise<string> {
  const response = await fetch(`${baseUrl}/gettoken?appkey=${encodeURIComponent(appKey)}&appsecret=${encodeURIComponent(appSecret)}`);
  const body = (await response.json()) as { errcode: number; access_token?: string };
  if (body.errcode !== 0 || !body.access_token) throw new Error(`gettoken failed: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** The token of the test server's default app. */
export function tokenOf(server: TestServer): Promise<string> {
  return getToken(server.baseUrl, server.appKey, server.appSecret);
}

export type FormPart =
  | { name: string; value: string }
  | {
    name: string;
    data: Uint8Array;
    /** Sent raw as UTF-8 in `filename="..."` (no escaping: the test chooses the bytes). */
    filename?: string;
    /** Sent as `filename*=UTF-8''<this>` (RFC 5987 percent-encoding), for names a quoted string cannot carry. */
    filenameStar?: string;
    contentType?: string;
  };

export interface MultipartBody {
  contentType: string;
  body: Buffer;
}

/** A multipart/form-data body with `parts` in exactly this order (RFC 7578). */
export function multipartBody(parts: FormPart[]): MultipartBody {
  const boundary = `----oapi-media-test-${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if ('data' in part) {
      if (part.filename !== undefined) head += `; filename="${part.filename}"`;
      if (part.filenameStar !== undefined) head += `; filename*=UTF-8''${part.filenameStar}`;
      head += `\r\nContent-Type: ${part.contentType ?? 'application/octet-stream'}`;
    }
    chunks.push(Buffer.from(`${head}\r\n\r\n`, 'utf8'));
    chunks.push('data' in part ? Buffer.from(part.data) : Buffer.from(part.value, 'utf8'));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat(chunks) };
}

export interface UploadAnswer {
  errcode: number;
  errmsg: string;
  media_id?: string;
  created_at?: number;
  type?: string;
}

/** POSTs `parts` to /media/upload with `query` (e.g. {access_token, type}) and returns the JSON. */
export async function uploadParts(baseUrl: string, query: Record<string, string>, parts: FormPart[]): Promise<UploadAnswer> {
  const { contentType, body } = multipartBody(parts);
  const response = await fetch(`${baseUrl}/media/upload?${new URLSearchParams(query)}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: new Uint8Array(body),
  });
  return (await response.json()) as UploadAnswer;
}

/** The common case: token and type in the query, the file as `media` named `filename`. */
export function upload(baseUrl: string, token: string, type: string, data: Uint8Array, filename: string): Promise<UploadAnswer> {
  return uploadParts(baseUrl, { access_token: token, type }, [{ name: 'media', data, filename }]);
}

export function downloadUrl(baseUrl: string, token: string, mediaId: string, path = '/media/downloadFile'): string {
  return `${baseUrl}${path}?${new URLSearchParams({ access_token: token, media_id: mediaId })}`;
}

/** The downloaded bytes (throws on a JSON error answer, which has no ETag). */
export async function downloadBytes(baseUrl: string, token: string, mediaId: string): Promise<{ response: Response; bytes: Buffer }> {
  const response = await fetch(downloadUrl(baseUrl, token, mediaId));
  const bytes = Buffer.from(await response.arrayBuffer());
  if (response.status !== 200 || !response.headers.get('etag')) {
    throw new Error(`download of ${mediaId} failed: ${response.status} ${bytes.subarray(0, 200).toString()}`);
  }
  return { response, bytes };
}

/** The JSON answer of a request made with node:http (where fetch cannot shape the body). */
export function jsonAnswerOf(response: IncomingMessage): Promise<UploadAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as UploadAnswer);
      } catch (error) {
        reject(error as Error);
      }
    });
    response.on('error', reject);
  });
}
