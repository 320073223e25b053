// `oapi-media serve`: runs the server, prints where it listens and, on a first start, the
// credentials of the default app (shown once).

import { Option, type Command } from 'commander';
import { loadConfig, type ConfigInput } from '../config.ts';
import { startServer } from '../server.ts';
import type { CommandKit, DataFlags } from './program.ts';

interface ServeFlags extends DataFlags {
  host?: string;
  port?: string;
  errmsgLanguage?: string;
}

export function addServeCommand(program: Command, { io, dataOption }: CommandKit): void {
  program
    .command('serve')
    .description('run the server (default: SQLite + local disk in the data folder)')
    .addOption(new Option('--host <host>', 'address to listen on (env HOST, default 127.0.0.1)'))
    .addOption(new Option('--port <port>', 'port to listen on (env PORT, default 8080)'))
    .addOption(dataOption())
    .addOption(new Option('--errmsg-language <lang>', 'errmsg text: zh (DingTalk\'s own) or en').choices(['zh', 'en']))
    .action(async (flags: ServeFlags) => {
      const input: ConfigInput = { host: flags.host, port: flags.port, dataDir: flags.data, errmsgLanguage: flags.errmsgLanguage };
      const config = loadConfig(input, io.env);
      const server = await startServer(config);
      const lines = [`oapi-media listening on ${server.url} (data: ${config.dataDir})`];
      const creds = server.firstStartCredentials;
      if (creds) {
        lines.push(
          '',
          `First start: created organization "${creds.org}" with app "${creds.app}".`,
          'Save the appsecret now: it is stored only as a hash and never shown again.',
          `  appkey:    ${creds.appkey}`,
          `  appsecret: ${creds.appsecret}`,
          '',
          'Get an access_token:',
          `  curl '${server.url}/gettoken?appkey=${creds.appkey}&appsecret=${creds.appsecret}'`,
          'Upload a file with it:',
          `  curl -F access_token=ACCESS_TOKEN -F type=image -F 'media=@photo.png' ${server.url}/media/upload`,
          '',
        );
      } else {
        lines.push(
          `Get an access_token: curl '${server.url}/gettoken?appkey=APPKEY&appsecret=APPSECRET'`,
          '  (new credentials: npx oapi-media app create --org default --name myapp)',
        );
      }
      io.stdout.write(`${lines.join('\n')}\n`);
      const stop = async (signal: string) => {
        server.app.log.info({ signal }, 'shutting down');
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
