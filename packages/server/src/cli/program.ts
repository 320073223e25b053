// The operator CLI, `oapi-media`: `serve | migrate | org | usage | app | media | suite ...`. One file
// per command group, each on the services in product words (never a store). Every command takes
// --data like serve and is safe to run while the server runs (SQLite WAL; the CLI never touches staging).

import type { Writable } from 'node:stream';
import { Command, CommanderError, Option } from 'commander';
import { loadConfig, ConfigError, type Config } from '../config.ts';
import { openOperatorServices, type OperatorServices } from '../composition-root.ts';
import { AdminError } from '../service/admin.ts';
import { DataFolderInUseError } from '../service/data-lock.ts';
import { addAppCommands } from './apps.ts';
import { addMediaCommands } from './media.ts';
import { addMigrateCommand } from './migrate.ts';
import { addOrgCommands } from './orgs.ts';
import { addServeCommand } from './serve.ts';
import { addSuiteCommands } from './suites.ts';

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
}

export const EXIT = { ok: 0, failed: 1 } as const;

/** Mistakes an operator can fix: shown as one line, without a stack trace. */
function isOperatorMistake(error: unknown): error is Error {
  return error instanceof AdminError || error instanceof DataFolderInUseError || error instanceof ConfigError;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode; // commander printed its own message
    io.stderr.write(`oapi-media: ${isOperatorMistake(error) ? error.message : (error as Error).stack ?? String(error)}\n`);
    return EXIT.failed;
  }
}

function buildProgram(io: CliIo): Command {
  const program = new Command('oapi-media')
    .description('DingTalk-compatible enterprise media service: server and operator commands')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
  const config = (flags: DataFlags): Config =>
    loadConfig({ dataDir: flags.data, logLevel: 'silent' }, io.env);
  const kit: CommandKit = {
    io,
    dataOption: () => new Option('--data <dir>', 'data folder (env OAPI_MEDIA_DATA, default ./data)'),
    config,
    async withOperator(flags, work, options = {}) {
      const services = await openOperatorServices(config(flags), { withBlobs: options.withBlobs === true });
      try {
        return await work(services);
      } finally {
        await services.close();
      }
    },
    print(json, value, text) {
      io.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`);
    },
  };
  addServeCommand(program, kit);
  addMigrateCommand(program, kit);
  addOrgCommands(program, kit);
  addAppCommands(program, kit);
  addMediaCommands(program, kit);
  addSuiteCommands(program, kit);
  return program;
}
