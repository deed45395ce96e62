#!/usr/bin/env node
// Builds the installable package's library into lib/: the public API (src/index.ts: the client, the request
// types and validation, plan, progress and result types) as one ES module, lib/index.js, and its type
// declarations, lib/**/*.d.ts, whose relative imports carry the `.js` extensions that Node's ES module
// resolution (and TypeScript's `moduleResolution: nodenext`) require. Dependencies stay imports of the
// packages in package.json `dependencies`; the request's JSON Schema ships beside it (schema/) and is exported
// as `quickmig/schema/migration-request.schema.json`.
//
// `npm pack` and `npm publish` run it (the `prepack` script); test/package installs the packed tarball.
//
//   node scripts/build-package.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = join(root, 'lib');

/** Every .d.ts file under `dir`. */
function declarations(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return declarations(path);
    return entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * The specifier Node's ES module resolution needs for an extensionless relative import written for a
 * bundler: `./x` → `./x.js` when x.d.ts exists, `./dir` → `./dir/index.js` when dir/index.d.ts does.
 */
function withExtension(fromFile, specifier) {
  if (!specifier.startsWith('.') || /\.(js|json)$/.test(specifier)) return specifier;
  const base = join(dirname(fromFile), specifier);
  if (existsSync(`${base}.d.ts`)) return `${specifier}.js`;
  if (existsSync(join(base, 'index.d.ts'))) return `${specifier}/index.js`;
  throw new Error(`${relative(root, fromFile)}: cannot resolve ${specifier} among the emitted declarations`);
}

/** Builds lib/ and returns what it wrote. */
export async function buildPackage() {
  rmSync(lib, { recursive: true, force: true });
  const { build } = await import('esbuild');
  await build({
    entryPoints: { index: join(root, 'src', 'index.ts') },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Dependencies are the package's dependencies, imported as they are; only quickmig's code is bundled.
    packages: 'external',
    sourcemap: 'linked',
    outdir: lib,
    logLevel: 'warning',
  });

  // Declarations of src/index.ts and what it reaches, by the project's own TypeScript (tsconfig.package.json).
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  const run = spawnSync(tsc, ['-p', join(root, 'tsconfig.package.json')], { cwd: root, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`tsc failed to emit declarations:\n${run.stdout}${run.stderr}`);

  const files = declarations(lib);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const fixed = text
      .replace(/(from\s+|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]*)\2/g, (_m, lead, quote, spec) => {
        return `${lead}${quote}${withExtension(file, spec)}${quote}`;
      })
      .replace(/^(import|export)\s+(['"])(\.{1,2}\/[^'"]*)\2/gm, (_m, kw, quote, spec) => {
        return `${kw} ${quote}${withExtension(file, spec)}${quote}`;
      });
    if (fixed !== text) writeFileSync(file, fixed);
  }
  return { entry: join(lib, 'index.js'), declarations: files.length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { entry, declarations: count } = await buildPackage();
  console.error(`quickmig: built ${relative(root, entry)} and ${count} declaration files`);
}
