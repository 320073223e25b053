// `oapi-media token revoke`: access tokens stop working at once, every token of an app or one token.
// Every request reads its token's row (no cache), so a revocation holds at once on every node.

import type { Command } from 'commander';
import type { CommandKit, DataFlags } from './program.ts';

interface RevokeFlags extends DataFlags {
  org?: string;
  app?: string;
  token?: string;
  json?: boolean;
}

export function addTokenCommands(program: Command, { dataOption, withOperator, print, example }: CommandKit): void {
  const token = program.command('token').description('access tokens (stored only as hashes)');
  example(token
    .command('revoke')
    .description('revoke every token of an app (--org and --app), or one token by its value (--token); a revoked token answers 40014 like an unknown one')
    .option('--org <name>', 'organization (with --app)')
    .option('--app <name>', 'app name or appkey (with --org): every token of it')
    .option('--token <access_token>', 'this one token')
    .addOption(dataOption())
    .option('--json', 'print {"org","app","appkey","revokedTokens"} (--app) or {"org","app","suite","revokedTokens"} (--token)')
    .action(async (flags: RevokeFlags, command: Command) => {
      const byApp = flags.org !== undefined || flags.app !== undefined;
      if (byApp === (flags.token !== undefined) || (byApp && (flags.org === undefined || flags.app === undefined))) {
        command.error('error: pass either --org and --app (every token of that app) or --token (that one token)');
      }
      await withOperator(flags, async ({ admin }) => {
        if (flags.token !== undefined) {
          const revoked = await admin.revokeToken(flags.token);
          const whose = revoked.app !== null ? `app ${revoked.app}` : `suite ${revoked.suite}`;
          print(!!flags.json, revoked, `revoked 1 access_token of ${whose} in organization ${revoked.org}: it answers 40014 from now on`);
          return;
        }
        const revoked = await admin.revokeAppTokens(flags.org!, flags.app!);
        print(!!flags.json, revoked, `revoked ${revoked.revokedTokens} access_token(s) of app ${revoked.app} in organization ${revoked.org}: they answer 40014 from now on (the app may get a new one with its appsecret)`);
      });
    }), 'oapi-media token revoke --org acme --app crm');
}
