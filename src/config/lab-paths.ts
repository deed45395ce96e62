/**
 * Where a lab keeps its files. The lab writes them, the worker reads the lab's worker configuration and
 * the client finds the lab's Temporal server in its state file: one spelling of these paths for all three.
 */
import { join, resolve } from 'node:path';

/** The lab folder relative to a working directory. */
export const LAB_DIR = join('.quickmig', 'lab');

/** The default lab folder for a working directory (default: the process's). */
export function defaultLabDir(cwd = process.cwd()): string {
  return join(cwd, LAB_DIR);
}

/** The environment variable that names a lab folder for every command (as `--lab DIR` does). */
export const LAB_ENVIRONMENT = 'QUICKMIG_LAB';

/**
 * The lab folder a command uses: `--lab DIR`, else QUICKMIG_LAB, else `.quickmig/lab` in the working
 * directory. `explicit` says whether the user named it (then a missing lab is an error, not a fallback).
 */
export function labDirOf(
  option: string | undefined,
  env: Record<string, string | undefined> = process.env,
  cwd = process.cwd(),
): { dir: string; explicit: boolean } {
  const named = option || env[LAB_ENVIRONMENT] || undefined;
  return named ? { dir: resolve(cwd, named), explicit: true } : { dir: defaultLabDir(cwd), explicit: false };
}

/** The lab's state file (`lab status` reads it; the client finds the lab's Temporal server in it). */
export function labStatePath(dir: string): string {
  return join(dir, 'state.json');
}

/** The worker configuration `lab up` writes for its endpoints. */
export function labWorkerConfigPath(dir: string): string {
  return join(dir, 'worker-config.json');
}
