// An in-process oapi-media on 127.0.0.1:0 with its own temp data folder (SQLite + disk), or on the
// engines named by TEST_DATABASE_URL / TEST_STORAGE_URL when a suite runs on a second configuration
// (a fresh schema and S3 prefix per server: see engines.ts).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type ConfigInput } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { testEngines } from './engines.ts';

export interface TestServer {
  baseUrl: string;
  /** The first app of org `default` (created at first start). */
  appKey: string;
  appSecret: string;
  dataDir: string;
  server: RunningServer;
  /** A new app in `orgName` (created if missing): another org's app when the name differs. */
  createApp(orgName?: string): Promise<{ appKey: string; appSecret: string }>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  now?: () => number;
  config?: ConfigInput;
  /** Keep the data folder after close (to restart on it). */
  dataDir?: string;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'oapi-media-test-')));
  const engines = testEngines(options.config);
  const config = loadConfig({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    logLevel: 'silent',
    ...engines.config,
    now: options.now,
  }, {});
  const server = await startServer(config, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  let creds = server.firstStartCredentials;
  if (!creds) {
    const created = await server.services.admin.createApp('default', `test-${Date.now()}`);
    creds = created;
  }
  return {
    baseUrl: server.url,
    appKey: creds.appkey,
    appSecret: creds.appsecret,
    dataDir,
    server,
    async createApp(orgName = 'default') {
      const { admin, metadata } = server.services;
      if (!(await metadata.getOrgByName(orgName))) await admin.createOrg(orgName);
      const app = await admin.createApp(orgName, `app-${Math.random().toString(36).slice(2, 8)}`);
      return { appKey: app.appkey, appSecret: app.appsecret };
    },
    async close() {
      await server.close();
      await engines.drop();
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
