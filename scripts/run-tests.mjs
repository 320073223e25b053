#!/usr/bin/env node
// Runs every test file with node's own test runner (TypeScript through tsx).
//   node scripts/run-tests.mjs            -> packages/*/test/**/*.test.ts  (npm test)
//   node scripts/run-tests.mjs --stress   -> **/*.stress.ts                (npm run test:stress)
//   node scripts/run-tests.mjs FILE...    -> only those files
//   ... --not-through-bundle              -> without the API files marked `// TEST_SERVER=bundle:` (npm test runs
//                                            those through the bundle instead, on each engine: not twice on one)
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BUNDLE_MARKER } from './test-markers.mjs';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const stress = args.includes('--stress');
const explicit = args.filter((a) => !a.startsWith('--'));
const suffix = stress ? '.stress.ts' : '.test.ts';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith(suffix)) out.push(relative(root, path));
  }
  return out;
}

const found = explicit.length > 0 ? explicit : walk(join(root, 'packages'), []).concat(walk(join(root, 'test'), [])).sort();
const files = args.includes('--not-through-bundle') ? found.filter((file) => !BUNDLE_MARKER.test(readFileSync(join(root, file), 'utf8'))) : found;
if (files.length === 0) {
  console.error(`no ${suffix} files found`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files],
  { cwd: root, stdio: 'inherit', env: process.env },
);
process.exit(result.status ?? 1);
