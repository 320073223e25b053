// An oapi-media on 127.0.0.1:0 with its own temp data folder (SQLite + disk), or on the engines
// named by TEST_DATABASE_URL / TEST_STORAGE_URL when a suite runs on a second configuration (a
// fresh schema and S3 prefix per server: see engines.ts). In-process (the TypeScript) by default;
// with TEST_SERVER=bundle, the bundle `npm start` runs, in its own process, configured through the
// environment and administered through its own CLI, as an operator runs it.

import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEFAULT_EXPIRY_SWEEP_INTERVAL_MS, loadConfig, type ConfigInput } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { testEngines } from './engines.ts';
import { operatorEnv } from './operator-env.ts';
import { runCli, spawnServerProcess, testServerBuild } from './server-process.ts';

export interface TestServer {
  baseUrl: string;
  /** The first app of org `default` (created at first start). */
  appKey: string;
  appSecret: string;
  dataDir: string;
  /** The in-process server (its services, its fastify app); throws under TEST_SERVER=bundle. */
  server: RunningServer;
  /**
   * A new app in `orgName` (created if missing): another org's app when the name differs; on
   * `wire` (default DingTalk): WeCom's appKey/appSecret are its corpid/corpsecret.
   */
  createApp(orgName?: string, wire?: 'dingtalk' | 'wecom' | 'feishu'): Promise<{ appKey: string; appSecret: string }>;
  /** media_ids of every media of `orgName`. */
  mediaIds(orgName?: string): Promise<string[]>;
  /** Connections open on the listening server now (in-process only). */
  connections(): Promise<number>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** The server's clock: in-process only (no environment variable sets it). */
  now?: () => number;
  config?: ConfigInput;
  /** Keep the data folder after close (to restart on it). */
  dataDir?: string;
}

/**
 * Tests close servers that may still hold stalled client connections (the point of many of them):
 * a short grace keeps a close as quick as it was before the grace was configurable (30 s default).
 */
export const TEST_SHUTDOWN_GRACE_MS = 2_000;

const appName = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  if (process.env.TEST_SERVER === 'emulator') return startEmulatorServer(options);
  return testServerBuild() === 'bundle' ? startBundleServer(options) : startInProcessServer(options);
}

function connectionsOf(listening: Server): Promise<number> {
  return new Promise((resolve, reject) => listening.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

/** The TestServer's org and app lookups, over an in-process server's services. */
function serviceLookups(services: RunningServer['services']): Pick<TestServer, 'createApp' | 'mediaIds'> {
  const { admin, metadata } = services;
  return {
    async createApp(orgName = 'default', wire = 'dingtalk') {
      if (!(await metadata.getOrgByName(orgName))) await admin.createOrg(orgName);
      const app = await admin.createApp(orgName, appName('app'), wire);
      return { appKey: app.appkey, appSecret: app.appsecret };
    },
    async mediaIds(orgName = 'default') {
      const org = await metadata.getOrgByName(orgName);
      if (!org) return [];
      const ids: string[] = [];
      let after: string | undefined;
      do {
        const page = await metadata.listMedia(org.id, { limit: 500, after });
        ids.push(...page.items.map((m) => m.mediaId));
        after = page.next ?? undefined;
      } while (after !== undefined);
      return ids.sort();
    },
  };
}

/**
 * TEST_SERVER=emulator (scripts/test-engines.mjs --emulator): the API suite against emulator mode,
 * which must hold every errcode, limit and tenancy rule of the server. Org `default` and its app
 * are made as a first start makes them; the emulator's own well-known orgs are there too.
 */
async function startEmulatorServer(options: TestServerOptions): Promise<TestServer> {
  if (options.dataDir !== undefined) throw new Error('TEST_SERVER=emulator: an emulator keeps no data folder to restart on');
  const { startEmulator } = await import('../../src/emulator/index.ts');
  const emulator = await startEmulator({
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    config: { shutdownGraceMs: TEST_SHUTDOWN_GRACE_MS, expirySweepIntervalMs: DEFAULT_EXPIRY_SWEEP_INTERVAL_MS, ...options.config, ...(options.now ? { now: options.now } : {}) },
  });
  const { admin } = emulator.services;
  await admin.createOrg('default');
  const creds = await admin.createApp('default', 'default');
  const server: RunningServer = {
    get app() { return emulator.app; },
    get services() { return emulator.services; },
    url: emulator.baseUrl,
    firstStartCredentials: creds,
    close: () => emulator.close(),
  };
  return {
    baseUrl: emulator.baseUrl,
    appKey: creds.appkey,
    appSecret: creds.appsecret,
    get dataDir() { return emulator.services.config.dataDir; },
    server,
    ...serviceLookups(emulator.services),
    connections: () => connectionsOf(emulator.server),
    close: () => emulator.close(),
  };
}

async function startInProcessServer(options: TestServerOptions): Promise<TestServer> {
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'oapi-media-test-')));
  const engines = testEngines(options.config);
  const config = loadConfig({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    logLevel: 'silent',
    shutdownGraceMs: TEST_SHUTDOWN_GRACE_MS,
    ...engines.config,
    now: options.now,
  }, {});
  const server = await startServer(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  const creds = server.firstStartCredentials ?? (await server.services.admin.createApp('default', appName('test')));
  return {
    baseUrl: server.url,
    appKey: creds.appkey,
    appSecret: creds.appsecret,
    dataDir,
    server,
    ...serviceLookups(server.services),
    connections: () => connectionsOf(server.app.server),
    async close() {
      try {
        await server.close();
      } finally {
        await engines.drop();
        if (ownsDir) await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

async function startBundleServer(options: TestServerOptions): Promise<TestServer> {
  // Refused before anything starts: a file that needs these is in-process only (scripts/test-engines.mjs).
  if (options.now !== undefined) throw new Error('TEST_SERVER=bundle: a server clock (now) cannot be set from outside the process');
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'oapi-media-test-')));
  const engines = testEngines(options.config);
  let env: Record<string, string>;
  try {
    env = operatorEnv({ dataDir, logLevel: process.env.TEST_LOG_LEVEL ?? 'silent', shutdownGraceMs: TEST_SHUTDOWN_GRACE_MS, ...engines.config });
  } catch (error) {
    if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    throw new Error(`TEST_SERVER=bundle: ${(error as Error).message}`);
  }
  const cleanUp = async () => {
    await engines.drop();
    if (ownsDir) await rm(dataDir, { recursive: true, force: true });
  };
  const cli = (...args: string[]) => runCli('bundle', args, env);
  const child = await spawnServerProcess({ build: 'bundle', env }).catch(async (error: unknown) => {
    await cleanUp();
    throw error;
  });
  const createApp = async (orgName: string, wire = 'dingtalk') => {
    const created = JSON.parse(await cli('app', 'create', '--org', orgName, '--name', appName('app'), '--wire', wire, '--json')) as { appkey: string; appsecret: string };
    return { appKey: created.appkey, appSecret: created.appsecret };
  };
  try {
    const creds = child.appKey && child.appSecret ? { appKey: child.appKey, appSecret: child.appSecret } : await createApp('default');
    return {
      baseUrl: child.baseUrl,
      ...creds,
      dataDir,
      get server(): RunningServer {
        throw new Error('TEST_SERVER=bundle: server.server is the in-process server; this file cannot run through the bundle');
      },
      async createApp(orgName = 'default', wire = 'dingtalk') {
        const orgs = JSON.parse(await cli('org', 'list', '--json')) as Array<{ org: string }>;
        if (!orgs.some((o) => o.org === orgName)) await cli('org', 'create', orgName);
        return createApp(orgName, wire);
      },
      async mediaIds(orgName = 'default') {
        const rows = JSON.parse(await cli('media', 'list', '--org', orgName, '--limit', '1000000', '--json')) as Array<{ media_id: string }>;
        return rows.map((r) => r.media_id).sort();
      },
      connections() {
        throw new Error('TEST_SERVER=bundle: connections() counts the in-process server\'s; this file cannot run through the bundle');
      },
      async close() {
        try {
          await child.stop();
        } finally {
          await cleanUp();
        }
      },
    };
  } catch (error) {
    await child.killHard();
    await cleanUp();
    throw error;
  }
}
