// Did the target really keep what it acknowledged? Counts the files of exactly the payload's
// size under a folder and hashes a few of them (issue 6: no target may win by dropping data).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { get } from 'node:http';
import { join } from 'node:path';
import type { Payload } from './payloads.ts';
import type { StoredCount } from './target.ts';

async function* filesUnder(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (entry.isFile()) yield path;
  }
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const SAMPLES_HASHED = 3;

/** Files of exactly `payload.size` bytes under `dir`, and the sha256 of the first few of them. */
export async function countPayloadFiles(dir: string, payload: Payload): Promise<StoredCount> {
  let files = 0;
  let otherFiles = 0;
  const samples: string[] = [];
  for await (const path of filesUnder(dir)) {
    if ((await stat(path)).size === payload.size) {
      files += 1;
      if (samples.length < SAMPLES_HASHED) samples.push(path);
    } else {
      otherFiles += 1;
    }
  }
  const mismatched: string[] = [];
  for (const path of samples) if ((await sha256OfFile(path)) !== payload.sha256) mismatched.push(path);
  const count: StoredCount = {
    files,
    bytes: files * payload.size,
    detail: `${files} files of ${payload.size} bytes on disk (${otherFiles} other files); sha256 of ${samples.length} sampled: ${mismatched.length === 0 ? 'match' : 'MISMATCH'}`,
  };
  if (mismatched.length > 0) count.contentMismatch = `stored bytes differ from the payload in ${mismatched.join(', ')}`;
  return count;
}

/** GETs a URL and hashes the body: a download compared with the payload it should be. */
export function sha256OfUrl(url: string, headers?: Record<string, string>): Promise<{ status: number; bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { headers }, (response) => {
      const hash = createHash('sha256');
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
      response.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', reject);
  });
}
