#!/usr/bin/env node
// Builds dist/ from src/ when a source is newer than the last build, so that the CLI and the worker run
// plain JavaScript with a prebuilt workflow bundle: no TypeScript loader in the process (tsx's loader
// thread alone costs about 35 MiB) and no webpack run at worker start (about 120 MiB; bench/TUNING.md).
// bin/quickmig.js checks before every run (one directory walk, a few ms) and, when src/ changed, runs this
// script in a child process (about 2 s), so the CLI's own process never loads esbuild or webpack.
// vitest and the bench keep running the sources directly.
//
// Each build lives in dist/<id>/ and dist/current names the complete one, swapped in with one rename:
// processes starting at the same time never see half a build.
//
//   node scripts/build.mjs            build now (the worker image does, see Dockerfile)
import { spawnSync } from 'node:child_process';
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

/** The newest change of what a build is made of: src/, schema/ (the request schema is bundled), this script. */
function sourcesChangedAt() {
  return Math.max(
    newestSource(join(root, 'src')),
    newestSource(join(root, 'schema')),
    statSync(fileURLToPath(import.meta.url)).mtimeMs,
  );
}

/** The current build's entry module, or undefined when there is none or a source changed since it began. */
function currentEntry() {
  if (!existsSync(pointer)) return undefined;
  // dist/current holds the build's id and the sources' newest change when that build began.
  const [id, builtFrom] = readFileSync(pointer, 'utf8').trim().split(' ');
  const entry = join(dist, id ?? '', 'main.js');
  return existsSync(entry) && Number(builtFrom) >= sourcesChangedAt() ? pathToFileURL(entry) : undefined;
}

/** The entry module of an up-to-date build, building one first (in a child process) when needed. */
export function builtEntry() {
  const entry = currentEntry();
  if (entry) return entry;
  const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { stdio: 'inherit' });
  if (run.status !== 0)
    throw new Error(`quickmig: building dist/ failed (node scripts/build.mjs exited ${run.status})`);
  const built = currentEntry();
  if (!built) throw new Error('quickmig: dist/ is still older than src/ after a build');
  return built;
}

/**
 * Builds src/cli/main.ts (and everything it imports) and the workflow bundle into a new dist/<id>/, then
 * points dist/current at it.
 */
async function build() {
  const { build: esbuild } = await import('esbuild');
  // Taken before reading anything: a source saved during the build makes the next run build again.
  const builtFrom = sourcesChangedAt();
  const id = `b${Date.now().toString(36)}-${process.pid}`;
  const out = join(dist, id);
  await esbuild({
    // main.js runs the CLI; worker.js (src/worker.ts) also serves this script to bundle the workflows.
    entryPoints: { main: join(root, 'src', 'cli', 'main.ts'), worker: join(root, 'src', 'worker.ts') },
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
  // The workflow code exactly as the worker would bundle it at start (src/worker.ts, bundleWorkflows); the
  // worker finds it beside its own module.
  const { DefaultLogger, Runtime } = await import('@temporalio/worker');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { bundleWorkflows } = await import(pathToFileURL(join(out, 'worker.js')).href);
  const { code } = await bundleWorkflows(Runtime.instance().logger);
  writeFileSync(join(out, 'workflow-bundle.js'), code);
  mkdirSync(dist, { recursive: true });
  const tmp = join(dist, `current.${process.pid}`);
  writeFileSync(tmp, `${id} ${builtFrom}\n`);
  renameSync(tmp, pointer);
  // Builds other than the current one go once they are 10 minutes old: a process may still be loading one.
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
  if (process.stderr.isTTY) console.error(`quickmig: built ${out} in ${Date.now() - started} ms`);
}
