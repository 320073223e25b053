// oapi-media, the product, on its embedded default (SQLite + local disk in --data), spoken to
// with the DingTalk API shape: /gettoken, then POST /media/upload?type=file (multipart part
// `media`), GET /media/downloadFile. Success is HTTP 200 with "errcode":0 (api.md).
// oapi-media-wecom and oapi-media-feishu are the same product and start spoken to on its WeCom
// (/cgi-bin, "errcode":0) and Feishu (/open-apis, "code":0) wires by an app of that wire (issue 16).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { startListeningServer, type ListeningServer } from '../listening-server.ts';
import { freePort } from '../free-port.ts';
import { runProcess, stopProcess } from '../processes.ts';
import type { Payload } from '../payloads.ts';
import { fieldAt } from '../load.ts';
import type { RunningTarget, StoredCount, Target, TargetRequest } from '../target.ts';
import { countPayloadFiles, sha256OfUrl } from '../verify-stored.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO_ROOT, 'packages/server/src/cli.ts');
/** What `npm start` runs: the esbuild bundle of the server, built once per bench run. */
const SERVE_BUNDLE = join(REPO_ROOT, 'packages/server/dist/cli.js');
let bundleBuilt = false;

function buildBundleOnce(): void {
  if (bundleBuilt) return;
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs'), 'server'], { stdio: 'inherit', cwd: REPO_ROOT });
  bundleBuilt = true;
}
/** packages/server/src/stores/open.ts: SQLITE_FILE; blobs under DATA/blobs (stores/blobs/fs.ts). */
export const METADATA_FILE = 'meta.sqlite';
export const BLOB_DIR = 'blobs';

export interface AppCredentials {
  org: string;
  app: string;
  appkey: string;
  appsecret: string;
}

/** The embedded default only: a DATABASE_URL or OAPI_MEDIA_STORAGE in the bench's own env must not leak in. */
function serverEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DATABASE_URL', 'OAPI_MEDIA_STORAGE', 'REDIS_URL', 'OAPI_MEDIA_DATA', 'PORT', 'HOST', 'OAPI_MEDIA_RATE_LIMIT']) delete env[name];
  return env;
}

/**
 * The node flags `npm start` runs the server with (root package.json, config.serve_node_flags):
 * the bench measures the product exactly as it is started.
 */
export function serveNodeFlags(): string[] {
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { config?: { serve_node_flags?: string } };
  return (manifest.config?.serve_node_flags ?? '').split(/\s+/).filter(Boolean);
}

/**
 * Extra node flags for the product's process, for profiling only (e.g.
 * `BENCH_PROFILE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`): said on stderr, as the figures are then not the product's.
 */
function profileFlags(): string[] {
  const flags = (process.env.BENCH_PROFILE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  if (flags.length) process.stderr.write(`bench: oapi-media runs with BENCH_PROFILE_FLAGS ${flags.join(' ')} (profiling: not the product's figures)\n`);
  return flags;
}

export async function startServe(dataDir: string): Promise<ListeningServer> {
  buildBundleOnce();
  const port = await freePort();
  return startListeningServer(
    process.execPath,
    [...serveNodeFlags(), ...profileFlags(), SERVE_BUNDLE, 'serve', '--data', dataDir, '--port', String(port), '--host', '127.0.0.1'],
    'oapi-media',
    serverEnv(),
  );
}

export async function createBenchApp(dataDir: string, wire: WireShape['wire'] = 'dingtalk'): Promise<AppCredentials> {
  const created = await runProcess(
    process.execPath,
    ['--import', 'tsx', CLI, 'app', 'create', '--org', 'default', '--name', 'bench', '--wire', wire, '--json', '--data', dataDir],
    { label: 'oapi-media app create', timeoutMs: 60_000, env: serverEnv(), cwd: REPO_ROOT },
  );
  const line = created.stdout.trim().split('\n').find((l) => l.trim().startsWith('{'));
  if (created.code !== 0 || !line) throw new Error(`oapi-media app create failed (exit ${created.code}): ${created.stdout}\n${created.stderr}`);
  return JSON.parse(line) as AppCredentials;
}

/** A JSON call of the setup (token, one upload), answered as JSON whatever the status. */
function httpJson(
  url: string,
  method: 'GET' | 'POST',
  options: { headers?: Record<string, string>; json?: unknown; multipart?: { body: Extract<TargetRequest['body'], { kind: 'multipart' }>; payload: Payload } } = {},
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const boundary = '----oapiMediaBenchSetup';
    const headers: Record<string, string | number> = { ...options.headers };
    let head: Buffer | undefined;
    let tail: Buffer | undefined;
    let json: Buffer | undefined;
    if (options.multipart) {
      const { body, payload } = options.multipart;
      const fields = (body.fields ?? []).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`).join('');
      head = Buffer.from(`${fields}--${boundary}\r\nContent-Disposition: form-data; name="${body.fieldName}"; filename="${body.fileName}"\r\nContent-Type: ${body.contentType}\r\n\r\n`);
      tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      headers['content-type'] = `multipart/form-data; boundary=${boundary}`;
      headers['content-length'] = head.length + payload.size + tail.length;
    } else if (options.json !== undefined) {
      json = Buffer.from(JSON.stringify(options.json));
      headers['content-type'] = 'application/json; charset=utf-8';
      headers['content-length'] = json.length;
    }
    const req = request(url, { method, headers }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      response.on('end', () => {
        try {
          resolve(JSON.parse(text) as Record<string, unknown>);
        } catch {
          reject(new Error(`${method} ${url.replace(/access_token=[^&]+/, 'access_token=…')}: HTTP ${response.statusCode}, not JSON: ${text.slice(0, 200)}`));
        }
      });
    });
    req.setTimeout(60_000, () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', reject);
    if (options.multipart && head && tail) {
      req.write(head);
      const file = createReadStream(options.multipart.payload.path);
      file.on('error', (error) => req.destroy(error));
      file.on('end', () => req.end(tail));
      file.pipe(req, { end: false });
    } else {
      req.end(json);
    }
  });
}

/** Where a media can be downloaded again, with the headers the call needs. */
export interface MediaUrl {
  url: string;
  headers?: Record<string, string>;
}

/**
 * One API shape of the product (issue 16: the same core behind three wires): how a bench app
 * gets its token, uploads the payload as a `type=file` media, and downloads it back.
 */
export interface WireShape {
  wire: 'dingtalk' | 'wecom' | 'feishu';
  getToken(baseUrl: string, app: AppCredentials): Promise<string>;
  upload(baseUrl: string, token: string, payload: Payload): TargetRequest;
  download(baseUrl: string, token: string, mediaId: string): MediaUrl;
}

const withoutToken = (answer: Record<string, unknown>): string =>
  JSON.stringify({ ...answer, ...(answer.access_token ? { access_token: '…' } : {}), ...(answer.tenant_access_token ? { tenant_access_token: '…' } : {}) });

/** DingTalk: /gettoken, POST /media/upload?type=file (part `media`), GET /media/downloadFile. */
export const DINGTALK_SHAPE: WireShape = {
  wire: 'dingtalk',
  async getToken(baseUrl, app) {
    const answer = await httpJson(`${baseUrl}/gettoken?appkey=${encodeURIComponent(app.appkey)}&appsecret=${encodeURIComponent(app.appsecret)}`, 'GET');
    if (answer.errcode !== 0 || typeof answer.access_token !== 'string') throw new Error(`oapi-media /gettoken: ${withoutToken(answer)}`);
    return answer.access_token;
  },
  upload: (baseUrl, token, payload) => ({
    method: 'POST',
    urls: [`${baseUrl}/media/upload?access_token=${token}&type=file`],
    body: { kind: 'multipart', payloadPath: payload.path, fieldName: 'media', fileName: payload.fileName, contentType: payload.contentType },
    success: 'errcode-0',
    collectField: 'media_id',
  }),
  download: (baseUrl, token, mediaId) => ({ url: `${baseUrl}/media/downloadFile?access_token=${token}&media_id=${encodeURIComponent(mediaId)}` }),
};

/** WeCom: /cgi-bin/gettoken, POST /cgi-bin/media/upload?type=file (part `media`), GET /cgi-bin/media/get. */
export const WECOM_SHAPE: WireShape = {
  wire: 'wecom',
  async getToken(baseUrl, app) {
    const answer = await httpJson(`${baseUrl}/cgi-bin/gettoken?corpid=${encodeURIComponent(app.appkey)}&corpsecret=${encodeURIComponent(app.appsecret)}`, 'GET');
    if (answer.errcode !== 0 || typeof answer.access_token !== 'string') throw new Error(`oapi-media /cgi-bin/gettoken: ${withoutToken(answer)}`);
    return answer.access_token;
  },
  upload: (baseUrl, token, payload) => ({
    method: 'POST',
    urls: [`${baseUrl}/cgi-bin/media/upload?access_token=${token}&type=file`],
    body: { kind: 'multipart', payloadPath: payload.path, fieldName: 'media', fileName: payload.fileName, contentType: payload.contentType },
    success: 'errcode-0',
    collectField: 'media_id',
  }),
  download: (baseUrl, token, mediaId) => ({ url: `${baseUrl}/cgi-bin/media/get?access_token=${token}&media_id=${encodeURIComponent(mediaId)}` }),
};

/**
 * Feishu: POST /open-apis/auth/v3/tenant_access_token/internal, POST /open-apis/im/v1/files
 * (file_type=pdf, file_name, then the part `file`; Bearer token), GET /open-apis/im/v1/files/:file_key.
 */
export const FEISHU_SHAPE: WireShape = {
  wire: 'feishu',
  async getToken(baseUrl, app) {
    const answer = await httpJson(`${baseUrl}/open-apis/auth/v3/tenant_access_token/internal`, 'POST', { json: { app_id: app.appkey, app_secret: app.appsecret } });
    if (answer.code !== 0 || typeof answer.tenant_access_token !== 'string') throw new Error(`oapi-media tenant_access_token: ${withoutToken(answer)}`);
    return answer.tenant_access_token;
  },
  upload: (baseUrl, token, payload) => ({
    method: 'POST',
    urls: [`${baseUrl}/open-apis/im/v1/files`],
    headers: { authorization: `Bearer ${token}` },
    body: {
      kind: 'multipart',
      payloadPath: payload.path,
      fields: [['file_type', 'pdf'], ['file_name', payload.fileName]],
      fieldName: 'file',
      fileName: payload.fileName,
      contentType: payload.contentType,
    },
    success: 'code-0',
    collectField: 'data.file_key',
  }),
  download: (baseUrl, token, fileKey) => ({ url: `${baseUrl}/open-apis/im/v1/files/${encodeURIComponent(fileKey)}`, headers: { authorization: `Bearer ${token}` } }),
};

/** One upload the way the load generator sends it, judged the same way; returns the id answered. */
export async function uploadOnce(baseUrl: string, token: string, payload: Payload, shape: WireShape = DINGTALK_SHAPE): Promise<string> {
  const plan = shape.upload(baseUrl, token, payload);
  if (plan.body.kind !== 'multipart') throw new Error('an upload is multipart');
  const answer = await httpJson(plan.urls[0]!, 'POST', { headers: plan.headers, multipart: { body: plan.body, payload } });
  const ok = plan.success === 'code-0' ? answer.code === 0 : answer.errcode === 0;
  const id = plan.collectField ? fieldAt(answer, plan.collectField) : undefined;
  if (!ok || typeof id !== 'string') throw new Error(`oapi-media (${shape.wire}) upload of the setup file: ${JSON.stringify(answer)}`);
  return id;
}

export function downloadUrl(baseUrl: string, token: string, mediaId: string): string {
  return DINGTALK_SHAPE.download(baseUrl, token, mediaId).url;
}

/** Rows of this file name in the media table (the bench's uploads are all named after their payload). */
export function countMediaRows(dataDir: string, fileName: string): number {
  const db = new Database(join(dataDir, METADATA_FILE), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM media WHERE file_name = ?').get(fileName) as { n: number }).n;
  } finally {
    db.close();
  }
}

const DOWNLOADS_CHECKED = 3;

/** Media of this payload whose bytes are kept inside meta.sqlite (table media_bytes), three of them hashed. */
function countInlineMedia(dataDir: string, payload: Payload): { count: number; detail: string; contentMismatch?: string } {
  const db = new Database(join(dataDir, METADATA_FILE), { readonly: true, fileMustExist: true });
  try {
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'media_bytes'").get();
    if (!hasTable) return { count: 0, detail: 'no media_bytes table' };
    const of = 'FROM media m JOIN media_bytes b ON b.seq = m.seq WHERE m.file_name = ? AND length(b.bytes) = ?';
    const count = (db.prepare(`SELECT count(*) AS n ${of}`).get(payload.fileName, payload.size) as { n: number }).n;
    const sampled = db.prepare(`SELECT m.media_id, b.bytes ${of} ORDER BY random() LIMIT 3`).all(payload.fileName, payload.size) as { media_id: string; bytes: Buffer }[];
    const wrong = sampled.filter((r) => createHash('sha256').update(r.bytes).digest('hex') !== payload.sha256).map((r) => r.media_id);
    const detail = `${count} media of ${payload.size} bytes inside meta.sqlite; sha256 of ${sampled.length} sampled: ${wrong.length === 0 ? 'match' : 'MISMATCH'}`;
    return wrong.length === 0 ? { count, detail } : { count, detail, contentMismatch: `bytes inside meta.sqlite differ from the payload for ${wrong.join(', ')}` };
  } finally {
    db.close();
  }
}

/** A started product with an app and a token; also used by the growth scenario after seeding. */
export async function startWithToken(
  dataDir: string,
  app?: AppCredentials,
  shape: WireShape = DINGTALK_SHAPE,
): Promise<{ server: ListeningServer; app: AppCredentials; token: string }> {
  const server = await startServe(dataDir);
  try {
    const credentials = app ?? (await createBenchApp(dataDir, shape.wire));
    return { server, app: credentials, token: await shape.getToken(server.baseUrl, credentials) };
  } catch (error) {
    await stopProcess(server.child);
    throw error;
  }
}

export function runningOapiMedia(dataDir: string, server: ListeningServer, token: string, shape: WireShape = DINGTALK_SHAPE): RunningTarget {
  const { baseUrl } = server;
  return {
    pid: server.pid,
    upload: (payload) => shape.upload(baseUrl, token, payload),
    async prepareDownload(payload) {
      const mediaId = await uploadOnce(baseUrl, token, payload, shape);
      const { url, headers } = shape.download(baseUrl, token, mediaId);
      return {
        method: 'GET',
        urls: [url],
        ...(headers ? { headers } : {}),
        body: { kind: 'none' },
        success: 'http-2xx',
        expectedResponseBytes: payload.size,
      };
    },
    async countStored(payload, acknowledgedIds): Promise<StoredCount> {
      // Read back a few acknowledged media through the API while the server still runs...
      const checked = acknowledgedIds.filter((_, i) => i % Math.max(1, Math.floor(acknowledgedIds.length / DOWNLOADS_CHECKED)) === 0).slice(0, DOWNLOADS_CHECKED);
      const wrong: string[] = [];
      for (const mediaId of checked) {
        const { url, headers } = shape.download(baseUrl, token, mediaId);
        const got = await sha256OfUrl(url, headers);
        if (got.status !== 200 || got.sha256 !== payload.sha256) wrong.push(`${mediaId}: HTTP ${got.status}, ${got.bytes} bytes`);
      }
      // ...then count rows, and the bytes they stand for: blob files, or bytes kept inside the
      // database with the row (media up to OAPI_MEDIA_INLINE_MAX_BYTES): together they must hold
      // every acknowledged upload.
      const rows = countMediaRows(dataDir, payload.fileName);
      const blobs = await countPayloadFiles(join(dataDir, BLOB_DIR), payload);
      const inline = countInlineMedia(dataDir, payload);
      const files = Math.min(rows, blobs.files + inline.count);
      const count: StoredCount = {
        files,
        bytes: files * payload.size,
        detail: `${rows} media rows; ${blobs.detail}; ${inline.detail}; ${checked.length} downloaded back: ${wrong.length === 0 ? 'sha256 match' : 'MISMATCH'}`,
      };
      const mismatch = [blobs.contentMismatch, inline.contentMismatch, wrong.length ? `downloads differ: ${wrong.join('; ')}` : undefined].filter(Boolean);
      if (mismatch.length) count.contentMismatch = mismatch.join('; ');
      return count;
    },
    stop: () => stopProcess(server.child),
  };
}

const productUnavailable = async (): Promise<string | null> =>
  existsSync(CLI) ? null : `${CLI} does not exist yet (the product is still being written): skipped`;

export const oapiMedia: Target = {
  name: 'oapi-media',
  description: 'the product: `serve` on the embedded default (SQLite + local disk), DingTalk API shape, with auth, sniffing, sha256, fsync and rename',
  unavailableReason: productUnavailable,
  async start(dataDir) {
    const { server, token } = await startWithToken(dataDir);
    return runningOapiMedia(dataDir, server, token);
  },
};

/** The product behind one of its other wires: same bundle, flags and embedded default; an app of that wire. */
function oapiMediaOn(name: 'oapi-media-wecom' | 'oapi-media-feishu', shape: WireShape, calls: string): Target {
  return {
    name,
    description: `the same product and start as \`oapi-media\`, spoken to on its ${shape.wire === 'wecom' ? 'WeCom' : 'Feishu'} wire by an app of that wire: ${calls}`,
    scenarios: ['a', 'b', 'd'],
    unavailableReason: productUnavailable,
    async start(dataDir) {
      const { server, token } = await startWithToken(dataDir, undefined, shape);
      return runningOapiMedia(dataDir, server, token, shape);
    },
  };
}

export const oapiMediaWecom = oapiMediaOn(
  'oapi-media-wecom',
  WECOM_SHAPE,
  '`/cgi-bin/gettoken`, `POST /cgi-bin/media/upload?type=file`, `GET /cgi-bin/media/get` (success: `"errcode":0`)',
);

export const oapiMediaFeishu = oapiMediaOn(
  'oapi-media-feishu',
  FEISHU_SHAPE,
  '`POST /open-apis/auth/v3/tenant_access_token/internal`, `POST /open-apis/im/v1/files` (`file_type=pdf`, `file_name`, `file`; Bearer token), `GET /open-apis/im/v1/files/:file_key` (success: HTTP 200 and `"code":0`)',
);
