#!/usr/bin/env node
// The `oapi-media` command: the bundle (dist/cli.js, migrations included), run with the node flags
// production runs it with however it is started (`npm start`, `npx oapi-media`, an installed bin):
// a 4 MB young generation and an exposed gc() keep memory flat under load (docs/performance.md).
// They are the root package.json's config.serve_node_flags (the packaging test checks they agree).
// `serve` started without them replaces itself with a node that has them (process.execve, Node
// >= 22.15 on POSIX), or else runs one as a child and passes signals and the exit status through.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SERVE_NODE_FLAGS = ['--max-semi-space-size=4', '--expose-gc'];
const bundle = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const args = process.argv.slice(2);

if (!existsSync(bundle)) {
  process.stderr.write(`oapi-media: ${bundle} is missing: in a checkout, run \`npm run build\` (npm ci runs it too)\n`);
  process.exit(1);
}

const hasServeFlags = SERVE_NODE_FLAGS.every((flag) => process.execArgv.includes(flag));
if (args[0] !== 'serve' || hasServeFlags) {
  await import(bundle);
} else {
  const argv = [...SERVE_NODE_FLAGS, ...process.execArgv, bundle, ...args];
  if (typeof process.execve === 'function' && process.platform !== 'win32') {
    process.execve(process.execPath, [process.execPath, ...argv], process.env);
  }
  const child = spawn(process.execPath, argv, { stdio: 'inherit', env: { ...process.env, OAPI_MEDIA_LAUNCHER_PID: String(process.pid) } });
  const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of forwarded) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const name of forwarded) process.removeAllListeners(name);
      process.kill(process.pid, signal);
    } else {
      process.exit(code ?? 1);
    }
  });
}
