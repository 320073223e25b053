#!/usr/bin/env node
// Builds what ships (issue 13): each published package into its own dist/, from empty.
//
// - @oapi-media/server: the bundle `npm start` and the `oapi-media` bin run (esbuild, ESM, code-split
//   so that the PostgreSQL, S3 and Redis clients load only when configured; ~30 MB less memory than
//   the TypeScript through tsx), plus the library entry (index.js) and its declarations.
// - @oapi-media/client: the SDK as ESM (index.js) and CommonJS (index.cjs) with declarations for
//   both, and the `oapi-media-client` CLI (cli.js) with commander bundled in, so that installing the
//   SDK installs nothing else.
//
// @oapi-media/core is not published: it is bundled into both (JavaScript by esbuild, declarations by
// rollup-plugin-dts), so a user installs one package and never meets a version skew between the
// error table the server answers with and the one the SDK reads.
//   node scripts/build.mjs            every package
//   node scripts/build.mjs server     one of them (server | client)
import { build } from 'esbuild';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { rollup } from 'rollup';
import { dts } from 'rollup-plugin-dts';

const root = new URL('..', import.meta.url).pathname;
const nodeTarget = 'node20.19';
const isNodeBuiltin = (id) => id.startsWith('node:') || builtinModules.includes(id);

function manifest(name) {
  return JSON.parse(readFileSync(`${root}packages/${name}/package.json`, 'utf8'));
}

/** Declarations of `entry` in one file, @oapi-media/core inlined, everything else left as imports. */
async function bundleDeclarations(entry, outFile, external) {
  const bundle = await rollup({
    input: entry,
    external: (id) => isNodeBuiltin(id) || external.some((name) => id === name || id.startsWith(`${name}/`)),
    plugins: [
      dts({
        // Follow @oapi-media/core into node_modules (a workspace link) and inline it.
        respectExternal: true,
        tsconfig: `${root}tsconfig.json`,
        compilerOptions: { noEmit: false, declaration: true, emitDeclarationOnly: true, noUnusedLocals: false },
      }),
    ],
    onwarn(warning, warn) {
      if (warning.code === 'EMPTY_BUNDLE') return;
      warn(warning);
    },
  });
  await bundle.write({ file: outFile, format: 'es' });
  await bundle.close();
}

async function buildServer() {
  const dir = `${root}packages/server`;
  const { dependencies } = manifest('server');
  const external = Object.keys(dependencies);
  // From empty: a file left by an older build must not make this one work. The PostgreSQL
  // migrations are TypeScript modules (stores/metadata/schema.ts), so the bundle carries them.
  rmSync(`${dir}/dist`, { recursive: true, force: true });
  await build({
    entryPoints: { cli: `${dir}/src/cli.ts`, index: `${dir}/src/index.ts`, emulator: `${dir}/src/emulator/index.ts` },
    outdir: `${dir}/dist`,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: nodeTarget,
    external,
    sourcemap: true,
    logLevel: 'warning',
  });
  await bundleDeclarations(`${dir}/src/index.ts`, `${dir}/dist/index.d.ts`, external);
  await bundleDeclarations(`${dir}/src/emulator/index.ts`, `${dir}/dist/emulator.d.ts`, external);
}

async function buildClient() {
  const dir = `${root}packages/client`;
  rmSync(`${dir}/dist`, { recursive: true, force: true });
  const common = { bundle: true, platform: 'node', target: nodeTarget, sourcemap: true, logLevel: 'warning' };
  await build({ ...common, entryPoints: [`${dir}/src/index.ts`], outfile: `${dir}/dist/index.js`, format: 'esm' });
  await build({ ...common, entryPoints: [`${dir}/src/index.ts`], outfile: `${dir}/dist/index.cjs`, format: 'cjs' });
  await build({
    ...common,
    entryPoints: [`${dir}/src/cli.ts`],
    outfile: `${dir}/dist/cli.js`,
    format: 'esm',
    // commander is CommonJS: give the ESM bundle a require for the Node built-ins it loads.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);" },
    // commander is bundled into the CLI entry only (its MIT notice is kept, see legalComments).
    legalComments: 'inline',
  });
  await bundleDeclarations(`${dir}/src/index.ts`, `${dir}/dist/index.d.ts`, []);
  // The same declarations describe the CommonJS build: the SDK has no default export, so every
  // name is a named export in both module systems.
  copyFileSync(`${dir}/dist/index.d.ts`, `${dir}/dist/index.d.cts`);
}

const builders = { server: buildServer, client: buildClient };
const wanted = process.argv.slice(2);
for (const name of wanted.length > 0 ? wanted : Object.keys(builders)) {
  const builder = builders[name];
  if (!builder) throw new Error(`unknown package ${name} (known: ${Object.keys(builders).join(', ')})`);
  await builder();
}
