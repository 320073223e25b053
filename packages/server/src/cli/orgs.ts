// `oapi-media org create | list | limits | delete` and `oapi-media usage`: organizations (tenants).

import type { Command } from 'commander';
import { parseLimit, type OrgLimits, type OrgSummary } from '../service/admin.ts';
import { DEFAULT_MAX_CHUNKED_BYTES } from '../service/upload-sessions.ts';
import type { CommandKit, DataFlags } from './program.ts';

interface JsonFlags extends DataFlags {
  json?: boolean;
}

function limitsText(r: OrgSummary): string {
  return `quota ${r.quotaBytes === null ? 'none' : `${r.quotaBytes} bytes`}\trate ${r.rateLimitPerSecond === null ? 'default' : `${r.rateLimitPerSecond}/s`}` +
    `\tchunked file ${r.maxChunkedBytes} bytes`;
}

export function addOrgCommands(program: Command, { dataOption, withOperator, print, example }: CommandKit): void {
  const org = program.command('org').description('organizations (tenants)');
  example(org
    .command('create <name>')
    .description('create an organization')
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action(async (name: string, flags: JsonFlags) =>
      withOperator(flags, async ({ admin }) => {
        const created = await admin.createOrg(name);
        print(!!flags.json, { org: created.name, corpid: created.corpId }, `created organization ${created.name} (corpid ${created.corpId})`);
      }),
    ), 'oapi-media org create acme');
  example(org
    .command('list')
    .description('list organizations')
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action(async (flags: JsonFlags) =>
      withOperator(flags, async ({ admin }) => {
        const rows = await admin.listOrgSummaries();
        print(!!flags.json, rows, rows.map((r) => `${r.org}\t${r.corpid}\t${r.mediaCount} media\t${r.totalBytes} bytes\t${limitsText(r)}`).join('\n'));
      }),
    ), 'oapi-media org list --json');
  example(org
    .command('limits <name>')
    .description('set (or show) the storage quota, per-app request rate and largest chunked file of an organization')
    .option('--quota <bytes>', 'storage quota in bytes (45010 past it), or none')
    .option('--rate <n>', 'requests per second per app (45009 past it), or none for the server default')
    .option('--max-chunked-bytes <bytes>', `largest file of a chunked or tus upload (40006 past it), or none for the default ${DEFAULT_MAX_CHUNKED_BYTES} (4 GiB)`)
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action(async (name: string, flags: JsonFlags & { quota?: string; rate?: string; maxChunkedBytes?: string }) =>
      withOperator(flags, async ({ admin }) => {
        const limits: OrgLimits = {};
        if (flags.quota !== undefined) limits.quotaBytes = parseLimit('quota', flags.quota, 0);
        if (flags.rate !== undefined) limits.rateLimitPerSecond = parseLimit('rate', flags.rate, 1);
        if (flags.maxChunkedBytes !== undefined) limits.maxChunkedBytes = parseLimit('max-chunked-bytes', flags.maxChunkedBytes, 1);
        const updated = await admin.setOrgLimits(name, limits);
        const row = await admin.orgSummary(updated.name);
        print(!!flags.json, row, `${row.org}\t${limitsText(row)}`);
      }),
    ), 'oapi-media org limits acme --quota 10737418240 --rate 50 --max-chunked-bytes 1073741824');
  example(org
    .command('delete <name>')
    .description('delete an organization; refused while it has apps or media unless --force, which deletes them (media rows and bytes), its tokens and suite authorizations with it')
    .option('--force', 'delete its apps, media, tokens and suite authorizations too')
    .addOption(dataOption())
    .option('--json', 'print {"org","corpid","media","apps","tokens","suiteAuthorizations"} (counts removed)')
    .action(async (name: string, flags: JsonFlags & { force?: boolean }) =>
      withOperator(flags, async ({ admin }) => {
        const deleted = await admin.deleteOrg(name, flags.force === true);
        print(
          !!flags.json,
          deleted,
          `deleted organization ${deleted.org} (corpid ${deleted.corpid}): ${deleted.media} media, ${deleted.apps} app(s), ${deleted.tokens} access_token(s), ${deleted.suiteAuthorizations} suite authorization(s)`,
        );
      }, { withBlobs: true }),
    ), 'oapi-media org delete acme --force');

  example(program
    .command('usage')
    .description('storage used by an organization, against its quota')
    .requiredOption('--org <name>', 'organization')
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action(async (flags: JsonFlags & { org: string }) =>
      withOperator(flags, async ({ admin }) => {
        const row = await admin.orgSummary(flags.org);
        const left = row.quotaBytes === null ? 'no quota' : `${row.quotaBytes - row.totalBytes} bytes left of ${row.quotaBytes}`;
        print(!!flags.json, row, `${row.org}\t${row.mediaCount} media\t${row.totalBytes} bytes\t${left}`);
      }),
    ), 'oapi-media usage --org acme --json');
}
