// The goals of issue 6 (and issue 16's for the WeCom and Feishu wires), judged from the ratios of one run. A goal whose measurements failed
// (errors, data not stored) does not hold, whatever its figure.

import { cpuMsPerRequest, type Measurement } from './measure.ts';
import type { TargetName } from './target.ts';

export interface GoalVerdict {
  id: string;
  goal: string;
  /** true ✓, false ✗, null not measured. */
  holds: boolean | null;
  evidence: string;
}

const MB = 1e6;

function find(ms: Measurement[], step: string, target: TargetName): Measurement | undefined {
  return ms.find((m) => m.step === step && m.target === target && !m.skipped && m.load);
}

const cpuMs = (m: Measurement): string => cpuMsPerRequest(m)?.toFixed(2) ?? '?';

function ratioGoal(
  ms: Measurement[],
  id: string,
  goal: string,
  step: string,
  peer: TargetName,
  metric: 'megabytesPerSecond' | 'requestsPerSecond',
  atLeast: number,
  subject: TargetName = 'oapi-media',
): GoalVerdict {
  const ours = find(ms, step, subject);
  const theirs = find(ms, step, peer);
  if (!ours || !theirs) return { id, goal, holds: null, evidence: `not measured (${!ours ? subject : peer} has no figure)` };
  const ratio = ours.load![metric] / theirs.load![metric];
  const unit = metric === 'megabytesPerSecond' ? 'MB/s' : 'req/s';
  const failed = [ours, theirs].filter((m) => m.failures.length > 0).map((m) => m.target);
  // Between two wires of the product, the server CPU per request says whether a gap is the wire's
  // work or the shared machine (CPU time is much less disturbed by other load than the rate is).
  const cpu = subject !== 'oapi-media' && peer === 'oapi-media' ? `; server CPU per upload ${cpuMs(ours)} vs ${cpuMs(theirs)} ms` : '';
  const evidence = `${ratio.toFixed(2)}× (${ours.load![metric].toFixed(1)} vs ${theirs.load![metric].toFixed(1)} ${unit})${cpu}${failed.length ? `; FAILED measurement: ${failed.join(', ')}` : ''}`;
  return { id, goal, holds: ours.failures.length === 0 && theirs.failures.length === 0 && ratio >= atLeast, evidence };
}

function rssGoal(ms: Measurement[]): GoalVerdict {
  const id = 'c';
  const goal = '(c) oapi-media peak RSS ≤ 150 MB with 64 concurrent uploads, for 2 MiB and for 20 MiB files, whatever the client (node:http, undici)';
  const rows = ['c 2 MiB', 'c 20 MiB', 'c 20 MiB undici'].map((step) => find(ms, step, 'oapi-media'));
  if (rows.some((m) => !m)) return { id, goal, holds: null, evidence: 'not measured' };
  const peaks = rows.map((m) => m!.peakRssBytes! / MB);
  const failed = rows.some((m) => m!.failures.length > 0);
  return {
    id,
    goal,
    holds: !failed && peaks.every((p) => p <= 150),
    evidence: `2 MiB: ${peaks[0]!.toFixed(1)} MB, 20 MiB: ${peaks[1]!.toFixed(1)} MB, 20 MiB from undici: ${peaks[2]!.toFixed(1)} MB${failed ? '; FAILED measurement' : ''}`,
  };
}

function growthGoal(ms: Measurement[], direction: 'upload' | 'download'): GoalVerdict {
  const id = `e ${direction}`;
  const rows = ms.filter((m) => m.scenario === 'e' && m.direction === direction && m.load && !m.skipped).sort((a, b) => a.rowsSeeded! - b.rowsSeeded!);
  const fewest = rows[0];
  const most = rows[rows.length - 1];
  const goal = `(e) ${direction} rate with the most rows seeded ≥ 0.9× the rate with the fewest`;
  if (!fewest || !most || fewest === most) return { id, goal, holds: null, evidence: 'not measured (needs two row counts)' };
  const ratio = most.load!.requestsPerSecond / fewest.load!.requestsPerSecond;
  const failed = rows.some((m) => m.failures.length > 0);
  return {
    id,
    goal: `(e) ${direction} rate with ${most.rowsSeeded} rows ≥ 0.9× the rate with ${fewest.rowsSeeded}`,
    holds: !failed && ratio >= 0.9,
    evidence: `${ratio.toFixed(2)}× (${most.load!.requestsPerSecond.toFixed(1)} vs ${fewest.load!.requestsPerSecond.toFixed(1)} req/s)${failed ? '; FAILED measurement' : ''}`,
  };
}

export function judgeGoals(ms: Measurement[]): GoalVerdict[] {
  return [
    ratioGoal(ms, 'a nginx', '(a) 20 MiB uploads: ≥ 0.9× nginx WebDAV PUT (MB/s)', 'a', 'nginx-webdav', 'megabytesPerSecond', 0.9),
    ratioGoal(ms, 'a express', '(a) 20 MiB uploads: ≥ 1.5× Express + multer (MB/s)', 'a', 'express-multer', 'megabytesPerSecond', 1.5),
    ratioGoal(ms, 'b', '(b) 8 KiB uploads: ≥ 1.0× Fastify + multipart + SQLite (uploads/s)', 'b', 'fastify-multipart-sqlite', 'requestsPerSecond', 1.0),
    // Issue 16: the other wires share the core; their per-request work must not cost more than a tenth.
    ratioGoal(ms, 'b wecom', '(b) WeCom ≥ 0.9× (b) DingTalk (uploads/s, oapi-media-wecom ÷ oapi-media)', 'b', 'oapi-media', 'requestsPerSecond', 0.9, 'oapi-media-wecom'),
    ratioGoal(ms, 'b feishu', '(b) Feishu ≥ 0.9× (b) DingTalk (uploads/s, oapi-media-feishu ÷ oapi-media)', 'b', 'oapi-media', 'requestsPerSecond', 0.9, 'oapi-media-feishu'),
    rssGoal(ms),
    ratioGoal(ms, 'd', '(d) 20 MiB downloads: ≥ 0.8× nginx static sendfile (MB/s)', 'd', 'nginx-webdav', 'megabytesPerSecond', 0.8),
    growthGoal(ms, 'upload'),
    growthGoal(ms, 'download'),
  ];
}

export function verdictMark(holds: boolean | null): string {
  return holds === null ? '–' : holds ? '✓' : '✗';
}
