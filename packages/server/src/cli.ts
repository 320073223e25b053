// Entry point of the `oapi-media` operator command (bin/oapi-media.js; the bundle's dist/cli.js).

import { runCli } from './cli/program.ts';

// bin/oapi-media.js runs `serve` as its child where node cannot replace itself (no process.execve):
// a launcher killed with SIGKILL cannot pass that on, so the orphaned child shuts down by itself.
const launcherPid = Number(process.env.OAPI_MEDIA_LAUNCHER_PID);
delete process.env.OAPI_MEDIA_LAUNCHER_PID;
if (launcherPid > 0) {
  setInterval(() => {
    if (process.ppid !== launcherPid) process.kill(process.pid, 'SIGTERM');
  }, 500).unref();
}

const code = await runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
// `serve` returns once listening and keeps the process alive; other commands end here.
if (code !== 0) process.exit(code);
