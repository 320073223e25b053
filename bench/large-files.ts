// Scenario f (issue 18): large files in upload sessions. 4 sessions at once, each sending one file
// (1 GiB; --quick 64 MiB; --large-file-mib N) in 8 MiB chunks, one chunk request at a time per
// session: oapi-media's tus endpoint next to the tus reference server (@tus/server +
// @tus/file-store), and oapi-media's DingTalk chunked upload of the same file. Judged by MB/s of
// whole files acknowledged; peak RSS and CPU of the server process as in every scenario. Every
// acknowledged file is checked: downloaded back (oapi-media) or hashed on disk (the peer).

import { measureRun, failedToRun, summaryLine, withTarget, type LoadSpec, type Measurement } from './measure.ts';
import { runSessionsInChild } from './load-runner.ts';
import { MiB, writeRandomPayload } from './payloads.ts';
import type { ScenarioContext } from './scenarios.ts';
import type { SessionTarget } from './target.ts';
import { oapiMediaChunked, oapiMediaTus } from './targets/oapi-media-sessions.ts';
import { tusFileStore } from './targets/tus-file-store.ts';

export const SESSION_TARGETS: SessionTarget[] = [oapiMediaTus, tusFileStore, oapiMediaChunked];
export const LARGE_FILE_SESSIONS = 4;
/** DingTalk's largest chunk; the tus PATCHes are of the same size, so both protocols send alike. */
export const LARGE_FILE_CHUNK_BYTES = 8 * MiB;
/** Per chunk request; the whole scenario of one target is killed after LARGE_FILE_TIMEOUT_MS. */
const CHUNK_TIMEOUT_MS = 120_000;
const LARGE_FILE_TIMEOUT_MS = 30 * 60_000;

export async function largeFiles(ctx: ScenarioContext): Promise<Measurement[]> {
  const targets = SESSION_TARGETS.filter((t) => ctx.options.targets.includes(t.name));
  if (targets.length === 0) return [];
  const size = ctx.options.largeFileBytes;
  process.stderr.write(`bench: f: writing a ${size / MiB} MiB payload of random bytes...\n`);
  const payload = writeRandomPayload(ctx.workDir, size);
  const spec: LoadSpec = { step: `f ${size / MiB} MiB`, scenario: 'f', direction: 'upload', payload, concurrency: LARGE_FILE_SESSIONS, durationMs: 0 };
  const measurements: Measurement[] = [];
  for (const target of targets) {
    const label = `${target.name} ${spec.step}`;
    try {
      measurements.push(await withTarget(target, ctx.workDir, ctx.options.keepTemp, async (running) => {
        process.stderr.write(`bench: ${label}: ${LARGE_FILE_SESSIONS} sessions of ${size} bytes in ${LARGE_FILE_CHUNK_BYTES}-byte chunks\n`);
        const plan = {
          ...running.sessions(),
          payloadPath: payload.path,
          payloadBytes: size,
          fileName: payload.fileName,
          chunkBytes: LARGE_FILE_CHUNK_BYTES,
          sessions: LARGE_FILE_SESSIONS,
          requestTimeoutMs: CHUNK_TIMEOUT_MS,
        };
        const measurement = await measureRun(target, running, spec, () => runSessionsInChild(plan, LARGE_FILE_TIMEOUT_MS, ctx.workDir, label));
        // A workload, not a time: the scenario lasts what the sessions take.
        measurement.durationMs = measurement.load!.elapsedMs;
        process.stderr.write(`bench: ${label}: ${summaryLine(measurement)}\n`);
        return measurement;
      }));
    } catch (error) {
      measurements.push(failedToRun(spec, target.name, error));
    }
  }
  return measurements;
}
