// The house rules a reviewer would otherwise check by hand: a wire (dialect) reaches the product only
// through DialectServices, and no operator command reaches into a store.

import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) files.push(path);
  }
  return files;
}

/** Every relative import of a file, as a path under src/. */
async function localImports(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+'(\.[^']+)'/gm)].map((m) => relative(SRC, resolve(file, '..', m[1]!)));
}

test('dialects import only the door (service/dialect-services.ts), http/, config, errors and their own folder', async () => {
  const allowed = (target: string) =>
    target.startsWith('dialects/') || target.startsWith('http/') ||
    ['service/dialect-services.ts', 'config.ts', 'errors.ts'].includes(target);
  const offending: string[] = [];
  for (const file of await sourceFiles(join(SRC, 'dialects'))) {
    for (const target of await localImports(file)) if (!allowed(target)) offending.push(`${relative(SRC, file)} -> ${target}`);
  }
  assert.deepEqual(offending, []);
});

test('no operator command imports a store', async () => {
  const offending: string[] = [];
  for (const file of [join(SRC, 'cli.ts'), ...(await sourceFiles(join(SRC, 'cli')))]) {
    for (const target of await localImports(file)) if (target.startsWith('stores/')) offending.push(`${relative(SRC, file)} -> ${target}`);
  }
  assert.deepEqual(offending, []);
});

test('the rule can fail: it sees the imports it forbids', async () => {
  // The admin service does import a store: the scanner must find it, or the rules above prove nothing.
  assert.ok((await localImports(join(SRC, 'service/admin.ts'))).some((target) => target.startsWith('stores/')));
});
