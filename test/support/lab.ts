/**
 * Labs for integration tests. The shared one is started on first use and stopped by the global teardown
 * (test/support/global-setup.ts), so a run starts one Temporal server and one set of simulators however
 * many read-only integration files use them; each run has its own folder, so runs never collide.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { LabControl } from '../../src/lab/control';
import type { LabEndpoint, LabInfo } from '../../src/lab/lab';
import { labStatus, labUp } from '../../src/lab/lab';

/** Starts this run's shared lab unless it already runs, and returns its description. */
export async function startLab(): Promise<LabInfo> {
  const dir = join(inject('labRoot'), 'shared');
  const status = labStatus(dir);
  if (status.up && status.info) return status.info;
  return labUp({ dir });
}

/**
 * Starts a lab of the test file's own, for tests that change the estate (migrations move VMs away).
 * Stop it with labDown(info.dir) in afterAll; the run's teardown stops it otherwise.
 */
export async function startPrivateLab(name: string, topology?: string): Promise<LabInfo> {
  return labUp({ dir: join(inject('labRoot'), name), ...(topology ? { topology } : {}) });
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
