// `oapi-media serve`: runs the server. Logs are pino JSON lines on stdout, nothing else; the human
// banner (where it listens, and on a first start the credentials of the default app) goes to
// stderr, and the appsecret only when stderr is a terminal: journald, `docker logs` and pipes keep
// what they are given, so there the secret is never printed and one JSON log line says how to get one.

import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { ENVIRONMENT, loadConfig, type Config, type ConfigInput } from '../config.ts';
import { dataFolder, FILE_MODE } from '../data-folder.ts';
import type { AppCredentials } from '../service/admin.ts';
import { appPrincipal } from '../service/tokens.ts';
import { startServer, type RunningServer } from '../server.ts';
import type { CommandKit, DataFlags } from './program.ts';

interface ServeFlags extends DataFlags {
  host?: string;
  port?: string;
  errmsgLanguage?: string;
}

/** A 1x1 PNG: the file the banner's upload command sends, so that it runs as printed. */
const SAMPLE_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

/** One shell word: pasted into sh/bash/zsh it is this string, whatever the data folder's name. */
const shellWord = (text: string): string => (/^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`);

/** The help's list of environment variables, from config.ts (the one list the server reads). */
export function environmentHelp(): string {
  const width = Math.max(...ENVIRONMENT.map((v) => v.name.length)) + 2;
  return [
    '',
    'Environment (flags win over these, these over the defaults; every operator command reads them too):',
    ...ENVIRONMENT.map((v) => `  ${v.name.padEnd(width)}${v.meaning} (default: ${v.default})`),
    '',
    'Output: JSON log lines on stdout; the banner (listening URL, first-start credentials) on stderr,',
    'the first-start appsecret only when stderr is a terminal. Lost it? oapi-media app rotate-secret --org default --app default',
  ].join('\n');
}

export function addServeCommand(program: Command, { io, dataOption, example }: CommandKit): void {
  example(program
    .command('serve')
    .description('run the server (default: SQLite + local disk in the data folder)')
    .addOption(new Option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)'))
    .addOption(new Option('--port <port>', 'port to listen on (env PORT, default 8080)'))
    .addOption(dataOption())
    .addOption(new Option('--errmsg-language <lang>', 'errmsg text: zh (DingTalk\'s own) or en').choices(['zh', 'en']))
    .addHelpText('after', environmentHelp())
    .action(async (flags: ServeFlags) => {
      const input: ConfigInput = { host: flags.host, port: flags.port, dataDir: flags.data, errmsgLanguage: flags.errmsgLanguage };
      const config = loadConfig(input, io.env);
      const server = await startServer(config);
      const onTerminal = (io.stderr as { isTTY?: boolean }).isTTY === true;
      io.stderr.write(`${(await bannerLines(server, config, onTerminal)).join('\n')}\n`);
      // Later signals are ignored while the shutdown runs (it is bounded by its grace): Ctrl-C through
      // bin/oapi-media.js reaches this process twice, from the terminal and forwarded by the launcher.
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) {
          server.app.log.info({ signal }, 'already shutting down: signal ignored (the grace bounds the shutdown)');
          return;
        }
        stopping = true;
        server.app.log.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
        try {
          await server.close();
        } catch (error) {
          server.app.log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        }
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    }), 'oapi-media serve --port 8080 --data ./data');
}

/** The banner for stderr; the appsecret and the runnable curls only `onTerminal`. */
async function bannerLines(server: RunningServer, config: Config, onTerminal: boolean): Promise<string[]> {
  const lines = [`oapi-media listening on ${server.url} (data: ${config.dataDir})`];
  const dataFlag = `--data ${shellWord(config.dataDir)}`;
  const creds = server.firstStartCredentials;
  const rotate = (c: { org: string; app: string }) => `npx oapi-media app rotate-secret --org ${shellWord(c.org)} --app ${shellWord(c.app)} ${dataFlag}`;
  if (creds && !onTerminal) {
    const hint = `its appsecret is shown only on a terminal (stderr is not one): get one with: ${rotate(creds)}`;
    server.app.log.warn({ org: creds.org, app: creds.app, appkey: creds.appkey },
      `first start: created organization "${creds.org}" with app "${creds.app}"; ${hint}`);
    lines.push(`First start: created organization "${creds.org}" with app "${creds.app}" (appkey ${creds.appkey}); ${hint}`);
    return lines;
  }
  if (!creds) {
    lines.push(`Get an access_token: curl '${server.url}/gettoken?appkey=APPKEY&appsecret=APPSECRET'  (replace both; new credentials: npx oapi-media app create --org default --name myapp ${dataFlag}; lost an appsecret? npx oapi-media app rotate-secret --org ORG --app APP ${dataFlag})`);
    return lines;
  }
  const { accessToken, sample } = await runnableExample(server, config, creds);
  lines.push(
    '',
    `First start: created organization "${creds.org}" with app "${creds.app}".`,
    'Save the appsecret now: it is stored only as a hash and never shown again',
    `(lost it? ${rotate(creds)}).`,
    `  appkey:    ${creds.appkey}`,
    `  appsecret: ${creds.appsecret}`,
    '',
    'Get an access_token:',
    `  curl '${server.url}/gettoken?appkey=${creds.appkey}&appsecret=${creds.appsecret}'`,
    `Upload a sample image (${sample}) with the access_token issued just now (the command above answers the same one):`,
    `  curl -F access_token=${accessToken} -F type=image -F ${shellWord(`media=@${sample}`)} ${server.url}/media/upload`,
    '',
  );
  return lines;
}

/** A token of the new app and a sample image in the data folder: the banner's upload runs as printed. */
async function runnableExample(server: RunningServer, config: Config, creds: AppCredentials): Promise<{ accessToken: string; sample: string }> {
  const { metadata, tokens } = server.services;
  const app = (await metadata.getAppByKey(creds.appkey))!;
  const { accessToken } = await tokens.issue(appPrincipal(app.id), app.orgId, app.wire);
  const sample = dataFolder(config.dataDir).samplePng;
  await writeFile(sample, SAMPLE_PNG, { mode: FILE_MODE });
  return { accessToken, sample };
}
