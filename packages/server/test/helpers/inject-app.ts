// The app without a network (fastify inject), on its own temp data folder and a settable clock;
// on the engines of TEST_DATABASE_URL / TEST_STORAGE_URL when set (fresh schema and S3 prefix).

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/app.ts';
import { loadConfig, type ConfigInput } from '../../src/config.ts';
import { openServices, type Services } from '../../src/composition-root.ts';
import { testEngines } from './engines.ts';
import { testServerBuild } from './server-process.ts';

export interface InjectApp {
  app: FastifyInstance;
  services: Services;
  dataDir: string;
  /** What the services were opened with (data folder, engines): to open them again. */
  config: ConfigInput;
  clock: { now: number };
  appKey: string;
  appSecret: string;
  token(appKey?: string, appSecret?: string): Promise<string>;
  /** Files in the blob store and in staging: what a refused request must not have changed. */
  files(): Promise<{ blobs: number; staged: number }>;
  close(): Promise<void>;
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    n += entry.isDirectory() ? await countFiles(join(dir, entry.name)) : 1;
  }
  return n;
}

async function countBlobs(services: Services): Promise<number> {
  let n = 0;
  for await (const _ of services.blobs.list()) n++;
  return n;
}

export async function injectApp(config: ConfigInput = {}): Promise<InjectApp> {
  // No network, no process: nothing of the bundle would be tested (scripts/test-engines.mjs runs such files in-process only).
  if (testServerBuild() === 'bundle') throw new Error('TEST_SERVER=bundle: injectApp is the in-process app; this file cannot run through the bundle');
  const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-inject-'));
  const clock = { now: Date.UTC(2026, 10, 26, 12) };
  const engines = testEngines(config);
  const input: ConfigInput = { dataDir, logLevel: 'silent', ...engines.config };
  const services = await openServices(loadConfig({ ...input, now: () => clock.now }, {}));
  const creds = (await services.admin.bootstrapDefault())!;
  const app = await buildApp(services, { logger: pino({ level: 'silent' }) });
  const token = async (appKey = creds.appkey, appSecret = creds.appsecret): Promise<string> => {
    const res = await app.inject({ url: `/gettoken?appkey=${appKey}&appsecret=${appSecret}` });
    const body = res.json();
    if (body.errcode !== 0) throw new Error(`gettoken: ${res.body}`);
    return body.access_token as string;
  };
  return {
    app, services, dataDir, config: input, clock, appKey: creds.appkey, appSecret: creds.appsecret, token,
    async files() {
      const blobs = input.storageUrl === undefined ? await countFiles(join(dataDir, 'blobs')) : await countBlobs(services);
      return { blobs, staged: await countFiles(join(dataDir, 'tmp')) };
    },
    async close() {
      await app.close();
      await services.close();
      await engines.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
