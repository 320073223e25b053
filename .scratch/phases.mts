import { mkdtemp } from 'node:fs/promises';
import { pino } from '/work/main/node_modules/pino/pino.js';
import { loadConfig } from '/work/main/packages/server/src/config.ts';
import { openServices } from '/work/main/packages/server/src/composition-root.ts';
import { buildApp } from '/work/main/packages/server/src/app.ts';
for (let i = 0; i < 6; i++) {
  const t = [performance.now()];
  const dir = await mkdtemp('/dev/shm/x-');
  const config = loadConfig({ dataDir: dir, logLevel: 'silent', secretKey: 'k', port: 0 }, {});
  const services = await openServices(config); t.push(performance.now());
  const app = await buildApp(services, { logger: pino({ level: 'silent' }) }); t.push(performance.now());
  await app.ready(); t.push(performance.now());
  await services.admin.createOrg('a'); await services.admin.createOrg('b');
  for (const w of ['dingtalk','wecom','feishu']) { await services.admin.createApp('a', w, w); await services.admin.createApp('b', w, w); }
  t.push(performance.now());
  console.log(t.slice(1).map((x, j) => (x - t[j]).toFixed(1)).join(' '));
  await app.close(); await services.close();
}
