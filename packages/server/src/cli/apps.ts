// `oapi-media app create`: apps of an organization (appkey / appsecret, the secret shown once).

import type { Command } from 'commander';
import type { CommandKit, DataFlags } from './program.ts';

export function addAppCommands(program: Command, { dataOption, withOperator, print }: CommandKit): void {
  const app = program.command('app').description('apps of an organization (appkey / appsecret)');
  app
    .command('create')
    .description('create an app; prints its appkey and appsecret once')
    .requiredOption('--org <name>', 'organization')
    .requiredOption('--name <name>', 'app name')
    .addOption(dataOption())
    .option('--json', 'print {"org","app","appkey","appsecret"}')
    .action(async (flags: DataFlags & { org: string; name: string; json?: boolean }) =>
      withOperator(flags, async ({ admin }) => {
        const creds = await admin.createApp(flags.org, flags.name);
        print(!!flags.json, creds, `appkey:    ${creds.appkey}\nappsecret: ${creds.appsecret}\n(the appsecret is not shown again)`);
      }),
    );
}
