import { mkdtemp, rm } from 'node:fs/promises';
import { pino } from '/work/main/node_modules/pino/pino.js';
import { loadConfig } from '/work/main/packages/server/src/config.ts';
import { openServices } from '/work/main/packages/server/src/composition-root.ts';
import { buildApp } from '/work/main/packages/server/src/app.ts';
import { controlPlane } from '/work/main/packages/server/src/emulator/control-plane.ts';
import { WELL_KNOWN_APPS, WELL_KNOWN_ORGS } from '/work/main/packages/server/src/emulator/well-known.ts';
const fake: any = { journal: { open() {} }, seeding: true };
for (let i = 0; i < 12; i++) {
  const t = [performance.now()];
  const dir = await mkdtemp('/dev/shm/x-');
  const config = loadConfig({ dataDir: dir, logLevel: 'silent', secretKey: 'k', port: 0, expirySweepIntervalMs: 0 }, {}); t.push(performance.now());
  const services = await openServices(config); t.push(performance.now());
  const app = await buildApp(services, { logger: pino({ level: 'silent' }), extension: controlPlane(fake) }); t.push(performance.now());
  await app.ready(); t.push(performance.now());
  for (const org of WELL_KNOWN_ORGS) await services.admin.createOrg(org);
  for (const k of WELL_KNOWN_APPS) await services.admin.createApp(k.org, k.app, k.wire, { appkey: k.key, appsecret: k.secret });
  await services.metadata.deleteExpiredTokens(Number.MAX_SAFE_INTEGER); t.push(performance.now());
  await app.close(); await services.close(); await rm(dir, { recursive: true }); t.push(performance.now());
  if (i > 6) console.log(['mkdtemp+config','openServices','buildApp','ready','seed','close'].map((n, j) => `${n} ${(t[j+1]-t[j]).toFixed(1)}`).join(' | '));
}
