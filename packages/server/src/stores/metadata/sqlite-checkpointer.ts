// SQLite's automatic checkpoint runs inside a committing call: on the event loop, with an fsync
// of the database file. The server instead checkpoints from a worker thread with its own
// connection (PASSIVE: never blocks writers), whenever the WAL has grown past a threshold.
// The worker (a V8 isolate: ~11 MB of RSS) starts only once the WAL first passes the threshold:
// a server storing large media as files writes little to its WAL and may never need it.

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
  } catch {}
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(dbPath: string, options = { intervalMs: 500, thresholdBytes: 4 * 1024 * 1024 }): Checkpointer {
  let worker: Worker | undefined;
  let stopped = false;
  // Until the worker runs, the main thread only looks at the WAL's size (one stat per interval).
  const watch = setInterval(() => {
    stat(`${dbPath}-wal`).then(
      (info) => {
        if (stopped || worker || info.size < options.thresholdBytes) return;
        clearInterval(watch);
        worker = startWorker(dbPath, options);
      },
      () => {},
    );
  }, options.intervalMs);
  watch.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(watch);
      if (worker) await stopWorker(worker);
    },
  };
}

function startWorker(dbPath: string, options: { intervalMs: number; thresholdBytes: number }): Worker {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path: dbPath, driver, ...options } });
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
