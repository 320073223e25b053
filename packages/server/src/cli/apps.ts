// `oapi-media app create | list | rotate-secret | delete`: apps of an organization (appkey /
// appsecret, the secret shown once) and their lifecycle.

import type { Command } from 'commander';
import type { AppChange } from '../service/admin.ts';
import type { CommandKit, DataFlags } from './program.ts';

interface AppFlags extends DataFlags {
  org: string;
  app: string;
  json?: boolean;
}

const revokedText = (change: AppChange): string =>
  `${change.revokedTokens} access_token(s) of it revoked: they answer 40014 from now on`;

export function addAppCommands(program: Command, { dataOption, withOperator, print, example }: CommandKit): void {
  const app = program.command('app').description('apps of an organization (appkey / appsecret)');
  example(app
    .command('create')
    .description('create an app; prints its appkey and appsecret once')
    .requiredOption('--org <name>', 'organization')
    .requiredOption('--name <name>', 'app name (one app of that name per organization)')
    .addOption(dataOption())
    .option('--json', 'print {"org","app","appkey","appsecret"}')
    .action(async (flags: DataFlags & { org: string; name: string; json?: boolean }) =>
      withOperator(flags, async ({ admin }) => {
        const creds = await admin.createApp(flags.org, flags.name);
        print(!!flags.json, creds, `appkey:    ${creds.appkey}\nappsecret: ${creds.appsecret}\n(the appsecret is not shown again)`);
      }),
    ), 'oapi-media app create --org acme --name crm --json');

  example(app
    .command('list')
    .description('list the apps of an organization (appkey, name, created; never the secret)')
    .requiredOption('--org <name>', 'organization')
    .addOption(dataOption())
    .option('--json', 'print [{"org","app","appkey","created_at"}] (created_at: epoch ms)')
    .action(async (flags: DataFlags & { org: string; json?: boolean }) =>
      withOperator(flags, async ({ admin }) => {
        const rows = await admin.listApps(flags.org);
        print(!!flags.json, rows, rows.map((r) => `${r.appkey}\t${r.app}\t${new Date(r.created_at).toISOString()}`).join('\n'));
      }),
    ), 'oapi-media app list --org default');

  example(app
    .command('rotate-secret')
    .description('give an app a new appsecret (shown once); the old one and every token issued with it stop working at once')
    .requiredOption('--org <name>', 'organization')
    .requiredOption('--app <name>', 'app name (or its appkey)')
    .addOption(dataOption())
    .option('--json', 'print {"org","app","appkey","revokedTokens","appsecret"}')
    .action(async (flags: AppFlags) =>
      withOperator(flags, async ({ admin }) => {
        const rotated = await admin.rotateSecret(flags.org, flags.app);
        print(!!flags.json, rotated, [
          `appkey:    ${rotated.appkey}`,
          `appsecret: ${rotated.appsecret}`,
          '(the appsecret is not shown again; the old one no longer gets a token)',
          revokedText(rotated),
        ].join('\n'));
      }),
    ), 'oapi-media app rotate-secret --org default --app default');

  example(app
    .command('delete')
    .description('delete an app: it gets no more tokens and its tokens stop working; its media stay (they are the organization\'s)')
    .requiredOption('--org <name>', 'organization')
    .requiredOption('--app <name>', 'app name (or its appkey)')
    .addOption(dataOption())
    .option('--json', 'print {"org","app","appkey","revokedTokens"}')
    .action(async (flags: AppFlags) =>
      withOperator(flags, async ({ admin }) => {
        const deleted = await admin.deleteApp(flags.org, flags.app);
        print(!!flags.json, deleted, `deleted app ${deleted.app} (${deleted.appkey}) of organization ${deleted.org}; ${revokedText(deleted)}`);
      }),
    ), 'oapi-media app delete --org acme --app crm');
}
