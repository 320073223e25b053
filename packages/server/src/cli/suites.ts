// Operator commands for third-party suites (issue 8): `oapi-media suite create | authorize |
// revoke | ticket | list`.

import type { Command } from 'commander';
import type { CommandKit, DataFlags } from './program.ts';

type CommonOptions = DataFlags;

export function addSuiteCommands(program: Command, { dataOption, withOperator: withServices, print, example }: CommandKit): void {
  const suite = program.command('suite').description('third-party suites (ISV apps) that organizations authorize');

  example(suite
    .command('create')
    .description('create a suite; prints its suiteKey and suiteSecret once')
    .requiredOption('--name <name>', 'suite name')
    .addOption(dataOption())
    .option('--json', 'print {"suite","suiteKey","suiteSecret"}')
    .action(async (options: CommonOptions & { name: string; json?: boolean }) =>
      withServices(options, async (services) => {
        const creds = await services.suites.createSuite(options.name);
        print(!!options.json, creds, `suiteKey:    ${creds.suiteKey}\nsuiteSecret: ${creds.suiteSecret}\n(the suiteSecret is not shown again)`);
      }),
    ), "oapi-media suite create --name 'Acme ISV' --json");

  example(suite
    .command('authorize')
    .description('let an organization use a suite: the suite may then get a token for it')
    .requiredOption('--suite <suiteKey>', 'the suite')
    .requiredOption('--org <name>', 'organization')
    .addOption(dataOption())
    .option('--json', 'print {"suiteKey","org","corpid"}')
    .action(async (options: CommonOptions & { suite: string; org: string; json?: boolean }) =>
      withServices(options, async (services) => {
        const org = await services.admin.requireOrg(options.org);
        await services.suites.authorize(options.suite, org);
        print(
          !!options.json,
          { suiteKey: options.suite, org: org.name, corpid: org.corpId },
          `organization ${org.name} authorized suite ${options.suite}\nauth_corpid: ${org.corpId}`,
        );
      }),
    ), 'oapi-media suite authorize --suite SUITE_KEY --org acme');

  example(suite
    .command('revoke')
    .description('end an authorization; the suite\'s tokens for that organization stop working at once')
    .requiredOption('--suite <suiteKey>', 'the suite')
    .requiredOption('--org <name>', 'organization')
    .addOption(dataOption())
    .option('--json', 'print {"suiteKey","org","revoked"}')
    .action(async (options: CommonOptions & { suite: string; org: string; json?: boolean }) =>
      withServices(options, async (services) => {
        const org = await services.admin.requireOrg(options.org);
        const revoked = await services.suites.revoke(options.suite, org);
        print(
          !!options.json,
          { suiteKey: options.suite, org: org.name, revoked },
          revoked ? `revoked: organization ${org.name} no longer authorizes suite ${options.suite}` : `organization ${org.name} had not authorized suite ${options.suite}`,
        );
      }),
    ), 'oapi-media suite revoke --suite SUITE_KEY --org acme');

  example(suite
    .command('ticket')
    .description('print the current suite ticket (rotates on schedule; the previous one stays valid)')
    .requiredOption('--suite <suiteKey>', 'the suite')
    .addOption(dataOption())
    .option('--json', 'print {"suiteKey","suiteTicket","createdAt","expiresAt"}')
    .action(async (options: CommonOptions & { suite: string; json?: boolean }) =>
      withServices(options, async (services) => {
        const current = await services.suites.currentTicket(options.suite);
        print(!!options.json, { suiteKey: options.suite, ...current }, current.suiteTicket);
      }),
    ), 'oapi-media suite ticket --suite SUITE_KEY');

  example(suite
    .command('list')
    .description('list suites and the organizations that authorized each')
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action(async (options: CommonOptions & { json?: boolean }) =>
      withServices(options, async (services) => {
        const rows = await services.suites.list();
        print(!!options.json, rows, rows.map((r) => `${r.suiteKey}\t${r.suite}\t${r.orgs.join(',') || '-'}`).join('\n'));
      }),
    ), 'oapi-media suite list --json');
}
