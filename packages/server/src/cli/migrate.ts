// `oapi-media migrate`: applies the pending PostgreSQL migrations; SQLite migrates itself when opened.

import type { Command } from 'commander';
import { migrateDatabase } from '../composition-root.ts';
import type { CommandKit, DataFlags } from './program.ts';

export function addMigrateCommand(program: Command, { dataOption, config, print, example }: CommandKit): void {
  example(program
    .command('migrate')
    .description('apply pending PostgreSQL migrations (DATABASE_URL); SQLite migrates itself when opened')
    .addOption(dataOption())
    .option('--json', 'print {"engine","applied"}')
    .action(async (flags: DataFlags & { json?: boolean }) => {
      // Safe beside running nodes: migrations serialize on an advisory lock and skip what is applied.
      const applied = await migrateDatabase(config(flags));
      if (applied === null) {
        print(!!flags.json, { engine: 'sqlite', applied: [] }, 'SQLite (the embedded default) applies its migrations when opened: nothing to do.');
        return;
      }
      print(
        !!flags.json,
        { engine: 'postgres', applied },
        applied.length === 0 ? 'PostgreSQL schema up to date: no migration pending.' : `applied PostgreSQL migrations ${applied.join(', ')}`,
      );
    }), 'DATABASE_URL=postgres://oapi@db:5432/oapi OAPI_MEDIA_SECRET_KEY=... oapi-media migrate --json');
}
