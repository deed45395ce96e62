/**
 * Labs for integration tests. The shared one is started on first use and stopped by the global teardown
 * (test/support/global-setup.ts), so a run starts one Temporal server and one set of simulators however
 * many read-only integration files use them; each run has its own folder, so runs never collide.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { inject } from 'vitest';
import { LabControl } from '../../src/lab/control';
import type { LabEndpoint, LabInfo } from '../../src/lab/lab';
import { labDown, labStatus, labUp } from '../../src/lab/lab';
import type { Topology, TopologyVm } from '../../src/lab/topology';
import { DEFAULT_TOPOLOGY } from '../../src/lab/topology';

/** Starts this run's shared lab unless it already runs, and returns its description. */
export async function startLab(): Promise<LabInfo> {
  const dir = join(inject('labRoot'), 'shared');
  const status = labStatus(dir);
  if (status.up && status.info) return status.info;
  return labUp({ dir });
}

/**
 * Starts a lab of the test file's own, for tests that change the estate (migrations move VMs away).
 * Stop it with stopPrivateLab(info.dir) in afterAll; the run's teardown stops it otherwise.
 */
export async function startPrivateLab(name: string, topology?: string): Promise<LabInfo> {
  return labUp({ dir: join(inject('labRoot'), name), ...(topology ? { topology } : {}) });
}

/**
 * Stops a lab of the test file's own and deletes its datastores (`datastores/`, `nfs/`). A full run starts
 * some twenty such labs; kept to the run's end, their disks took 28 to 39 GB (two runs at once filled the
 * disk). The logs, endpoint specs and Temporal database stay until the run ends, for a failure's
 * post-mortem; QUICKMIG_KEEP_TEST_LABS=1 keeps the datastores too.
 */
export async function stopPrivateLab(dir: string): Promise<void> {
  const root = resolve(inject('labRoot'));
  if (!resolve(dir).startsWith(root + sep)) throw new Error(`${dir} is not a lab of this test run (${root})`);
  await labDown(dir);
  if (process.env.QUICKMIG_KEEP_TEST_LABS === '1') return;
  for (const sub of ['datastores', 'nfs']) rmSync(join(dir, sub), { recursive: true, force: true });
}

/**
 * Writes a topology of two standalone ESXi hosts, esx-a (with `vms`) and esx-b (empty), one 20 GiB VMFS
 * datastore each, on the quick profile with fast guests; returns the file. For tests of one Quick
 * Migration's behaviour, where the rates do not matter.
 */
export function twoHostTopology(prefix: string, vms: TopologyVm[]): string {
  const host = (name: string, portGroups: string[] = []) => ({
    name,
    kind: 'esx' as const,
    datastores: [{ name: 'datastore1', type: 'vmfs' as const, capacityGiB: 20 }],
    hosts: [{ name: `${name}.lab`, cpu: 'intel-cascadelake', datastores: ['datastore1'], portGroups }],
  });
  const t: Topology = {
    profile: 'quick',
    guest: { shutdownSec: 0.5, bootSec: 0.5, resumeSec: 0.2 },
    cpuModels: (JSON.parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Topology).cpuModels,
    // The target has an isolated port group for test migrations (options.test.network).
    endpoints: [{ ...host('esx-a'), vms }, host('esx-b', ['test-isolated'])],
  };
  const file = join(mkdtempSync(join(tmpdir(), `quickmig-${prefix}-`)), 'topology.json');
  writeFileSync(file, JSON.stringify(t));
  return file;
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
