// The operator CLI explains itself: every command's --help shows the global options and one
// example; serve --help lists every environment variable the server reads (config.ts's one list,
// checked here against what the sources read); the README names every command and variable.

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { Command } from 'commander';
import { operatorProgram, runCli } from '../src/cli/program.ts';
import { EMULATOR_ENVIRONMENT } from '../src/cli/emulate.ts';
import { ENVIRONMENT } from '../src/config.ts';
import { CONFIG_VARIABLES } from './helpers/operator-env.ts';

const SRC = new URL('../src/', import.meta.url).pathname;
const README = new URL('../../../README.md', import.meta.url).pathname;

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({ write(chunk, _encoding, done) { text += chunk; done(); } });
  return { stream, text: () => text };
}

async function help(path: string[]): Promise<string> {
  const [stdout, stderr] = [sink(), sink()];
  const code = await runCli([...path, '--help'], { env: {}, stdout: stdout.stream, stderr: stderr.stream });
  assert.equal(code, 0, `${path.join(' ')} --help: ${stderr.text()}`);
  return stdout.text();
}

/** Every command path of the program: ['serve'], ['app'], ['app', 'create'], ... (commander's own `help` aside). */
function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return command.commands.filter((c) => c.name() !== 'help').flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

const quiet = { env: {}, stdout: sink().stream, stderr: sink().stream };
const paths = commandPaths(operatorProgram(quiet));

test('the program has the lifecycle commands', () => {
  const names = paths.map((p) => p.join(' '));
  for (const name of ['app list', 'app rotate-secret', 'app delete', 'org delete', 'token revoke']) assert.ok(names.includes(name), name);
});

test('every command\'s --help shows the global options and one example of that command', async () => {
  for (const path of [[], ...paths]) {
    const text = await help(path);
    // The program's own options are the global ones; each command shows them under their name.
    assert.match(text, path.length === 0 ? /\nOptions:\n {2}-V, --version +print the version\n/ : /\nGlobal Options:\n {2}-V, --version +print the version\n/, `${path.join(' ')} --help`);
    const examples = [...text.matchAll(/\nExample:\n {2}\$ (.+)\n/g)].map((m) => m[1]!);
    assert.equal(examples.length, 1, `${path.join(' ')} --help: one example`);
    // The example is of this command (a group's: of one of its commands).
    assert.ok(path.length === 0 || examples[0]!.includes(`oapi-media ${path.join(' ')}`), `${path.join(' ')}: ${examples[0]}`);
  }
});

/** Read by the sources but not settings: bin/oapi-media.js tells its serve child who launched it. */
const INTERNAL_VARIABLES = new Set(['OAPI_MEDIA_LAUNCHER_PID']);

/** The environment variables the sources read (`env.NAME` and `process.env.NAME`), settings only. */
async function variablesReadInSources(): Promise<Set<string>> {
  const names = new Set<string>();
  const files = (await readdir(SRC, { recursive: true })).filter((file) => file.endsWith('.ts'));
  for (const file of files) {
    for (const match of (await readFile(join(SRC, file), 'utf8')).matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(match[1]!);
  }
  for (const name of INTERNAL_VARIABLES) names.delete(name);
  return names;
}

test('config.ts\'s list of environment variables is exactly what the sources read (and the AWS SDK\'s credentials)', async () => {
  const listed = ENVIRONMENT.map((v) => v.name);
  assert.equal(new Set(listed).size, listed.length, 'each variable once');
  const read = await variablesReadInSources();
  assert.ok(read.size >= 15, `found ${[...read].join(', ')}`);
  const emulatorOnly = EMULATOR_ENVIRONMENT.map((v) => v.name);
  for (const name of read) assert.ok(listed.includes(name) || emulatorOnly.includes(name), `${name} is read but not listed in config.ts ENVIRONMENT (or cli/emulate.ts EMULATOR_ENVIRONMENT)`);
  for (const name of emulatorOnly) assert.ok(read.has(name), `${name} is listed in EMULATOR_ENVIRONMENT but nothing reads it`);
  for (const name of listed) assert.ok(read.has(name) || name.startsWith('AWS_'), `${name} is listed but nothing reads it`);
  for (const name of CONFIG_VARIABLES) assert.ok(listed.includes(name), `${name} (ConfigInput) is not listed`);
});

test('serve --help lists every environment variable with its default', async () => {
  const text = await help(['serve']);
  for (const variable of ENVIRONMENT) {
    const line = text.split('\n').find((l) => l.trimStart().startsWith(`${variable.name} `));
    assert.ok(line, `serve --help lacks ${variable.name}`);
    assert.ok(line.endsWith(`(default: ${variable.default})`), line);
  }
});

test('the README names every command of --help, every option of serve and every environment variable', async () => {
  const readme = await readFile(README, 'utf8');
  for (const path of paths) {
    assert.ok(readme.includes(`oapi-media ${path.join(' ')}`), `README lacks \`oapi-media ${path.join(' ')}\``);
  }
  for (const flag of (await help(['serve'])).matchAll(/^ {2}(--[a-z-]+)/gm)) {
    if (flag[1] !== '--help') assert.ok(readme.includes(`\`${flag[1]}\``), `README lacks serve's ${flag[1]}`);
  }
  for (const { name } of ENVIRONMENT) assert.ok(readme.includes(`\`${name}\``), `README lacks \`${name}\``);
  const emulateHelp = await help(['emulate']);
  for (const { name, flag } of EMULATOR_ENVIRONMENT) {
    assert.ok(readme.includes(`\`${name}\``), `README lacks \`${name}\``);
    assert.ok(emulateHelp.includes(name) && emulateHelp.includes(flag), `emulate --help lacks ${name} or ${flag}`);
  }
});
