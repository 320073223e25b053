// Entry point of the `oapi-media` operator command (bin/oapi-media.js; the bundle's dist/cli.js).

import { runCli } from './cli/program.ts';

const code = await runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
// `serve` returns once listening and keeps the process alive; other commands end here.
if (code !== 0) process.exit(code);
