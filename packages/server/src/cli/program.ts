// The operator CLI, `oapi-media`: `serve | migrate | org | usage | app | token | media | suite | backup | restore ...`. One file
// per command group, each on the services in product words (never a store). Every command takes
// --data like serve and is safe to run while the server runs (SQLite WAL; the CLI never touches staging).

import type { Writable } from 'node:stream';
import { existsSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import packageJson from '../../package.json' with { type: 'json' };
import { loadConfig, ConfigError, type Config } from '../config.ts';
import { openOperatorServices, type OperatorServices } from '../composition-root.ts';
import { DataFolderError } from '../data-folder.ts';
import { AdminError } from '../service/admin.ts';
import { BackupError } from '../service/backup.ts';
import { DataFolderInUseError } from '../service/data-lock.ts';
import { ListenError } from '../server.ts';
import { BlobStoreUnreachableError, MetadataStoreUnreachableError } from '../operational-errors.ts';
import { addAppCommands } from './apps.ts';
import { addBackupCommands } from './backup.ts';
import { addMediaCommands } from './media.ts';
import { addMigrateCommand } from './migrate.ts';
import { addOrgCommands } from './orgs.ts';
import { addServeCommand } from './serve.ts';
import { addEmulateCommand } from './emulate.ts';
import { addSuiteCommands } from './suites.ts';
import { addTokenCommands } from './tokens.ts';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: Writable;
  stderr: Writable;
}

export interface DataFlags {
  data?: string;
}

/** What every command group is given: its output, and the services of the data folder it names. */
export interface CommandKit {
  io: CliIo;
  dataOption(): Option;
  /** The config of a command's flags (flags > env > defaults; the same rules as the server's). */
  config(flags: DataFlags): Config;
  /** Opens the operator services for one command (the blob store only `withBlobs`), closes them after. */
  withOperator<T>(flags: DataFlags, work: (services: OperatorServices) => Promise<T>, options?: { withBlobs?: boolean }): Promise<T>;
  print(json: boolean, value: unknown, text: string): void;
  /** Adds the command's one example to its --help; returns the command. */
  example(command: Command, line: string): Command;
}

/** As the user CLI's: 0 ok, 1 a failure at run time, 2 a usage or configuration mistake. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Mistakes an operator can fix and the expected operational failures (port busy, data folder not
 * usable, a store unreachable): shown as one line that says what to change, without a stack trace.
 */
const OPERATIONAL_ERRORS = [
  AdminError, BackupError, DataFolderInUseError, ConfigError, ListenError, DataFolderError, MetadataStoreUnreachableError, BlobStoreUnreachableError,
];

function isOperatorMistake(error: unknown): error is Error {
  return OPERATIONAL_ERRORS.some((kind) => error instanceof kind);
}

/** Help and --version end in 0; every other commander error is a usage mistake (it printed why). */
const COMMANDER_SUCCESS = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return COMMANDER_SUCCESS.has(error.code) ? EXIT.ok : EXIT.usage;
    // A stack only for what is not an operator's mistake, or when asked for (LOG_LEVEL=debug).
    const detail = isOperatorMistake(error) && io.env.LOG_LEVEL !== 'debug' ? error.message : (error as Error).stack ?? String(error);
    io.stderr.write(`oapi-media: ${detail}\n`);
    return error instanceof ConfigError ? EXIT.usage : EXIT.failed;
  }
}

function buildProgram(io: CliIo): Command {
  const program = new Command('oapi-media')
    .description('DingTalk-compatible enterprise media service: server and operator commands')
    .version(packageJson.version, '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride()
    // Subcommands inherit these (commander copies them at .command()): every --help shows the global options.
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
  const config = (flags: DataFlags): Config =>
    loadConfig({ dataDir: flags.data, logLevel: 'silent' }, io.env);
  const examples = new Map<Command, string>();
  const kit: CommandKit = {
    io,
    dataOption: () => new Option('--data <dir>', 'data folder (env OAPI_MEDIA_DATA, default ./data)'),
    config,
    async withOperator(flags, work, options = {}) {
      const settings = config(flags);
      // SQLite would create an empty database in a mistyped folder and answer as if all were well.
      if (settings.databaseUrl === undefined && !existsSync(settings.dataDir)) {
        throw new AdminError(`no data folder at ${settings.dataDir}: pass the server's --data (or OAPI_MEDIA_DATA), or start the server there once with: oapi-media serve --data ${settings.dataDir}`);
      }
      const services = await openOperatorServices(settings, { withBlobs: options.withBlobs === true });
      try {
        return await work(services);
      } finally {
        await services.close();
      }
    },
    print(json, value, text) {
      io.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
    },
    example(command, line) {
      examples.set(command, line);
      return command.addHelpText('after', `\nExample:\n  $ ${line}\n`);
    },
  };
  addServeCommand(program, kit);
  addEmulateCommand(program, kit);
  addMigrateCommand(program, kit);
  addOrgCommands(program, kit);
  addAppCommands(program, kit);
  addTokenCommands(program, kit);
  addMediaCommands(program, kit);
  addSuiteCommands(program, kit);
  addBackupCommands(program, kit);
  // The groups' own help (oapi-media app --help) shows one example too: their first command's.
  for (const group of program.commands) {
    const first = group.commands[0];
    const line = first && examples.get(first);
    if (line) kit.example(group, line);
  }
  kit.example(program, 'oapi-media serve --help');
  return program;
}

/** The program, for tests that walk its commands (their --help, the README's CLI section). */
export function operatorProgram(io: CliIo): Command {
  return buildProgram(io);
}
