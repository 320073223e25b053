// SQLite's automatic checkpoint runs inside a committing call, every 1000 pages. The store turns
// it off and checkpoints (PASSIVE: never blocks writers) on its own schedule, once the WAL file
// has first passed a threshold, every interval:
// - while writes are light, on the main thread between two event-loop turns: ~3 ms for 700
//   pages here, and a server storing large media as files writes ~2 MB of WAL a second;
// - once one interval has put more than `heavyFrames` pages in the WAL (many small media kept in
//   the database), from a worker thread with its own connection, for good: its fsyncs then stay
//   off the event loop. The worker is a V8 isolate (~10 MB of RSS): only heavy writers pay it.

import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** CommonJS, evaluated in the worker (works the same from the TypeScript sources and the bundle). */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
const checkpoint = () => {
  try {
    if (statSync(workerData.path + '-wal').size >= workerData.thresholdBytes) db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // SQLite's own WAL or database fsync failed: the store must know (see onIoError).
    if (String(error && error.code).startsWith('SQLITE_IOERR')) parentPort.postMessage('io-error');
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

/**
 * What `PRAGMA wal_checkpoint(PASSIVE)` answers (frames in the WAL, how many are in the database
 * file), and SQLite's `total_changes()` of the store's connection at that moment.
 */
export interface CheckpointResult {
  log: number;
  checkpointed: number;
  changes: number;
}

export interface CheckpointerOptions {
  /** A checkpoint failed with an I/O error (an fsync of the WAL or of the database file, a write). */
  onIoError?: () => void;
  intervalMs: number;
  thresholdBytes: number;
  /** Pages written to the WAL in one interval past which checkpoints move to the worker. */
  heavyFrames: number;
}

export interface Checkpointer {
  /** 'idle' until the WAL first passes the threshold, then 'main-thread', or 'worker' for good. */
  readonly mode: 'idle' | 'main-thread' | 'worker';
  stop(): Promise<void>;
}

export const DEFAULT_CHECKPOINTER_OPTIONS: CheckpointerOptions = {
  intervalMs: 500,
  thresholdBytes: 4 * 1024 * 1024,
  heavyFrames: 1024, // 4 MiB of 4 KiB pages in 0.5 s
};

/**
 * `checkpointHere` runs a PASSIVE checkpoint on the store's own connection (never inside a
 * transaction: the timer runs between event-loop turns) and returns SQLite's answer, or null
 * when the store is closed.
 */
export function startCheckpointer(
  dbPath: string,
  checkpointHere: () => CheckpointResult | null,
  options: CheckpointerOptions = DEFAULT_CHECKPOINTER_OPTIONS,
): Checkpointer {
  let worker: Worker | undefined;
  let stopped = false;
  let mode: Checkpointer['mode'] = 'idle';
  let last: CheckpointResult | undefined;
  const onMainThread = (): void => {
    let result: CheckpointResult | null;
    try {
      result = checkpointHere();
    } catch {
      return; // a longer WAL; an I/O error was reported by checkpointHere itself
    }
    if (!result) return;
    const previous = last;
    last = result;
    if (written(previous, result) > options.heavyFrames) {
      clearInterval(watch);
      mode = 'worker';
      worker = startWorker(dbPath, options);
      worker.on('message', (message) => {
        if (message === 'io-error') options.onIoError?.();
      });
    }
  };
  const watch = setInterval(() => {
    if (mode === 'main-thread') return onMainThread();
    // Until then the main thread only looks at the WAL's size (one stat per interval).
    stat(`${dbPath}-wal`).then(
      (info) => {
        if (stopped || mode !== 'idle' || info.size < options.thresholdBytes) return;
        mode = 'main-thread';
        onMainThread();
      },
      () => {},
    );
  }, options.intervalMs);
  watch.unref();
  return {
    get mode() {
      return mode;
    },
    async stop() {
      stopped = true;
      clearInterval(watch);
      if (worker) await stopWorker(worker);
    },
  };
}

/**
 * Frames written to the WAL between two checkpoints. The first one finds the WAL's whole growth
 * up to the threshold, not one interval's: 0. No row changed: 0 (the WAL is as it was). After a
 * complete checkpoint the first write starts the WAL over, so its frames are all new.
 */
function written(previous: CheckpointResult | undefined, now: CheckpointResult): number {
  if (previous === undefined || now.changes === previous.changes) return 0;
  if (previous.checkpointed === previous.log) return now.log;
  return Math.max(0, now.log - previous.log);
}

function startWorker(dbPath: string, options: CheckpointerOptions): Worker {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path: dbPath, driver, intervalMs: options.intervalMs, thresholdBytes: options.thresholdBytes },
  });
  worker.unref(); // never keeps a process alive on its own
  worker.on('error', () => {}); // a failed checkpoint only means a longer WAL; SQLite stays consistent
  return worker;
}

async function stopWorker(worker: Worker): Promise<void> {
  worker.ref(); // held until it has closed its connection
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.postMessage('stop');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise<void>((resolve) => { timer = setTimeout(resolve, 2_000); })]);
  clearTimeout(timer);
  await worker.terminate().catch(() => {});
}
