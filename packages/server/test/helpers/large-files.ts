// DingTalk's large-file API as a client calls it (api.md "Large files"): /file/upload/single,
// /file/upload/transaction (open, commit) and /file/upload/chunk, /file/download.

import { multipartBody, type FormPart } from './e2e-http.ts';

export interface DingTalkAnswer {
  errcode: number;
  errmsg: string;
  upload_id?: string;
  media_id?: string;
}

const KiB = 1024;
export const CHUNK_MIN = 100 * KiB;
export const CHUNK_MAX = 8 * 1024 * KiB;

async function json(response: Response): Promise<DingTalkAnswer> {
  return (await response.json()) as DingTalkAnswer;
}

export async function openTransaction(baseUrl: string, query: Record<string, string>): Promise<DingTalkAnswer> {
  return json(await fetch(`${baseUrl}/file/upload/transaction?${new URLSearchParams({ agent_id: '1', ...query })}`));
}

export async function commitTransaction(baseUrl: string, query: Record<string, string>): Promise<DingTalkAnswer> {
  return json(await fetch(`${baseUrl}/file/upload/transaction?${new URLSearchParams({ agent_id: '1', ...query })}`));
}

/** POSTs a multipart body to `path` with `query`. */
export async function postForm(baseUrl: string, path: string, query: Record<string, string>, parts: FormPart[]): Promise<DingTalkAnswer> {
  const { contentType, body } = multipartBody(parts);
  const response = await fetch(`${baseUrl}${path}?${new URLSearchParams(query)}`, {
    method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body),
  });
  return json(response);
}

export function sendChunk(baseUrl: string, token: string, uploadId: string, seq: number, data: Uint8Array, part = 'file'): Promise<DingTalkAnswer> {
  return postForm(baseUrl, '/file/upload/chunk', { access_token: token, agent_id: '1', upload_id: uploadId, chunk_sequence: String(seq) }, [
    { name: part, data, filename: `chunk${seq}` },
  ]);
}

/** Splits `data` into chunks of `chunkBytes` (the last one the rest). */
export function chunksOf(data: Buffer, chunkBytes: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += chunkBytes) chunks.push(data.subarray(at, Math.min(data.length, at + chunkBytes)));
  return chunks;
}

/** Opens a transaction, sends every chunk (`concurrency` at a time), commits; returns the commit's answer. */
export async function chunkedUpload(baseUrl: string, token: string, data: Buffer, chunkBytes: number, concurrency = 1, fileName?: string): Promise<DingTalkAnswer> {
  const chunks = chunksOf(data, chunkBytes);
  const opened = await openTransaction(baseUrl, {
    access_token: token, file_size: String(data.length), chunk_numbers: String(chunks.length), ...(fileName ? { file_name: fileName } : {}),
  });
  if (opened.errcode !== 0 || !opened.upload_id) throw new Error(`open failed: ${JSON.stringify(opened)}`);
  const uploadId = opened.upload_id;
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < chunks.length) {
      const index = next++;
      const answer = await sendChunk(baseUrl, token, uploadId, index + 1, chunks[index]!);
      if (answer.errcode !== 0) throw new Error(`chunk ${index + 1} failed: ${JSON.stringify(answer)}`);
    }
  }));
  return commitTransaction(baseUrl, { access_token: token, file_size: String(data.length), chunk_numbers: String(chunks.length), upload_id: uploadId });
}

export function largeFileUrl(baseUrl: string, token: string, mediaId: string): string {
  return `${baseUrl}/file/download?${new URLSearchParams({ access_token: token, media_id: mediaId })}`;
}
