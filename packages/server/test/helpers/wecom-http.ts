// WeCom's four media calls as a WeCom client sends them (raw HTTP, the exact shapes of WeCom's
// documentation: no maintained WeCom SDK on npm takes a base URL, see docs/api.md "WeCom"), over
// a real socket. Multipart bodies are built byte by byte (multipart.ts), so a part header can
// carry WeCom's `filelength` as WeCom's own example does.

import assert from 'node:assert/strict';
import { multipart, type Part } from './multipart.ts';

/** An errmsg as WeCom writes it: text, hint, the caller's address, the page of the code. */
export function wecomErrmsg(text: string, errcode: number): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped}, hint: \\[\\d{10}_0_[0-9a-f]{32}\\], from ip: 127\\.0\\.0\\.1, more info at https://open\\.work\\.weixin\\.qq\\.com/devtool/query\\?e=${errcode}$`);
}

export interface WeComAnswer {
  status: number;
  /** The body exactly as sent. */
  raw: string;
  json: Record<string, unknown>;
}

async function answerOf(response: Response): Promise<WeComAnswer> {
  const raw = await response.text();
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, raw);
  return { status: response.status, raw, json: JSON.parse(raw) as Record<string, unknown> };
}

/** Asserts a WeCom error answer: HTTP status, errcode, and errmsg = text + hint suffix; exactly those two fields. */
export function assertWeComError(answer: WeComAnswer, errcode: number, text: string, status = 200): void {
  assert.equal(answer.status, status, answer.raw);
  assert.deepEqual(Object.keys(answer.json), ['errcode', 'errmsg'], answer.raw);
  assert.equal(answer.json.errcode, errcode, answer.raw);
  assert.match(String(answer.json.errmsg), wecomErrmsg(text, errcode));
}

export async function wecomGettoken(baseUrl: string, query: Record<string, string>): Promise<WeComAnswer> {
  return answerOf(await fetch(`${baseUrl}/cgi-bin/gettoken?${new URLSearchParams(query)}`));
}

export async function wecomToken(baseUrl: string, corpId: string, corpSecret: string): Promise<string> {
  const answer = await wecomGettoken(baseUrl, { corpid: corpId, corpsecret: corpSecret });
  assert.equal(answer.json.errcode, 0, answer.raw);
  return answer.json.access_token as string;
}

/** POST a multipart body of `parts` (or a raw body with its content type) to a WeCom upload path. */
export async function wecomPost(baseUrl: string, path: string, query: Record<string, string>, parts: Part[] | { body: Buffer; contentType: string }): Promise<WeComAnswer> {
  const { body, contentType } = Array.isArray(parts) ? multipart(parts) : parts;
  return answerOf(await fetch(`${baseUrl}${path}?${new URLSearchParams(query)}`, { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) }));
}

/** The part `media` with WeCom's example part header: `filename=...; filelength=N` and application/octet-stream. */
export function mediaPart(filename: string, data: Buffer): { body: Buffer; contentType: string } {
  const boundary = `----wecom${Math.random().toString(16).slice(2)}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="media";filename="${filename}"; filelength=${data.length}\r\nContent-Type: application/octet-stream\r\n\r\n`;
  return {
    body: Buffer.concat([Buffer.from(head), data, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/** Uploads a temporary media; returns its media_id after checking the answer byte for byte. */
export async function wecomUpload(baseUrl: string, token: string, type: string, filename: string, data: Buffer): Promise<{ mediaId: string; createdAt: string; raw: string }> {
  const answer = await wecomPost(baseUrl, '/cgi-bin/media/upload', { access_token: token, type }, mediaPart(filename, data));
  const mediaId = String(answer.json.media_id);
  const createdAt = String(answer.json.created_at);
  assert.equal(answer.raw, `{"errcode":0,"errmsg":"","type":"${type}","media_id":"${mediaId}","created_at":"${createdAt}"}`, answer.raw);
  return { mediaId, createdAt, raw: answer.raw };
}

export function wecomGet(baseUrl: string, token: string, mediaId: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${baseUrl}/cgi-bin/media/get?${new URLSearchParams({ access_token: token, media_id: mediaId })}`, { headers });
}

/** A download answered as a WeCom error (HTTP 200 JSON). */
export async function wecomGetError(baseUrl: string, token: string, mediaId: string): Promise<WeComAnswer> {
  return answerOf(await wecomGet(baseUrl, token, mediaId));
}
