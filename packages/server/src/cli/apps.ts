// `oapi-media app create | list | rotate-secret | delete`: apps of an organization (appkey /
// appsecret, the secret shown once) and their lifecycle.

import { WIRES } from '@oapi-media/core';
import type { Command } from 'commander';
import { CREDENTIAL_NAMES, type AppChange, type AppCredentials } from '../service/admin.ts';
import type { CommandKit, DataFlags } from './program.ts';

interface AppFlags extends DataFlags {
  org: string;
  app: string;
  json?: boolean;
}

/** The credentials in the wire's own names (WeCom: corpid / corpsecret), aligned. */
const credentialLines = (creds: Pick<AppCredentials, 'wire' | 'appkey' | 'appsecret'>): string[] => {
  const [key, secret] = CREDENTIAL_NAMES[creds.wire];
  const width = Math.max(key.length, secret.length) + 2;
  return [`${`${key}:`.padEnd(width)}${creds.appkey}`, `${`${secret}:`.padEnd(width)}${creds.appsecret}`];
};

const revokedText = (change: AppChange): string =>
  `${change.revokedTokens} access_token(s) of it revoked: they answer 40014 from now on`;

export function addAppCommands(program: Command, { dataOption, withOperator, print, example }: CommandKit): void {
  const app = program.command('app').description('apps of an organization (appkey / appsecret)');
  example(app
    .command('create')
    .description('create an app; prints its credentials once (DingTalk appkey/appsecret, WeCom corpid/corpsecret, Feishu app_id/app_secret)')
    .requiredOption('--org <name>', 'organization')
    .requiredOption('--name <name>', 'app name (one app of that name per organization)')
    .option('--wire <wire>', `the wire its credentials work on: ${WIRES.join(', ')}`, 'dingtalk')
    .addOption(dataOption())
    .option('--json', 'print {"org","app","wire","appkey","appsecret"} (appkey/appsecret: the wire\'s key and secret, e.g. WeCom\'s corpid/corpsecret)')
    .action(async (flags: DataFlags & { org: string; name: string; wire: string; json?: boolean }) =>
      withOperator(flags, async ({ admin }) => {
        const creds = await admin.createApp(flags.org, flags.name, flags.wire);
        const [, secret] = CREDENTIAL_NAMES[creds.wire];
        print(!!flags.json, creds, [...credentialLines(creds), `(the ${secret} is not shown again)`].join('\n'));
      }),
    ), 'oapi-media app create --org acme --name crm --wire wecom --json');

  example(app
    .command('list')
    .description('list the apps of an organization (appkey, name, created; never the secret)')
    .requiredOption('--org <name>', 'organization')
    .addOption(dataOption())
    .option('--json', 'print [{"org","app","wire","appkey","created_at"}] (created_at: epoch ms)')
    .action(async (flags: DataFlags & { org: string; json?: boolean }) =>
      withOperator(flags, async ({ admin }) => {
        const rows = await admin.listApps(flags.org);
        print(!!flags.json, rows, rows.map((r) => `${r.appkey}\t${r.app}\t${r.wire}\t${new Date(r.created_at).toISOString()}`).join('\n'));
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
        const [, secret] = CREDENTIAL_NAMES[rotated.wire];
        print(!!flags.json, rotated, [
          ...credentialLines(rotated),
          `(the ${secret} is not shown again; the old one no longer gets a token)`,
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
