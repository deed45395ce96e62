#!/usr/bin/env node
// Builds dist/ from src/ with esbuild when a source is newer than the last build, so that the CLI and the
// worker run plain JavaScript: no TypeScript loader in the process (tsx's loader thread alone costs the
// worker about 35 MiB; bench/TUNING.md). bin/quickmig.js calls it before every run; with nothing changed it
// costs one directory walk (a few ms). vitest and the bench keep running the sources directly.
//
// dist/ is written to a fresh directory and swapped in with one rename, so processes starting at the same
// time never see half a build: each build lives in dist/<id>/ and dist/current names the complete one.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const pointer = join(dist, 'current');

/** Newest change under `dir`: files and the directories themselves (a deleted or renamed file changes its directory). */
function newestSource(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** The entry module of the current build, building it first when src/ changed since. */
export async function builtEntry() {
  // src/ and schema/ (the request schema is bundled), and this script (how it builds).
  const sources = Math.max(
    newestSource(join(root, 'src')),
    newestSource(join(root, 'schema')),
    statSync(fileURLToPath(import.meta.url)).mtimeMs,
  );
  if (existsSync(pointer)) {
    const current = join(dist, readFileSync(pointer, 'utf8').trim());
    const entry = join(current, 'main.js');
    if (existsSync(entry) && statSync(pointer).mtimeMs >= sources) return pathToFileURL(entry);
  }
  return pathToFileURL(join(await build(), 'main.js'));
}

/** Builds src/cli/main.ts (and everything it imports) into a new dist/<id>/ and points dist/current at it. */
export async function build() {
  const { build: esbuild } = await import('esbuild');
  const id = `b${Date.now().toString(36)}-${process.pid}`;
  const out = join(dist, id);
  await esbuild({
    entryPoints: [join(root, 'src', 'cli', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Dependencies load from node_modules as they are; only quickmig's own code is bundled.
    packages: 'external',
    splitting: true,
    sourcemap: 'linked',
    outdir: out,
    logLevel: 'warning',
  });
  mkdirSync(dist, { recursive: true });
  const tmp = join(dist, `current.${process.pid}`);
  writeFileSync(tmp, `${id}\n`);
  renameSync(tmp, pointer);
  // Builds other than the current one are left to the next build: a process may still be loading one.
  for (const old of readdirSync(dist)) {
    if (old === id || !old.startsWith('b')) continue;
    const age = Date.now() - statSync(join(dist, old)).mtimeMs;
    if (age > 10 * 60_000) rmSync(join(dist, old), { recursive: true, force: true });
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const out = await build();
  console.error(`quickmig: built ${out} in ${Date.now() - started} ms`);
}
