// `oapi-media backup --to DIR` and `oapi-media restore --from DIR`: the embedded default's data
// folder, copied consistently while the server runs, and put back (docs/backup.md). PostgreSQL and
// S3 are backed up with their own tools: both commands refuse those configurations in one line.

import { Option, type Command } from 'commander';
import { backupDataFolder, checkEmbeddedEngines, restoreDataFolder, type BackupResult } from '../service/backup.ts';
import type { CommandKit, DataFlags } from './program.ts';

const count = (n: number): string => n.toLocaleString('en-US');

function summary({ manifest, elapsedMs }: BackupResult): string {
  const { media } = manifest;
  const key = manifest.secretKey === null
    ? 'no secret.key (the key comes from OAPI_MEDIA_SECRET_KEY: keep it with the backup, tokens and suite secrets need it)'
    : 'secret.key included';
  const deleted = manifest.deletedDuringBackup > 0 ? `; ${count(manifest.deletedDuringBackup)} media deleted while it ran left out` : '';
  return `${count(media.count)} media (${count(media.blobs)} blob files, ${count(media.inline)} inside meta.sqlite), ${count(media.bytes)} bytes, ${key}${deleted}; ${(elapsedMs / 1000).toFixed(1)} s`;
}

export function addBackupCommands(program: Command, { io, dataOption, config, print, example }: CommandKit): void {
  example(program
    .command('backup')
    .description('copy the data folder (database, blobs, key) into a new folder, consistently, while the server runs')
    .addOption(new Option('--to <dir>', 'the backup folder: new or empty').makeOptionMandatory())
    .addOption(dataOption())
    .option('--json', 'print the backup\'s manifest with {"elapsedMs"}')
    .action(async (flags: DataFlags & { to: string; json?: boolean }) => {
      const settings = config(flags);
      checkEmbeddedEngines(settings, 'backup');
      const result = await backupDataFolder(settings.dataDir, flags.to);
      print(!!flags.json, { ...result.manifest, elapsedMs: Math.round(result.elapsedMs) }, `backed up ${settings.dataDir} to ${flags.to}: ${summary(result)}`);
    }), 'oapi-media backup --to /backups/oapi-media-2026-12-03 --data ./data');
  example(program
    .command('restore')
    .description('restore a backup into a data folder no server runs on, checking every byte first')
    .addOption(new Option('--from <dir>', 'a folder made by oapi-media backup').makeOptionMandatory())
    .addOption(dataOption())
    .option('--force', 'replace what the data folder holds (its media, apps and key)')
    .option('--json', 'print the restored backup\'s manifest with {"elapsedMs"}')
    .action(async (flags: DataFlags & { from: string; force?: boolean; json?: boolean }) => {
      const settings = config(flags);
      checkEmbeddedEngines(settings, 'restore');
      const result = await restoreDataFolder(flags.from, settings.dataDir, { force: flags.force === true });
      print(!!flags.json, { ...result.manifest, elapsedMs: Math.round(result.elapsedMs) }, `restored ${flags.from} into ${settings.dataDir}: ${summary(result)}`);
      if (!flags.json && result.manifest.secretKey === null) io.stderr.write('oapi-media: start the server with the OAPI_MEDIA_SECRET_KEY of the backed-up server, or its tokens and suite secrets will not work\n');
    }), 'oapi-media restore --from /backups/oapi-media-2026-12-03 --data ./data');
}
