// `oapi-media emulate`: the emulator as a process (docs/emulator.md), for CI service definitions and
// test suites in other languages. Prints where it listens and the well-known credentials (with
// --json, one JSON line on stdout), keeps nothing on disk, and stops on SIGINT/SIGTERM.

import { Option, type Command } from 'commander';
import { pino } from 'pino';
import { ConfigError, parsePort } from '../config.ts';
import { startEmulator, type Emulator } from '../emulator/emulator.ts';
import type { CommandKit } from './program.ts';

interface EmulateFlags {
  host?: string;
  port?: string;
  seed?: string;
  init?: string;
  json?: boolean;
}

/** The emulator's environment variables: a CI service definition can set these but not a command line. */
export const EMULATOR_ENVIRONMENT: readonly { name: string; flag: string; meaning: string }[] = [
  { name: 'OAPI_EMULATOR_HOST', flag: '--host', meaning: 'address to listen on (default 127.0.0.1)' },
  { name: 'OAPI_EMULATOR_PORT', flag: '--port', meaning: 'port, 0 = any free one (default 8080)' },
  { name: 'OAPI_EMULATOR_SEED', flag: '--seed', meaning: 'the same seed and calls give the same ids, run after run' },
  { name: 'OAPI_EMULATOR_INIT', flag: '--init', meaning: 'fixtures file: organizations, apps and media to start with' },
  { name: 'OAPI_EMULATOR_JSON', flag: '--json', meaning: '1: print one JSON line (baseUrl, credentials, media) instead of text' },
];

function readyText(emulator: Emulator): string {
  const c = emulator.credentials;
  return [
    `oapi-media emulator listening on ${emulator.baseUrl}${emulator.seed === undefined ? '' : ` (seed ${emulator.seed})`}: state in memory only, gone when it stops`,
    'Well-known credentials (the same in every emulator):',
    `  DingTalk  appkey ${c.dingtalk.appkey} appsecret ${c.dingtalk.appsecret}   second org: ${c.dingtalk2.appkey} / ${c.dingtalk2.appsecret}`,
    `  WeCom     corpid ${c.wecom.corpid} corpsecret ${c.wecom.corpsecret}   second org: ${c.wecom2.corpid} / ${c.wecom2.corpsecret}`,
    `  Feishu    app_id ${c.feishu.app_id} app_secret ${c.feishu.app_secret}   second org: ${c.feishu2.app_id} / ${c.feishu2.app_secret}`,
    ...emulator.media.map((m) => `  media ${m.mediaId} (${m.fileName}, org ${m.org}, ${m.wire})`),
    `Get a token: curl '${emulator.baseUrl}/gettoken?appkey=${c.dingtalk.appkey}&appsecret=${c.dingtalk.appsecret}'`,
    `Control plane: ${emulator.baseUrl}/__oapi/requests (journal), /__oapi/faults, /__oapi/clock, /__oapi/reset, /__oapi/ids/:id`,
  ].join('\n');
}

export function addEmulateCommand(program: Command, { io, example }: CommandKit): void {
  example(program
    .command('emulate')
    .description('run the emulator: the real API with ephemeral state, well-known credentials, a request journal, faults and a clock (docs/emulator.md)')
    .addOption(new Option('--host <host>', 'address to listen on (env OAPI_EMULATOR_HOST, default 127.0.0.1)'))
    .addOption(new Option('--port <port>', 'port, 0 = any free one (env OAPI_EMULATOR_PORT, default 8080)'))
    .addOption(new Option('--seed <n>', 'deterministic ids: the same seed and calls give the same ids (env OAPI_EMULATOR_SEED)'))
    .addOption(new Option('--init <file>', 'fixtures JSON: organizations, apps and media to start with (env OAPI_EMULATOR_INIT)'))
    .option('--json', 'print one JSON line when ready: baseUrl, port, seed, credentials, media (env OAPI_EMULATOR_JSON=1)')
    .addHelpText('after', ['', 'Environment (flags win):', ...EMULATOR_ENVIRONMENT.map((v) => `  ${v.name.padEnd(20)}${v.meaning}`)].join('\n'))
    .action(async (flags: EmulateFlags) => {
      const env = io.env;
      const host = flags.host ?? env.OAPI_EMULATOR_HOST ?? '127.0.0.1';
      const port = parsePort(flags.port ?? env.OAPI_EMULATOR_PORT ?? '8080');
      const seed = flags.seed ?? env.OAPI_EMULATOR_SEED;
      const init = flags.init ?? env.OAPI_EMULATOR_INIT;
      const json = flags.json === true || env.OAPI_EMULATOR_JSON === '1' || env.OAPI_EMULATOR_JSON === 'true';
      // Logs only when asked for, on stderr: stdout is the ready line.
      const logger = pino({ level: env.LOG_LEVEL ?? 'silent' }, pino.destination({ dest: 2, sync: false }));
      let emulator: Emulator;
      try {
        emulator = await startEmulator({ host, port, logger, ...(seed === undefined || seed === '' ? {} : { seed }), ...(init === undefined || init === '' ? {} : { init }) });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new ConfigError(`port ${port} is in use: pass --port (0 = any free port) or OAPI_EMULATOR_PORT`);
        if ((error as Error).name === 'FixtureError') throw new ConfigError((error as Error).message);
        throw error;
      }
      io.stdout.write(json
        ? `${JSON.stringify({ baseUrl: emulator.baseUrl, port: emulator.port, seed: emulator.seed ?? null, credentials: emulator.credentials, media: emulator.media })}\n`
        : `${readyText(emulator)}\n`);
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        void emulator.close().finally(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    }), 'oapi-media emulate --port 0 --seed 1 --json');
}
