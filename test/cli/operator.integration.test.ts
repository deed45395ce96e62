/**
 * The operator's side, end to end on the shared lab (read-only: nothing migrates): discovery
 * (`quickmig inventory`), endpoint checks (`quickmig endpoints`, the worker's start-up check and its
 * configuration schema), a dry run that reports the conflicts a migration would meet (`quickmig plan`,
 * `plan --plan`), and unknown VMs and endpoints refused with the name meant. Each worker here is a
 * `quickmig worker` process on a task queue of its own, with a configuration written for it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import type { VSphereClient } from '../../src/vsphere';
import { endpoint, startLab } from '../support/lab';
import { connect, scratchName } from '../vsphere/helpers';
import type { CliProcess } from './support';
import { labEnv, runCli, startCli, stopProcess } from './support';

let lab: LabInfo;
let env: NodeJS.ProcessEnv;
let dir: string;
const workers: CliProcess[] = [];
const goodQueue = `ops-good-${randomUUID().slice(0, 8)}`;
const badQueue = `ops-bad-${randomUUID().slice(0, 8)}`;

type Config = {
  taskQueue?: string;
  endpoints: Record<string, Record<string, unknown> & { tls: { thumbprint: string } }>;
};

/** The lab's worker configuration with a task queue of its own and `change` applied, written to a file. */
function configFile(name: string, taskQueue: string, change: (c: Config) => void = () => {}): string {
  const config = JSON.parse(readFileSync(lab.workerConfig, 'utf8')) as Config;
  config.taskQueue = taskQueue;
  change(config);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}

/** Starts `quickmig worker --config FILE` and waits until it polls. */
async function startWorker(file: string): Promise<CliProcess> {
  const worker = startCli(['worker', '--config', file], env);
  workers.push(worker);
  await worker.waitFor(/Worker state changed[\s\S]*?RUNNING/, 'stderr', 120_000);
  return worker;
}

/** Runs `quickmig ...args` against the worker on `queue`. */
function cli(args: string[], queue = goodQueue) {
  return runCli([...args, '--task-queue', queue], env);
}

beforeAll(async () => {
  lab = await startLab();
  env = labEnv(lab);
  dir = mkdtempSync(join(tmpdir(), 'quickmig-operator-'));
  await startWorker(configFile('good', goodQueue));
}, 300_000);

afterAll(async () => {
  for (const w of workers) await stopProcess(w);
});

describe('quickmig inventory (integration)', () => {
  it("lists esx-a's VMs with their sizes and power states as JSON", async () => {
    const run = await cli(['inventory', 'esx-a', 'vms', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const listing = JSON.parse(run.stdout) as {
      kind: string;
      rows: {
        endpoint: string;
        name: string;
        powerState: string;
        memoryMiB: number;
        cpus: number;
        host: string;
        datastores: string[];
        disks: { capacityBytes: number; allocatedBytes: number; datastore: string }[];
      }[];
    };
    expect(listing.kind).toBe('vms');
    const byName = new Map(listing.rows.map((r) => [r.name, r]));
    expect([...byName.keys()]).toEqual(expect.arrayContaining(['ir-app01', 'big01', 'off01', 'susp01']));
    expect(listing.rows.every((r) => r.endpoint === 'esx-a' && r.host === 'esx-a.lab')).toBe(true);
    expect(byName.get('ir-app01')).toMatchObject({ powerState: 'poweredOn', datastores: ['IR-NFS'] });
    expect(byName.get('off01')?.powerState).toBe('poweredOff');
    expect(byName.get('susp01')?.powerState).toBe('suspended');
    expect(byName.get('big01')?.memoryMiB).toBe(12 * 1024);
    // ir-app01's disk is 256 MiB of real data on the IR share.
    const disk = byName.get('ir-app01')?.disks[0];
    expect(disk?.capacityBytes).toBe(256 * 2 ** 20);
    expect(disk?.allocatedBytes).toBeGreaterThanOrEqual(256 * 2 ** 20);
    expect(disk?.datastore).toBe('IR-NFS');
  });

  it('filters, and prints datastores with capacity and free space as a table', async () => {
    const on = await cli(['inventory', 'esx-a', '--power', 'off', '--json']);
    expect((JSON.parse(on.stdout) as { rows: { name: string }[] }).rows.map((r) => r.name)).toEqual([
      'off01',
    ]);
    const ds = await cli(['inventory', 'esx-b', 'datastores']);
    expect(ds.code, ds.stderr).toBe(0);
    expect(ds.stdout).toMatch(/^ENDPOINT\s+NAME\s+TYPE\s+CAPACITY\s+FREE/m);
    expect(ds.stdout).toMatch(/^esx-b\s+datastore1\s+VMFS\s+\d+\.\d GiB\s+\d+\.\d GiB/m);
  });

  it("lists networks with their type and hosts: a test migration's isolated port groups among them", async () => {
    const esx = await cli(['inventory', 'esx-b', 'networks']);
    expect(esx.code, esx.stderr).toBe(0);
    expect(esx.stdout).toMatch(/^ENDPOINT\s+NAME\s+TYPE\s+VMS\s+HOSTS/m);
    expect(esx.stdout).toMatch(/^esx-b\s+VM Network\s+Network\s+\d+\s+esx-b\.lab/m);
    expect(esx.stdout).toMatch(/^esx-b\s+test-isolated\s+Network\s+0\s+esx-b\.lab/m);
    const vc = await cli(['inventory', 'vcenter', 'networks', '--json']);
    expect(vc.code, vc.stderr).toBe(0);
    const rows = (JSON.parse(vc.stdout) as { rows: { name: string; type: string; hosts: string[] }[] }).rows;
    const dvpg = rows.find((r) => r.name === 'dvpg-test-isolated');
    expect(dvpg?.type).toBe('DistributedVirtualPortgroup');
    // Both hosts on a fresh lab (test-network-vcenter checks the move onto it there); on this shared lab,
    // after the client tests, esx01 was seen to drop it (lab/vcsim/README.md, known differences).
    expect(dvpg?.hosts.length).toBeGreaterThan(0);
    for (const h of dvpg?.hosts ?? []) expect(['esx01.lab', 'esx02.lab']).toContain(h);
  });

  it('refuses an unknown endpoint before any workflow starts, naming the one meant', async () => {
    const run = await cli(['inventory', 'esx-c', 'vms']);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("unknown endpoint 'esx-c' — did you mean 'esx-a'?");
  });
});

describe('endpoint checks (integration)', () => {
  it('shows every endpoint reachable, pinned and logged in', async () => {
    const run = await cli(['endpoints', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const states = JSON.parse(run.stdout) as {
      name: string;
      certificate: string;
      login: string;
      apiVersion: string;
    }[];
    expect(states.map((s) => s.name).sort()).toEqual(['esx-a', 'esx-b', 'vcenter']);
    for (const s of states)
      expect(s).toMatchObject({ certificate: 'pin-match', login: 'ok', apiVersion: expect.any(String) });
  });

  it('flags a wrong password and a wrong certificate pin, at the worker start and in quickmig endpoints', async () => {
    const file = configFile('bad', badQueue, (c) => {
      const a = c.endpoints['esx-a'] as Record<string, unknown>;
      delete a.passwordFile;
      a.password = 'not-the-password';
      (c.endpoints['esx-b'] as Config['endpoints'][string]).tls.thumbprint = endpoint(
        lab,
        'vcenter',
      ).thumbprint;
    });
    const worker = await startWorker(file);
    expect(worker.stderr).toMatch(/warning: endpoint esx-a .*login refused.*fix endpoints\.esx-a\.username/);
    expect(worker.stderr).toMatch(
      /warning: endpoint esx-b .*not the pinned one.*fix endpoints\.esx-b\.tls\.thumbprint/,
    );

    const run = await cli(['endpoints'], badQueue);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^esx-a\s+\S+\s+yes\s+pin-match\s+refused\s/m);
    expect(run.stdout).toMatch(/^esx-b\s+\S+\s+yes\s+pin-mismatch\s+not-tried\s/m);
    expect(run.stdout).toMatch(/^vcenter\s+\S+\s+yes\s+pin-match\s+ok\s/m);
    expect(run.stdout).toContain(`esx-b: presented thumbprint ${endpoint(lab, 'esx-b').thumbprint}`);
    expect(run.stderr).toContain('2 of 3 endpoint(s) have a problem: esx-a, esx-b');
  });

  it('refuses to start a worker whose configuration has an unknown key, or whose every endpoint is refused', async () => {
    const typo = configFile('typo', `ops-typo-${randomUUID().slice(0, 8)}`, (c) => {
      const a = c.endpoints['esx-a'] as Record<string, unknown>;
      a.usernme = a.username;
      delete a.username;
    });
    const run = await runCli(['worker', '--config', typo], env);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      "endpoints.esx-a.usernme: unknown property 'usernme' — did you mean 'username'?",
    );

    const refused = configFile('refused', `ops-refused-${randomUUID().slice(0, 8)}`, (c) => {
      c.endpoints = {
        'esx-a': { ...c.endpoints['esx-a'], passwordFile: undefined, password: 'wrong' },
      } as Config['endpoints'];
    });
    const none = await runCli(['worker', '--config', refused], env);
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/no endpoint of .* can be used:\s+esx-a: login refused/);
  });
});

describe('the dry run (integration)', () => {
  let esxB: VSphereClient;
  let taken: string;

  beforeAll(async () => {
    esxB = await connect(lab, 'esx-b');
    // A folder holding another VM's file, as a source kept by an earlier migration leaves it.
    taken = scratchName('opsa-taken');
    await esxB.files.mkdir(`[datastore1] ${taken}`);
    const body = Buffer.from('config.version = "8"\n');
    await esxB.files.put(`[datastore1] ${taken}/${taken}.vmx`, Readable.from([body]), body.length);
  });

  afterAll(async () => {
    await esxB?.files.delete(`[datastore1] ${taken}`).catch(() => undefined);
    await esxB?.close();
  });

  it('reports a target folder that exists, with the fix, and exits 4', async () => {
    const run = await cli([
      'plan',
      '--vm',
      'esx-a/off01',
      '--to',
      'esx-b',
      '--datastore',
      'datastore1',
      '--name',
      taken,
    ]);
    expect(run.code).toBe(4);
    expect(run.stdout).toContain(
      `error   target-folder-exists (target.name): [datastore1] ${taken} already exists on esx-b`,
    );
    expect(run.stdout).toMatch(/BLOCKED: target-folder-exists/);
    expect(run.stderr).toContain('set target.name to another name');
  });

  it('gives bytes, copy time at a stated rate and downtime per mode, as a Markdown table for a change request', async () => {
    const run = await cli([
      'plan',
      '--vm',
      'esx-a/ir-app01',
      '--to',
      'esx-b',
      '--datastore',
      'datastore1',
      '--format',
      'markdown',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(
      '| VM | TARGET | METHOD | MODE | COPY | EST. COPY TIME | DOWNTIME SMARTSWITCH | DOWNTIME COLD | STATUS |',
    );
    expect(run.stdout).toMatch(
      /\| esx-a\/ir-app01 \| esx-b datastore1 \| quick-migration \| smartswitch \| [\d.]+ [MG]iB \| [\d.]+ s \| [\d.]+ s \* \| (\d+m\d+s|[\d.]+ s) \| ready/,
    );
    expect(run.stdout).toMatch(/Copy times at \d+ MB\/s \(/);
  });

  it('dry-runs the example batch plan: a table with totals', async () => {
    const run = await cli(['plan', '--plan', 'examples/batch-plan.yaml']);
    expect(run.code, run.stderr).toBe(0);
    for (const vm of ['ir-app01', 'big01', 'off01', 'susp01'])
      expect(run.stdout).toMatch(new RegExp(`^esx-a/${vm}\\s+esx-b datastore1\\s+quick-migration`, 'm'));
    expect(run.stdout).toMatch(
      /^TOTAL\s+4 VM\(s\)\s+[\d.]+ GiB\s+[\d.]+ s\s+4 ready, 0 blocked, 0 refused$/m,
    );
    const json = JSON.parse((await cli(['plan', '--plan', 'examples/batch-plan.yaml', '--json'])).stdout) as {
      totals: { vms: number; bytes: number };
      migrations: { plan: { estimate: { bytes: number } } }[];
    };
    expect(json.totals.vms).toBe(4);
    expect(json.totals.bytes).toBe(json.migrations.reduce((s, m) => s + m.plan.estimate.bytes, 0));
  });

  it('refuses an unknown VM with the name meant, and an unknown endpoint before any workflow starts', async () => {
    const vm = await cli(['plan', '--vm', 'esx-a/ir-ap01', '--to', 'esx-b', '--datastore', 'datastore1']);
    expect(vm.code).toBe(3);
    expect(vm.stderr).toContain("no VM 'ir-ap01' on esx-a; did you mean 'ir-app01'?");
    const ep = await cli([
      'migrate',
      '--vm',
      'esx-a/ir-app01',
      '--to',
      'esx-bb',
      '--datastore',
      'datastore1',
      '--detach',
    ]);
    expect(ep.code).toBe(3);
    expect(ep.stderr).toContain("target.endpoint: unknown endpoint 'esx-bb' — did you mean 'esx-b'?");
  });
});
