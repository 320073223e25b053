#!/usr/bin/env node
// `npm test`: the whole suite, and how long each part took.
//   typecheck; the build; the API files that can, through the bundle on SQLite + disk and on PostgreSQL + s3rver
//   ("test what ships"); every other *.test.ts (TypeScript, on SQLite + disk); the API files that need the server
//   in-process, on PostgreSQL + s3rver; the API suite against the emulator; the packaging test.
// Each API file runs once per engine: through the bundle where it can, in-process where it must.
// The packaging test (scripts/test-packages.mjs) spends most of its time in `npm install` and a
// native build, so it runs beside the other parts; its output is printed when it ends, in one piece.
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const node = process.execPath;

/** Runs a command; resolves with its exit status and seconds. Output goes through, or is kept. */
function step(name, command, args, { keepOutput = false } = {}) {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: keepOutput ? ['ignore', 'pipe', 'pipe'] : 'inherit', env: process.env });
    let output = '';
    if (keepOutput) {
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
    }
    child.on('close', (code, signal) => resolve({ name, status: code ?? (signal ? 1 : 0), seconds: (performance.now() - started) / 1000, output }));
  });
}

const results = [];
const typecheck = await step('typecheck', node, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit']);
results.push(typecheck);
const build = typecheck.status === 0 ? await step('build (scripts/build.mjs)', node, ['scripts/build.mjs']) : undefined;
if (build) results.push(build);
if (build?.status === 0) {
  // Every part below runs what this build made; none rebuilds dist/ under another's feet.
  process.env.OAPI_MEDIA_PREBUILT = '1';
  const packaging = step('packaging test', node, ['--test', '--test-reporter=spec', 'scripts/test-packages.mjs'], { keepOutput: true });
  for (const [name, args] of [
    ['every *.test.ts not run through the bundle', ['scripts/run-tests.mjs', '--not-through-bundle']],
    ['in-process API files on PostgreSQL + s3rver', ['scripts/test-engines.mjs', '--in-process-only']],
    ['API suite against the emulator', ['scripts/test-engines.mjs', '--emulator']],
    ['bundle on SQLite + disk', ['scripts/test-engines.mjs', '--bundle', '--embedded']],
    ['bundle on PostgreSQL + s3rver', ['scripts/test-engines.mjs', '--bundle']],
  ]) {
    results.push(await step(name, node, args));
  }
  const packed = await packaging;
  process.stdout.write(`\n--- packaging test (ran beside the parts above) ---\n${packed.output}`);
  results.push(packed);
}

console.log('\nnpm test:');
for (const result of results) console.log(`  ${result.status === 0 ? 'passed' : 'FAILED'}  ${result.seconds.toFixed(1).padStart(6)} s  ${result.name}`);
const failed = results.filter((result) => result.status !== 0);
process.exit(failed.length === 0 ? 0 : 1);
