// oapi-media, the product, on its embedded default (SQLite + local disk in --data), spoken to
// with the DingTalk API shape: /gettoken, then POST /media/upload?type=file (multipart part
// `media`), GET /media/downloadFile. Success is HTTP 200 with "errcode":0 (api.md).

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
import type { RunningTarget, StoredCount, Target } from '../target.ts';
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

export async function startServe(dataDir: string): Promise<ListeningServer> {
  buildBundleOnce();
  const port = await freePort();
  return startListeningServer(
    process.execPath,
    [...serveNodeFlags(), SERVE_BUNDLE, 'serve', '--data', dataDir, '--port', String(port), '--host', '127.0.0.1'],
    'oapi-media',
    serverEnv(),
  );
}

export async function createBenchApp(dataDir: string): Promise<AppCredentials> {
  const created = await runProcess(
    process.execPath,
    ['--import', 'tsx', CLI, 'app', 'create', '--org', 'default', '--name', 'bench', '--json', '--data', dataDir],
    { label: 'oapi-media app create', timeoutMs: 60_000, env: serverEnv(), cwd: REPO_ROOT },
  );
  const line = created.stdout.trim().split('\n').find((l) => l.trim().startsWith('{'));
  if (created.code !== 0 || !line) throw new Error(`oapi-media app create failed (exit ${created.code}): ${created.stdout}\n${created.stderr}`);
  return JSON.parse(line) as AppCredentials;
}

function httpJson(url: string, method = 'GET', body?: { payload: Payload }): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const boundary = '----oapiMediaBenchSetup';
    const head = body
      ? Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="${body.payload.fileName}"\r\nContent-Type: ${body.payload.contentType}\r\n\r\n`)
      : undefined;
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const headers: Record<string, string | number> = {};
    if (body && head) {
      headers['content-type'] = `multipart/form-data; boundary=${boundary}`;
      headers['content-length'] = head.length + body.payload.size + tail.length;
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
    if (body && head) {
      req.write(head);
      const file = createReadStream(body.payload.path);
      file.on('error', (error) => req.destroy(error));
      file.on('end', () => req.end(tail));
      file.pipe(req, { end: false });
    } else {
      req.end();
    }
  });
}

export async function getToken(baseUrl: string, app: AppCredentials): Promise<string> {
  const answer = await httpJson(`${baseUrl}/gettoken?appkey=${encodeURIComponent(app.appkey)}&appsecret=${encodeURIComponent(app.appsecret)}`);
  if (answer.errcode !== 0 || typeof answer.access_token !== 'string') throw new Error(`oapi-media /gettoken: ${JSON.stringify(answer)}`);
  return answer.access_token;
}

export async function uploadOnce(baseUrl: string, token: string, payload: Payload): Promise<string> {
  const answer = await httpJson(`${baseUrl}/media/upload?access_token=${token}&type=file`, 'POST', { payload });
  if (answer.errcode !== 0 || typeof answer.media_id !== 'string') throw new Error(`oapi-media upload of the setup file: ${JSON.stringify(answer)}`);
  return answer.media_id;
}

export function downloadUrl(baseUrl: string, token: string, mediaId: string): string {
  return `${baseUrl}/media/downloadFile?access_token=${token}&media_id=${encodeURIComponent(mediaId)}`;
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
export async function startWithToken(dataDir: string, app?: AppCredentials): Promise<{ server: ListeningServer; app: AppCredentials; token: string }> {
  const server = await startServe(dataDir);
  try {
    const credentials = app ?? (await createBenchApp(dataDir));
    return { server, app: credentials, token: await getToken(server.baseUrl, credentials) };
  } catch (error) {
    await stopProcess(server.child);
    throw error;
  }
}

export function runningOapiMedia(dataDir: string, server: ListeningServer, token: string): RunningTarget {
  const { baseUrl } = server;
  return {
    pid: server.pid,
    upload: (payload) => ({
      method: 'POST',
      urls: [`${baseUrl}/media/upload?access_token=${token}&type=file`],
      body: { kind: 'multipart', payloadPath: payload.path, fieldName: 'media', fileName: payload.fileName, contentType: payload.contentType },
      success: 'errcode-0',
      collectField: 'media_id',
    }),
    async prepareDownload(payload) {
      const mediaId = await uploadOnce(baseUrl, token, payload);
      return {
        method: 'GET',
        urls: [downloadUrl(baseUrl, token, mediaId)],
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
        const got = await sha256OfUrl(downloadUrl(baseUrl, token, mediaId));
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

export const oapiMedia: Target = {
  name: 'oapi-media',
  description: 'the product: `serve` on the embedded default (SQLite + local disk), DingTalk API shape, with auth, sniffing, sha256, fsync and rename',
  async unavailableReason() {
    return existsSync(CLI) ? null : `${CLI} does not exist yet (the product is still being written): skipped`;
  },
  async start(dataDir) {
    const { server, token } = await startWithToken(dataDir);
    return runningOapiMedia(dataDir, server, token);
  },
};
