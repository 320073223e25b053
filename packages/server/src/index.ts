export { loadConfig, type Config, type ConfigInput } from './config.ts';
export { buildApp } from './app.ts';
export { startServer, type RunningServer } from './server.ts';
export { openServices, type Services } from './composition-root.ts';
