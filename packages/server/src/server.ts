// Starts a listening node: services, first-start bootstrap, orphan sweep, the HTTP app.

import packageJson from '../package.json' with { type: 'json' };
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.ts';
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
  close(): Promise<void>;
}

const SHUTDOWN_GRACE_MS = 2_000;

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
    app = await buildApp(services, options);
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
        // In-flight requests get a grace period; silent connections (an aborted fetch's spare
        // socket, a slow client) would otherwise hold the shutdown until their idle timeout.
        const force = setTimeout(() => running.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        running.server.closeIdleConnections();
        await running.close().finally(() => clearTimeout(force));
        await services.close();
        await unlock();
      },
    };
  } catch (error) {
    await app?.close().catch(() => {});
    await services.close();
    await unlock();
    throw error;
  }
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
