// Starts a listening node: services, first-start bootstrap, orphan sweep, the HTTP app.

import packageJson from '../package.json' with { type: 'json' };
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.ts';
import { DrainState } from './http/draining.ts';
import type { Config } from './config.ts';
import { mountedDialects } from './dialects/index.ts';
import type { AppCredentials } from './service/admin.ts';
import { lockDataFolder } from './service/data-lock.ts';
import { openServices, type Services } from './composition-root.ts';

/** The Node lines the server package declares (its engines), as operators read them. */
export const SUPPORTED_NODE = packageJson.engines.node;

/** SUPPORTED_NODE (^22.12.0 || >=24.0.0) written out, without a semver dependency for one check. */
export function onSupportedNode(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 24 || (major === 22 && minor >= 12);
}

export interface RunningServer {
  app: FastifyInstance;
  services: Services;
  /** http://host:port actually bound (port 0 resolves to the real one). */
  url: string;
  /** Credentials created on a first start with no apps; shown once. */
  firstStartCredentials: AppCredentials | null;
  /**
   * Shuts down within config.shutdownGraceMs (http/draining.ts): /readyz 503 at once, the listener
   * open for the drain delay, then closed; in-flight requests finish or are cut before the grace
   * ends, and their uploads have removed their temp files before the stores close.
   */
  close(): Promise<void>;
}

/**
 * Kept at the end of the grace to cut what is still open, let its uploads remove their temp files
 * and close the stores (at most a quarter of the grace): on a loaded machine a second was too
 * little and the exit came after the grace.
 */
const CUT_RESERVE_MS = 3_000;
/** Kept after the cleanup wait for the stores to close and the lock to go. */
const CLOSE_RESERVE_MS = 500;
/** How long cut uploads may take to remove their temp files (their own bound is 5 s, multipart-upload.ts), unless the grace ends first. */
const CLEANUP_WAIT_MS = 6_000;

/** A blob without a row this old is an orphan even if another node shares the storage. */
const ORPHAN_GRACE_MS = 15 * 60 * 1000;

export async function startServer(config: Config, options: { logger?: Logger } = {}): Promise<RunningServer> {
  mountedDialects(config.dialects); // an unknown wire is refused before anything is opened or locked
  // Shared engines (PostgreSQL/S3) are made for many nodes; the embedded default is one per folder.
  const shared = config.storageUrl !== undefined || config.databaseUrl !== undefined;
  const unlock = await lockDataFolder(config.dataDir);
  let services: Services;
  try {
    services = await openServices(config);
  } catch (error) {
    await unlock();
    throw error;
  }
  let app: FastifyInstance | undefined;
  try {
    const leftovers = await services.media.staging.removeLeftovers();
    const drain = new DrainState();
    app = await buildApp(services, { ...options, drain });
    // Bind first, bootstrap after: a start that cannot listen (port busy) must not create the
    // default app, or the next start, the one that listens, would show no credentials.
    await listen(app, config);
    const firstStartCredentials = await services.admin.bootstrapDefault();
    const log = app.log;
    // A crash between blob and row leaves an orphan blob; with the data folder to itself (embedded
    // default) every unreferenced blob is one, with shared storage only those past the grace time.
    void services.media.sweepOrphans(shared ? ORPHAN_GRACE_MS : 0).then(
      (removed) => log.info({ removed }, 'orphan sweep done'),
      (error: unknown) => log.warn({ err: error }, 'orphan sweep failed'),
    );
    if (leftovers > 0) log.info({ leftovers }, 'removed temp files of interrupted uploads');
    if (!onSupportedNode()) {
      log.warn({ node: process.version, supported: SUPPORTED_NODE }, 'this Node line is past its end of life: the server runs and is tested on it, but is supported on Node 22 and 24');
    }
    const purge = setInterval(() => void services.tokens.purgeExpired().catch(() => {}), 3600_000);
    purge.unref();
    const expirySweep = startExpirySweep(services, config.expirySweepIntervalMs, log);
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const running = app;
    return {
      app: running,
      services,
      url: `http://${host}:${port}`,
      firstStartCredentials,
      async close() {
        clearInterval(purge);
        const started = performance.now();
        const { shutdownGraceMs: graceMs, shutdownDrainDelayMs: drainDelayMs } = config;
        drain.begin();
        // A sweep under way finishes before the stores close; no new one starts.
        const sweepStopped = expirySweep.stop();
        log.info({ graceMs, drainDelayMs }, 'draining: /readyz answers 503');
        if (drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
        drain.closeListener();
        // In-flight requests get the rest of the grace; silent connections (an aborted fetch's
        // spare socket, a slow client) would otherwise hold the shutdown until their idle timeout.
        const cutAt = graceMs - Math.min(CUT_RESERVE_MS, graceMs / 4);
        let cut = 0;
        const force = setTimeout(() => {
          running.server.getConnections((_error, open) => {
            cut = open;
            log.warn({ connections: open, graceMs }, 'shutdown grace over: cutting the requests still open');
            running.server.closeAllConnections();
          });
        }, Math.max(0, cutAt - (performance.now() - started)));
        // A keep-alive connection whose answer began before the signal becomes idle after it.
        const reapIdle = setInterval(() => running.server.closeIdleConnections(), 100);
        running.server.closeIdleConnections();
        try {
          await running.close();
        } finally {
          clearTimeout(force);
          clearInterval(reapIdle);
        }
        // What the grace has left bounds the wait: a temp file left now is removed at the next start.
        const graceLeft = graceMs - (performance.now() - started) - CLOSE_RESERVE_MS;
        const unsettled = await services.inFlight.settled(Math.max(100, Math.min(CLEANUP_WAIT_MS, graceLeft)));
        if (unsettled > 0) log.warn({ uploads: unsettled }, 'uploads still cleaning up at shutdown: their temp files are removed at the next start');
        await sweepStopped;
        await services.close();
        await unlock();
        log.info({ tookMs: Math.round(performance.now() - started), cut }, 'shut down');
      },
    };
  } catch (error) {
    await app?.close().catch(() => {});
    await services.close();
    await unlock();
    throw error;
  }
}

/**
 * Removes expired media every `intervalMs` (none when 0); one sweep at a time per node, and a
 * stop waits for the sweep under way, so that nothing is removed after the stores close.
 */
export function startExpirySweep(services: Services, intervalMs: number, log: FastifyInstance['log']): { stop(): Promise<void> } {
  if (intervalMs === 0) return { stop: async () => {} };
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = Promise.all([services.media.sweepExpired(), services.sessions.sweepExpired()]).then(
      ([removed, sessions]) => {
        if (removed > 0) log.info({ removed }, 'expired media removed');
        if (sessions > 0) log.info({ sessions }, 'expired upload sessions removed with their chunks');
      },
      (error: unknown) => log.warn({ err: error }, 'expiry sweep failed'),
    ).finally(() => {
      running = undefined;
    });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/** The server could not listen where it was told to; the message says what to change. */
export class ListenError extends Error {
  override name = 'ListenError';
}

/** Listens, or says in one line what the operator can change (the usual reasons a bind fails). */
async function listen(app: FastifyInstance, config: Config): Promise<void> {
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${config.host}:${config.port}`;
    if (code === 'EADDRINUSE') throw new ListenError(`port ${config.port} is in use (${where}): pass --port or PORT`, { cause: error });
    if (code === 'EADDRNOTAVAIL') throw new ListenError(`address ${config.host} is not one of this machine's: pass --host or HOST`, { cause: error });
    if (code === 'EACCES') throw new ListenError(`not allowed to listen on ${where} (ports below 1024 need privileges): pass --port or PORT`, { cause: error });
    throw error;
  }
}
