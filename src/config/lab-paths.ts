/**
 * Where a lab keeps its files. The lab writes them, the worker reads the lab's worker configuration and
 * the client finds the lab's Temporal server in its state file: one spelling of these paths for all three.
 */
import { join } from 'node:path';

/** The lab folder relative to a working directory. */
export const LAB_DIR = join('.quickmig', 'lab');

/** The default lab folder for a working directory (default: the process's). */
export function defaultLabDir(cwd = process.cwd()): string {
  return join(cwd, LAB_DIR);
}

/** The lab's state file (`lab status` reads it; the client finds the lab's Temporal server in it). */
export function labStatePath(dir: string): string {
  return join(dir, 'state.json');
}

/** The worker configuration `lab up` writes for its endpoints. */
export function labWorkerConfigPath(dir: string): string {
  return join(dir, 'worker-config.json');
}
