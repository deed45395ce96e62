/**
 * The lab's binaries: the `temporal` CLI (dev server + Web UI) and the project's vSphere simulator
 * launcher (lab/vcsim). Both are built from source with Go and cached in the user's cache directory,
 * keyed by version, so later runs and CI on the same machine reuse them and a fresh machine builds
 * them with no manual step.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../package-root';
import { LabError } from './errors';

/** The Temporal CLI version the lab runs (bundles Temporal server 1.29.1 and the Web UI). */
export const TEMPORAL_CLI_VERSION = '1.5.1';
const TEMPORAL_BUNDLE = '(Server 1.29.1, UI 2.42.1)';
const TEMPORAL_MODULE = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`;

export { projectRoot } from '../package-root';

const launcherSource = join(projectRoot, 'lab', 'vcsim');

/** Paths of the lab's binaries. */
export interface LabTools {
  temporal: string;
  vcsim: string;
}

/** Where the tools are cached: `$XDG_CACHE_HOME/quickmig/tools`, default `~/.cache/quickmig/tools`. */
export function toolCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'quickmig', 'tools');
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * A released binary says `temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)`; one built with `go install`
 * carries no version stamp (`0.0.0-DEV`) but names the server and UI it bundles.
 */
function isWantedTemporal(versionText: string): boolean {
  return versionText.includes(`version ${TEMPORAL_CLI_VERSION} `) || versionText.includes(TEMPORAL_BUNDLE);
}

function versionOf(binary: string): string {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

/** The launcher's cache key: a hash of its Go sources, go.mod and go.sum (tests excluded). */
export function launcherVersion(): string {
  const hash = createHash('sha256');
  const files = readdirSync(launcherSource)
    .filter(
      (f) =>
        f === 'go.mod' ||
        f === 'go.sum' ||
        f === 'profiles.json' ||
        (f.endsWith('.go') && !f.endsWith('_test.go')),
    )
    .sort();
  for (const file of files) {
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(launcherSource, file)))
      .update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function requireGo(env: NodeJS.ProcessEnv, what: string): string {
  const go = findOnPath('go', env);
  if (!go) {
    throw new LabError(
      `Cannot build ${what}: Go is not installed and no cached binary exists in ${toolCacheDir(env)}. ` +
        'Install Go 1.25 or newer (the temporal CLI and the launcher need it; https://go.dev/dl/) and run again.',
    );
  }
  return go;
}

/** Builds into a temporary folder, then renames it into place, so a killed build never leaves half a binary. */
function buildInto(finalDir: string, binaryName: string, build: (tmpDir: string) => void): string {
  const finalPath = join(finalDir, binaryName);
  if (existsSync(finalPath)) return finalPath;
  const tmpDir = `${finalDir}.tmp-${process.pid}`;
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  try {
    build(tmpDir);
    if (!existsSync(join(tmpDir, binaryName)))
      throw new LabError(`Build of ${binaryName} produced no binary`);
    try {
      renameSync(tmpDir, finalDir);
    } catch (error) {
      // Another process finished the same build first: its binary is as good as ours.
      if (!existsSync(finalPath)) throw error;
    }
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
  return finalPath;
}

function runGo(
  go: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
  what: string,
): void {
  process.stderr.write(`quickmig: building ${what} (first run on this machine; cached afterwards)...\n`);
  const result = spawnSync(go, args, { ...options, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    throw new LabError(
      `Building ${what} failed (go ${args.join(' ')} exited with ${result.status}). See the output above.`,
    );
  }
}

/** Finds or builds the `temporal` CLI: a matching one on PATH, else the cached build, else `go install`. */
export function ensureTemporal(env: NodeJS.ProcessEnv = process.env): string {
  const onPath = findOnPath('temporal', env);
  if (onPath && isWantedTemporal(versionOf(onPath))) return onPath;
  const dir = join(toolCacheDir(env), `temporal-v${TEMPORAL_CLI_VERSION}`);
  if (existsSync(join(dir, 'temporal'))) return join(dir, 'temporal');
  const go = requireGo(env, `the temporal CLI v${TEMPORAL_CLI_VERSION}`);
  return buildInto(dir, 'temporal', (tmp) =>
    runGo(
      go,
      ['install', TEMPORAL_MODULE],
      { cwd: tmp, env: { ...env, GOBIN: tmp } },
      `temporal CLI v${TEMPORAL_CLI_VERSION}`,
    ),
  );
}

/** Finds or builds the simulator launcher from lab/vcsim, keyed by a hash of its sources. */
export function ensureVcsim(env: NodeJS.ProcessEnv = process.env): string {
  const dir = join(toolCacheDir(env), `quickmig-vcsim-${launcherVersion()}`);
  if (existsSync(join(dir, 'quickmig-vcsim'))) return join(dir, 'quickmig-vcsim');
  const go = requireGo(env, 'the vSphere simulator launcher (lab/vcsim)');
  return buildInto(dir, 'quickmig-vcsim', (tmp) =>
    runGo(
      go,
      ['build', '-trimpath', '-o', join(tmp, 'quickmig-vcsim'), '.'],
      { cwd: launcherSource, env },
      'the vSphere simulator launcher',
    ),
  );
}

/** Finds or builds every lab tool. */
export function ensureTools(env: NodeJS.ProcessEnv = process.env): LabTools {
  return { temporal: ensureTemporal(env), vcsim: ensureVcsim(env) };
}

// Run directly (scripts/bootstrap.mjs does): build what is missing and print the paths.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const tools = ensureTools();
    process.stdout.write(`${JSON.stringify(tools)}\n`);
  } catch (error) {
    process.stderr.write(`quickmig: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
