// The user CLI, `oapi-media-client`: upload, download and token, against oapi-media or DingTalk.
// Exit codes: 0 ok, 1 an API error (stderr: "errcode errmsg"), 2 bad usage, missing
// credentials or a local file error, 3 a network error or a timeout, 130 interrupted (Ctrl-C).

import { stat } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Command, CommanderError, Option } from 'commander';
import { MEDIA_TYPES, type MediaType } from '@oapi-media/core';
import { createClient, DINGTALK_BASE_URL, type Client } from '../client.ts';
import { isDingTalkError, isNetworkError, isTimeoutError } from '../errors.ts';
import type { ByteRange } from '../media-download.ts';
// Inlined by a bundler; read at run time otherwise. The version printed is the package's own.
import packageJson from '../../package.json' with { type: 'json' };
import { MissingCredentialsError, resolveCredentials } from './credentials.ts';
import { LANGUAGES, languageOf, localCheckLine } from './messages.ts';
import { ProgressBar, shouldDrawProgress, type TerminalStream } from './progress-bar.ts';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  stdout: Writable & TerminalStream;
  stderr: Writable & TerminalStream;
  /** Aborts the running command (the entry point wires it to SIGINT). */
  signal?: AbortSignal;
}

interface GlobalFlags {
  baseUrl?: string;
  appkey?: string;
  appsecret?: string;
  retries?: string;
  localChecks: boolean;
  lang?: string;
}

export const EXIT = { ok: 0, apiError: 1, usage: 2, network: 3, interrupted: 130 } as const;

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    return reportFailure(error, io, program.opts<GlobalFlags>().lang);
  }
}

function buildProgram(io: CliIo): Command {
  const program = new Command('oapi-media-client')
    .description('Upload and download DingTalk media (oapi /media/*) on oapi-media or on DingTalk itself')
    .option('--base-url <url>', `API base URL (env DINGTALK_BASE_URL, default ${DINGTALK_BASE_URL})`)
    .option('--appkey <key>', 'app key (env DINGTALK_APPKEY)')
    .option('--appsecret <secret>', 'app secret (env DINGTALK_APPSECRET; prefer the env: flags show in `ps`)')
    .option('--retries <n>', 'retries of transient failures (-1, 45009, network)')
    .option('--no-local-checks', 'send without checking type, size and extension first')
    .addOption(new Option('--lang <lang>', 'language of the errors found locally (default: from LC_ALL/LC_MESSAGES/LANG, else en)').choices([...LANGUAGES]))
    .version(packageJson.version, '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });

  program
    .command('upload')
    .description('upload FILE (or - for stdin) and print its media_id')
    .argument('<file>', 'the file, or - to read standard input (then --filename is needed)')
    .addOption(new Option('--type <type>', 'media type').choices([...MEDIA_TYPES]).makeOptionMandatory())
    .option('--filename <name>', 'the name sent to the server (default: the file\'s own)')
    .option('--json', 'print the whole JSON answer')
    .action(async (file: string, flags: { type: MediaType; filename?: string; json?: boolean }, command: Command) => {
      const client = clientFrom(command, io);
      if (file !== '-') await checkUploadable(file);
      const bar = progressBar(io, 'upload');
      try {
        const input = file === '-' ? io.stdin as Readable : file;
        const result = await client.media.upload(input, {
          type: flags.type,
          ...(flags.filename !== undefined && { filename: flags.filename }),
          ...(io.signal && { signal: io.signal }),
          ...(bar && { onProgress: ({ loaded, total }) => bar.update(loaded, total) }),
        });
        bar?.finish();
        io.stdout.write(flags.json ? `${JSON.stringify(result.raw)}\n` : `${result.mediaId}\n`);
      } finally {
        bar?.finish();
      }
    });

  program
    .command('download')
    .description('download MEDIA_ID into a file (written whole or not at all)')
    .argument('<mediaId>', 'the media_id an upload returned')
    .requiredOption('-o, --output <file>', 'where to write it; - for standard output')
    .option('--range <start-end>', 'only these bytes (inclusive, e.g. 0-1023 or 1024-)', parseRange)
    .option('--json', 'print status, bytes and content type as JSON')
    .action(async (mediaId: string, flags: { output: string; range?: ByteRange; json?: boolean }, command: Command) => {
      const client = clientFrom(command, io);
      const media = await client.media.download(mediaId, {
        ...(flags.range && { range: flags.range }),
        ...(io.signal && { signal: io.signal }),
      });
      const bar = flags.output === '-' ? undefined : progressBar(io, 'download');
      try {
        const bytes = flags.output === '-'
          ? await pipeCounting(media.stream(), io.stdout, io.signal)
          : (await media.saveTo(flags.output, bar ? { onProgress: ({ loaded, total }) => bar.update(loaded, total) } : {})).bytes;
        bar?.finish();
        if (flags.json) {
          io.stdout.write(`${JSON.stringify({ path: flags.output, bytes, status: media.status, content_type: media.contentType ?? null, filename: media.filename ?? null })}\n`);
        }
      } finally {
        bar?.finish();
      }
    });

  program
    .command('token')
    .description('print a valid access_token of the app')
    .option('--json', 'print it as {"access_token": ...}')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const token = await clientFrom(command, io).getAccessToken(io.signal ? { signal: io.signal } : {});
      io.stdout.write(flags.json ? `${JSON.stringify({ access_token: token })}\n` : `${token}\n`);
    });

  return program;
}

function clientFrom(command: Command, io: CliIo): Client {
  const flags = command.optsWithGlobals<GlobalFlags>();
  const { appKey, appSecret } = resolveCredentials(flags, io.env);
  const retries = flags.retries === undefined ? undefined : Number(flags.retries);
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0)) throw new UsageError('--retries must be an integer >= 0');
  const baseUrl = flags.baseUrl !== undefined
    ? checkBaseUrl(flags.baseUrl, '--base-url')
    : io.env.DINGTALK_BASE_URL ? checkBaseUrl(io.env.DINGTALK_BASE_URL, 'DINGTALK_BASE_URL') : DINGTALK_BASE_URL;
  return createClient({
    baseUrl,
    appKey,
    appSecret,
    localChecks: flags.localChecks,
    ...(retries !== undefined && { retries }),
  });
}

/** An http(s) URL with a host, or a usage error that shows what one looks like. */
function checkBaseUrl(value: string, source: string): string {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url && (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '') return value;
  throw new UsageError(
    `${source} must be an http:// or https:// URL with a host, such as ${DINGTALK_BASE_URL} (DingTalk) `
    + `or http://127.0.0.1:8080 (an oapi-media server); got ${JSON.stringify(value)}`,
  );
}

/** A path the upload can read: a regular file (a folder or a device is a usage mistake). */
async function checkUploadable(file: string): Promise<void> {
  const info = await stat(file); // ENOENT/EACCES: reported as a local file error
  if (info.isDirectory()) throw new UsageError(`cannot upload ${file}: it is a folder (give a file, or - for standard input)`);
  if (!info.isFile()) throw new UsageError(`cannot upload ${file}: not a regular file`);
}

function progressBar(io: CliIo, label: string): ProgressBar | undefined {
  return shouldDrawProgress(io.stdout, io.stderr) ? new ProgressBar(io.stderr, label) : undefined;
}

/** Copies the body to a stream that stays open (stdout), returning the byte count. */
async function pipeCounting(body: ReadableStream<Uint8Array>, out: Writable, signal: AbortSignal | undefined): Promise<number> {
  let bytes = 0;
  const source = Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>);
  source.on('data', (chunk: Buffer) => { bytes += chunk.length; });
  await pipeline(source, out, { end: false, ...(signal && { signal }) });
  return bytes;
}

function parseRange(value: string): ByteRange {
  const match = /^(\d+)-(\d*)$/.exec(value);
  if (!match) throw new UsageError(`--range must look like 0-1023 or 1024-, got ${value}`);
  return match[2] ? { start: Number(match[1]), end: Number(match[2]) } : { start: Number(match[1]) };
}

class UsageError extends Error {
  override name = 'UsageError';
}

function reportFailure(error: unknown, io: CliIo, langFlag: string | undefined): number {
  if (error instanceof CommanderError) {
    // Commander printed its own message; --help and --version end with exit code 0.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (io.signal?.aborted && error === io.signal.reason) {
    io.stderr.write('interrupted\n');
    return EXIT.interrupted;
  }
  if (isDingTalkError(error)) {
    io.stderr.write(error.local ? `${localCheckLine(error, languageOf(langFlag, io.env))}\n` : `${error.errcode} ${error.errmsg}\n`);
    if (error.requestId) io.stderr.write(`request_id: ${error.requestId}\n`);
    return EXIT.apiError;
  }
  if (isNetworkError(error) || isTimeoutError(error)) {
    io.stderr.write(`network error: ${error.message}\n`);
    return EXIT.network;
  }
  if (error instanceof MissingCredentialsError || error instanceof UsageError) {
    io.stderr.write(`${error.message}\n`);
    return EXIT.usage;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('E')) {
    io.stderr.write(`${(error as Error).message}\n`); // a local file error: ENOENT, EACCES...
    return EXIT.usage;
  }
  throw error;
}
