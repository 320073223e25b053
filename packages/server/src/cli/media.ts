// `oapi-media media list | delete`: what an organization stores.

import type { Command } from 'commander';
import type { CommandKit, DataFlags } from './program.ts';

const DEFAULT_LIST_LIMIT = 1000;

export function addMediaCommands(program: Command, { dataOption, withOperator, print, io, example }: CommandKit): void {
  const media = program.command('media').description('stored media');
  example(media
    .command('list')
    .description('list the media of an organization, newest first')
    .requiredOption('--org <name>', 'organization')
    .option('--limit <n>', 'at most this many', String(DEFAULT_LIST_LIMIT))
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action(async (flags: DataFlags & { org: string; limit: string; json?: boolean }) =>
      withOperator(flags, async ({ admin }) => {
        const rows = await admin.listMedia(flags.org, Math.max(1, Number(flags.limit) || DEFAULT_LIST_LIMIT));
        print(!!flags.json, rows, rows.map((r) => `${r.media_id}\t${r.wire}\t${r.type}\t${r.size}\t${new Date(r.created_at).toISOString()}\t${r.file_name}`).join('\n'));
      }),
    ), 'oapi-media media list --org acme --limit 20');
  example(media
    .command('delete <mediaId>')
    .description('delete a media file (row and bytes)')
    .addOption(dataOption())
    .action(async (mediaId: string, flags: DataFlags) =>
      withOperator(flags, async ({ admin }) => {
        await admin.deleteMedia(mediaId);
        io.stdout.write(`deleted ${mediaId}\n`);
      }, { withBlobs: true }),
    ), 'oapi-media media delete @lAzPDgCwPn1mJiDOQoLp');
}
