// Waves of concurrent uploads for the dependency drills: bodies built before the clock starts,
// every answer timed and tallied by errcode, the acknowledged ones kept to be checked by sha256.

import type { MediaFormat, MediaType } from '@oapi-media/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { sampleOfSize } from '../../fixtures/samples.ts';
import { downloadBytes, sha256, upload } from '../../helpers/e2e-http.ts';
import type { SeededRandom } from './seeded-random.ts';

export const CONCURRENT_UPLOADS = 64;

const FORMATS: readonly (readonly [MediaFormat, MediaType, string])[] = [
  ['png', 'image', 'png'], ['jpg', 'image', 'jpg'], ['gif', 'image', 'gif'], ['mp3', 'voice', 'mp3'],
  ['wav', 'voice', 'wav'], ['mp4', 'video', 'mp4'], ['pdf', 'file', 'pdf'], ['zip', 'file', 'zip'],
];

export interface PreparedUpload {
  type: MediaType;
  name: string;
  bytes: Buffer;
  sha256: string;
}

export interface Acknowledged {
  mediaId: string;
  sha256: string;
}

export interface WaveResult {
  /** errcode -> how many answered it; 'cut' for a connection closed without an answer. */
  byErrcode: Record<string, number>;
  acknowledged: Acknowledged[];
  /** Time from the wave's start to each answer, ms. */
  answerMs: number[];
  maxAnswerMs: number;
}

/** `count` uploads of `minBytes` (16 KiB) to `maxBytes` (and `largeCount` of them above `largeBytes`: multipart on S3). */
export function prepareUploads(random: SeededRandom, options: { count?: number; minBytes?: number; maxBytes?: number; largeCount?: number; largeBytes?: number } = {}): PreparedUpload[] {
  const { count = CONCURRENT_UPLOADS, minBytes = 16 * 1024, maxBytes = 512 * 1024, largeCount = 0, largeBytes = 6 * 1024 * 1024 } = options;
  return Array.from({ length: count }, (_, i) => {
    const large = i < largeCount;
    const [format, type, ext] = large ? (['pdf', 'file', 'pdf'] as const) : random.pick(FORMATS);
    const bytes = sampleOfSize(format, large ? largeBytes + random.int(0, 64 * 1024) : random.int(minBytes, maxBytes));
    return { type, name: `upload-${i}.${ext}`, bytes, sha256: sha256(bytes) };
  });
}

/** Sends every prepared upload at once; resolves when each has its answer (or was cut). */
export async function uploadWave(url: string, token: string, prepared: PreparedUpload[]): Promise<WaveResult> {
  const started = performance.now();
  const answers = await Promise.all(prepared.map(async (p) => {
    try {
      const answer = await upload(url, token, p.type, p.bytes, p.name);
      return { errcode: String(answer.errcode), mediaId: answer.media_id, sha256: p.sha256, ms: performance.now() - started };
    } catch {
      return { errcode: 'cut', mediaId: undefined, sha256: p.sha256, ms: performance.now() - started };
    }
  }));
  const byErrcode: Record<string, number> = {};
  for (const a of answers) byErrcode[a.errcode] = (byErrcode[a.errcode] ?? 0) + 1;
  const answerMs = answers.map((a) => Math.round(a.ms));
  return {
    byErrcode,
    acknowledged: answers.filter((a) => a.errcode === '0').map((a) => ({ mediaId: a.mediaId!, sha256: a.sha256 })),
    answerMs,
    maxAnswerMs: Math.max(...answerMs),
  };
}

/** Downloads each acknowledged media: how many are missing and how many have other bytes. */
export async function verifyAcknowledged(url: string, token: string, acknowledged: Acknowledged[]): Promise<{ lost: number; corrupt: number }> {
  let lost = 0;
  let corrupt = 0;
  for (const media of acknowledged) {
    try {
      const { bytes } = await downloadBytes(url, token, media.mediaId);
      if (sha256(bytes) !== media.sha256) corrupt++;
    } catch {
      lost++;
    }
  }
  return { lost, corrupt };
}

/** Uploads `probe` every 100 ms until one is acknowledged; ms until then (throws past `timeoutMs`). */
export async function timeToRecover(url: string, token: string, probe: PreparedUpload, timeoutMs: number, acknowledged: Acknowledged[]): Promise<number> {
  const started = performance.now();
  for (;;) {
    const answer = await upload(url, token, probe.type, probe.bytes, probe.name).catch(() => undefined);
    if (answer?.errcode === 0) {
      acknowledged.push({ mediaId: answer.media_id!, sha256: probe.sha256 });
      return Math.round(performance.now() - started);
    }
    if (performance.now() - started > timeoutMs) throw new Error(`no upload acknowledged within ${timeoutMs} ms: last ${JSON.stringify(answer)}`);
    await sleep(100);
  }
}

/** "64 × 0, 0 × -1" style: the counts of a wave by errcode, largest first. */
export function errcodeSummary(byErrcode: Record<string, number>): string {
  return Object.entries(byErrcode).sort((a, b) => b[1] - a[1]).map(([code, n]) => `${n} × ${code}`).join(', ');
}
