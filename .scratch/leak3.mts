import { mkdtemp, rm } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from '/work/main/node_modules/pino/pino.js';
import { loadConfig } from '/work/main/packages/server/src/config.ts';
import { openServices } from '/work/main/packages/server/src/composition-root.ts';
import { buildApp } from '/work/main/packages/server/src/app.ts';
setFlagsFromString('--expose-gc'); const gc = runInNewContext('gc');
const mode = process.argv[2];
async function once() {
  const dir = await mkdtemp('/dev/shm/x-');
  const config = loadConfig({ dataDir: dir, logLevel: 'silent', secretKey: 'k', port: 0 }, {});
  const services = await openServices(config);
  if (mode === 'app') { const app = await buildApp(services, { logger: pino({ level: 'silent' }) }); await app.ready(); await app.close(); }
  await services.close(); await rm(dir, { recursive: true });
}
await once(); gc(); const h0 = process.memoryUsage().heapUsed;
for (let i = 0; i < 30; i++) await once();
await new Promise((r) => setTimeout(r, 100)); gc();
console.log(mode, ((process.memoryUsage().heapUsed - h0) / 30 / 1024).toFixed(0), 'KB per cycle');
