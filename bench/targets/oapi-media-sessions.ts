// oapi-media's upload sessions (issue 18), for scenario f (large files): the same bundle, flags
// and embedded default as the `oapi-media` target, the file sent over tus at /tus/files
// (oapi-media-tus) or over DingTalk's chunked upload (oapi-media-chunked); every acknowledged
// media downloaded back from /file/download and compared by sha256.

import { join } from 'node:path';
import { stopProcess } from '../processes.ts';
import type { RunningSessionTarget, SessionRequest, SessionTarget, StoredCount, TargetName } from '../target.ts';
import { countPayloadFiles, sha256OfUrl } from '../verify-stored.ts';
import { BLOB_DIR, startWithToken } from './oapi-media.ts';

function oapiMediaSessions(name: TargetName, description: string, request: (baseUrl: string, token: string) => SessionRequest): SessionTarget {
  return {
    name,
    description,
    async start(dataDir): Promise<RunningSessionTarget> {
      const { server, token } = await startWithToken(dataDir);
      return {
        pid: server.pid,
        sessions: () => request(server.baseUrl, token),
        async countStored(payload, acknowledgedIds): Promise<StoredCount> {
          const wrong: string[] = [];
          for (const mediaId of acknowledgedIds) {
            const got = await sha256OfUrl(`${server.baseUrl}/file/download?access_token=${token}&media_id=${encodeURIComponent(mediaId)}`);
            if (got.status !== 200 || got.sha256 !== payload.sha256) wrong.push(`${mediaId}: HTTP ${got.status}, ${got.bytes} bytes`);
          }
          // The media's blob files are whole files of the payload's size; the chunks' are gone with the commit.
          const blobs = await countPayloadFiles(join(dataDir, BLOB_DIR), payload);
          const count: StoredCount = {
            files: Math.min(blobs.files, acknowledgedIds.length - wrong.length),
            bytes: Math.min(blobs.files, acknowledgedIds.length - wrong.length) * payload.size,
            detail: `${blobs.detail}; ${acknowledgedIds.length} downloaded back from /file/download: ${wrong.length === 0 ? 'sha256 match' : 'MISMATCH'}`,
          };
          const mismatch = [blobs.contentMismatch, wrong.length ? `downloads differ: ${wrong.join('; ')}` : undefined].filter(Boolean);
          if (mismatch.length) count.contentMismatch = mismatch.join('; ');
          return count;
        },
        stop: () => stopProcess(server.child),
      };
    },
  };
}

export const oapiMediaTus = oapiMediaSessions(
  'oapi-media-tus',
  'the product (bundle, `npm start` flags, embedded default), tus at `/tus/files` with a Bearer access token: each PATCH durable before its 204, the last one commits (sha256, sniffing, fsync, rename)',
  (baseUrl, token) => ({ protocol: 'tus', url: `${baseUrl}/tus/files`, headers: { authorization: `Bearer ${token}` } }),
);

export const oapiMediaChunked = oapiMediaSessions(
  'oapi-media-chunked',
  'the same product, DingTalk\'s chunked upload: `GET /file/upload/transaction`, `POST /file/upload/chunk` (multipart `file`), the commit',
  (baseUrl, token) => ({ protocol: 'dingtalk', url: baseUrl, accessToken: token }),
);
