/**
 * The shared lab for integration tests: started on first use in `.quickmig/test-lab` and stopped by the
 * global teardown (test/support/global-setup.ts), so a test run starts one Temporal server and one set of
 * simulators however many integration files use them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabControl } from '../../src/lab/control';
import type { LabEndpoint, LabInfo } from '../../src/lab/lab';
import { labStatus, labUp } from '../../src/lab/lab';
import { projectRoot } from '../../src/lab/tools';

/** Folder of the shared test lab. */
export const TEST_LAB_DIR = join(projectRoot, '.quickmig', 'test-lab');

/** Starts the shared lab unless it already runs, and returns its description. */
export async function startLab(): Promise<LabInfo> {
  const status = labStatus(TEST_LAB_DIR);
  if (status.up && status.info) return status.info;
  return labUp({ dir: TEST_LAB_DIR });
}

/** One endpoint of a lab, by name. */
export function endpoint(info: LabInfo, name: string): LabEndpoint {
  const found = info.endpoints.find((ep) => ep.name === name);
  if (!found) throw new Error(`the lab has no endpoint ${name}`);
  return found;
}

/** The password of a lab endpoint (tests only: the product reads it through the worker configuration). */
export function passwordOf(ep: LabEndpoint): string {
  return readFileSync(ep.credentials.passwordFile, 'utf8').trim();
}

/** The control API (fault injection, call log, guest writes) of a lab endpoint. */
export function controlOf(info: LabInfo, name: string): LabControl {
  return new LabControl(endpoint(info, name));
}
