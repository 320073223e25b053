// The app without a network (fastify inject), on its own temp data folder and a settable clock.

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../../src/app.ts';
import { loadConfig, type ConfigInput } from '../../src/config.ts';
import { openServices, type Services } from '../../src/services.ts';

export interface InjectApp {
  app: FastifyInstance;
  services: Services;
  dataDir: string;
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

export async function injectApp(config: ConfigInput = {}): Promise<InjectApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'oapi-media-inject-'));
  const clock = { now: Date.UTC(2026, 10, 26, 12) };
  const services = await openServices(loadConfig({ dataDir, logLevel: 'silent', ...config, now: () => clock.now }, {}));
  const creds = (await services.admin.bootstrapDefault())!;
  const app = await buildApp(services, { logger: pino({ level: 'silent' }) });
  const token = async (appKey = creds.appkey, appSecret = creds.appsecret): Promise<string> => {
    const res = await app.inject({ url: `/gettoken?appkey=${appKey}&appsecret=${appSecret}` });
    const body = res.json();
    if (body.errcode !== 0) throw new Error(`gettoken: ${res.body}`);
    return body.access_token as string;
  };
  return {
    app, services, dataDir, clock, appKey: creds.appkey, appSecret: creds.appsecret, token,
    async files() {
      return { blobs: await countFiles(join(dataDir, 'blobs')), staged: await countFiles(join(dataDir, 'tmp')) };
    },
    async close() {
      await app.close();
      await services.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
