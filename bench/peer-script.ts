// The peers run as plain JavaScript, as the product does (`npm start` runs an esbuild bundle):
// TypeScript through tsx's loader would cost each of them ~30 MB of RSS and some start-up.

import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const OUT_DIR = fileURLToPath(new URL('./.build/', import.meta.url));
const built = new Map<string, string>();

/** Bundles a peer server's .ts (npm packages stay external) once per bench run; returns the .mjs. */
export function peerScript(tsPath: string): string {
  let out = built.get(tsPath);
  if (!out) {
    out = join(OUT_DIR, `${basename(tsPath, '.ts')}.mjs`);
    buildSync({ entryPoints: [tsPath], outfile: out, bundle: true, format: 'esm', platform: 'node', target: 'node20', packages: 'external', logLevel: 'warning' });
    built.set(tsPath, out);
  }
  return out;
}
