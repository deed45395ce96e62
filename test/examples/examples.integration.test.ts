/**
 * Every file in examples/ against the lab on its default topology (lab/topology.json, realistic profile):
 * each request is planned through a worker as `quickmig plan FILE` does, and then run for real, with
 * what a user would check afterwards (power state, where the VM and its files are, bytes). The pure
 * planner tests (test/planner/examples.test.ts) use hand-written facts; this file proves the examples
 * on the simulator.
 *
 * Migrations that do not touch the same VM share a lab and run concurrently. Four examples start with
 * ir-app01 running from IR-NFS, so three of them get a lab of their own, each holding only the endpoints
 * it uses, copied from the default topology. web01's three examples run in turn on the first lab, each
 * vMotion example moved back (one more relocation) so the next starts where the topology puts web01.
 * The longest parts are the forced SmartSwitch of web01 (4 GiB of memory: the .vmss written at 400 MB/s,
 * copied and read back; with the two vMotions before it, 184 s on 2 busy cores), the batch (148 s: big01's
 * 20 s guest shutdown and 40 s boot, susp01's 1 GiB suspend state) and the 512 MiB SmartSwitches of
 * ir-app01 from the 100 MB/s IR-NFS (121-135 s each, run side by side); the whole file took 209 s with
 * the machine's load average about 10.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFrom, requestFrom } from '../../src/cli/request';
import { QuickmigClient } from '../../src/client/migrations';
import type { LabInfo } from '../../src/lab/lab';
import type { Topology } from '../../src/lab/topology';
import { DEFAULT_TOPOLOGY } from '../../src/lab/topology';
import type { MigrationPlan } from '../../src/planner/plan';
import type { MigrationRequest, MigrationRequestInput } from '../../src/request/request';
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import type { MigrationResult } from '../../src/workflows/definitions';
import { controlOf, startPrivateLab, stopPrivateLab } from '../support/lab';
import type { LabWorker } from '../support/lab-worker';
import { startLabWorker } from '../support/lab-worker';
import { connect } from '../vsphere/helpers';

const examplesDir = fileURLToPath(new URL('../../examples/', import.meta.url));
const requestFiles = readdirSync(examplesDir).filter((f) => f.endsWith('.json'));
const BATCH = 'batch-plan.yaml';

/** What each example plans to on the default lab; a new example without a row fails the first test. */
const expectedPlans: Record<string, Pick<MigrationPlan, 'method' | 'relocation' | 'mode'>> = {
  'vmotion.json': { method: 'vmotion', relocation: 'host', mode: null },
  'storage-vmotion.json': { method: 'vmotion', relocation: 'datastore', mode: null },
  'vmotion-and-storage-vmotion.json': { method: 'vmotion', relocation: 'host+datastore', mode: null },
  'instant-recovery-vcenter.json': { method: 'vmotion', relocation: 'datastore', mode: null },
  'forced-quick-migration-vcenter.json': {
    method: 'quick-migration',
    relocation: 'host+datastore',
    mode: 'smartswitch',
  },
  'quick-migration-smartswitch.json': {
    method: 'quick-migration',
    relocation: 'host+datastore',
    mode: 'smartswitch',
  },
  'quick-migration-cold.json': { method: 'quick-migration', relocation: 'host+datastore', mode: 'cold' },
  'powered-off.json': { method: 'quick-migration', relocation: 'host+datastore', mode: 'cold' },
  'instant-recovery-finalize.json': {
    method: 'quick-migration',
    relocation: 'datastore',
    mode: 'smartswitch',
  },
  'warm-migration-window.json': {
    method: 'quick-migration',
    relocation: 'host+datastore',
    mode: 'smartswitch',
  },
  'test-migration.json': { method: 'quick-migration', relocation: 'host+datastore', mode: 'smartswitch' },
};

/** The batch's entries: VM, mode, and the power state it ends in. */
const expectedBatch = [
  { vm: 'ir-app01', mode: 'smartswitch', power: 'poweredOn' },
  { vm: 'big01', mode: 'cold', power: 'poweredOn' },
  { vm: 'off01', mode: 'cold', power: 'poweredOff' },
  { vm: 'susp01', mode: 'cold', power: 'suspended' },
] as const;

/** An example request as `quickmig plan|migrate FILE` reads it. */
function example(file: string): MigrationRequest {
  return requestFrom(join(examplesDir, file), {});
}

/** A lab with a worker, a client as the CLI has it, and vSphere clients for the checks. */
interface ExampleLab {
  info: LabInfo;
  worker: LabWorker;
  quickmig: QuickmigClient;
  vsphere: Record<string, VSphereClient>;
}

const labs: ExampleLab[] = [];

/**
 * The default topology with only the named endpoints (all of them when none is named), so a lab that
 * serves one example holds the same hosts, datastores and VMs as lab/topology.json and nothing else.
 */
function topologyWith(endpoints: readonly string[]): string {
  const topology = JSON.parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Topology;
  topology.endpoints = topology.endpoints.filter((e) => endpoints.includes(e.name));
  const file = join(mkdtempSync(join(tmpdir(), 'quickmig-examples-')), 'topology.json');
  writeFileSync(file, JSON.stringify(topology));
  return file;
}

async function startExampleLab(name: string, endpoints?: readonly string[]): Promise<ExampleLab> {
  const info = await startPrivateLab(name, endpoints ? topologyWith(endpoints) : undefined);
  const worker = await startLabWorker(info, { queuePrefix: `quickmig-${name}` });
  const lab: ExampleLab = {
    info,
    worker,
    quickmig: new QuickmigClient(worker.client, { taskQueue: worker.taskQueue }),
    vsphere: {},
  };
  labs.push(lab);
  for (const ep of info.endpoints) lab.vsphere[ep.name] = await connect(info, ep.name);
  return lab;
}

afterAll(async () => {
  await Promise.all(
    labs.map(async (lab) => {
      await Promise.all(Object.values(lab.vsphere).map((c) => c.close()));
      await lab.worker.stop();
      await stopPrivateLab(lab.info.dir);
    }),
  );
});

/** Plans, starts and waits for one migration; a manual or held switchover is approved, as its user would. */
async function migrate(lab: ExampleLab, request: MigrationRequestInput): Promise<MigrationResult> {
  const started = await lab.quickmig.start(request);
  for (;;) {
    const summary = await lab.quickmig.summary(started.id);
    if (summary.status !== 'RUNNING') break;
    const progress = await lab.quickmig.progress(started.id);
    if (progress.awaitingApproval) await lab.quickmig.approve(started.id);
    await new Promise((r) => setTimeout(r, 2000));
  }
  return lab.quickmig.result(started.id);
}

/** A VM by name on an endpoint, with its facts; undefined when the inventory has none. */
async function vmNamed(lab: ExampleLab, endpoint: string, name: string): Promise<VmFacts | undefined> {
  const client = lab.vsphere[endpoint] as VSphereClient;
  const vm = (await client.inventory.listVms()).find((v) => v.name === name);
  return vm ? client.facts.vm(vm.ref) : undefined;
}

/** Where a VM is, as the vSphere client shows it: host name, the .vmx's datastore, each disk's datastore. */
async function placement(lab: ExampleLab, endpoint: string, vm: VmFacts) {
  const client = lab.vsphere[endpoint] as VSphereClient;
  const hosts = await client.inventory.listHosts();
  const datastoreOf = (path: string | undefined) => /^\[([^\]]+)\]/.exec(path ?? '')?.[1];
  return {
    host: hosts.find((h) => h.ref.value === vm.host?.value)?.name,
    home: datastoreOf(vm.vmxPath),
    disks: vm.disks.map((d) => `${d.label}: ${datastoreOf(d.chain[0]?.fileName)}`),
  };
}

/** Names of the datastores an endpoint's host mounts (its only host, or the one named). */
async function mountedOn(lab: ExampleLab, endpoint: string, hostName?: string): Promise<string[]> {
  const client = lab.vsphere[endpoint] as VSphereClient;
  const hosts = await client.inventory.listHosts();
  const host = hosts.find((h) => hostName === undefined || h.name === hostName) ?? hosts[0];
  const facts = await client.facts.host(host?.ref as NonNullable<typeof host>['ref']);
  return (await client.facts.datastores(facts.datastores)).map((d) => d.name);
}

/** The local folder behind a datastore of a lab. */
function datastoreDir(lab: ExampleLab, endpoint: string, datastore: string): string {
  if (datastore === 'IR-NFS') return join(lab.info.dir, 'nfs', 'vpower-nfs');
  return join(lab.info.dir, 'datastores', endpoint, datastore);
}

/** The guest write rate lab/topology.json gives a VM, bytes/s (0: its guest does not write). */
function guestRateOf(endpoint: string, vm: string): number {
  const topology = JSON.parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Topology;
  const spec = topology.endpoints.find((e) => e.name === endpoint)?.vms?.find((v) => v.name === vm);
  return spec?.guestWriteBytesPerSec ?? 0;
}

const BLOCK = 4096;

/** How many 4 KiB blocks differ between two files of the same size. */
async function differingBlocks(a: string, b: string): Promise<number> {
  const chunk = 1 << 20;
  const fa = await open(a);
  const fb = await open(b);
  try {
    const size = (await fa.stat()).size;
    expect((await fb.stat()).size).toBe(size);
    const ba = Buffer.alloc(chunk);
    const bb = Buffer.alloc(chunk);
    let differing = 0;
    for (let at = 0; at < size; at += chunk) {
      const { bytesRead } = await fa.read(ba, 0, chunk, at);
      await fb.read(bb, 0, chunk, at);
      for (let o = 0; o < bytesRead; o += BLOCK)
        if (ba.compare(bb, o, Math.min(o + BLOCK, bytesRead), o, Math.min(o + BLOCK, bytesRead)) !== 0)
          differing++;
    }
    return differing;
  } finally {
    await fa.close();
    await fb.close();
  }
}

/**
 * The bytes of a Quick Migration. Every file it copied is verified (SHA-256 of source = target), and
 * when the source was kept, the target's disk is compared with the kept source's block by block: both
 * hold the disk as it was when the source stopped, except for what the target's own guest wrote since it
 * started. So the target's guest writes are stopped first, and at most the blocks it could have written
 * since its power-on (rate × time, from the simulator's call log) may differ; a VM without a writing
 * guest must be equal byte for byte.
 */
async function checkQuickMigrationBytes(
  lab: ExampleLab,
  result: MigrationResult,
  source: { endpoint: string; datastore: string; vm: string },
): Promise<void> {
  expect(result.verified.length).toBeGreaterThan(0);
  for (const f of result.verified) expect(f.sha256Target, f.target).toBe(f.sha256Source);
  const name = result.target.name;
  const targetFlat = join(
    datastoreDir(lab, result.target.endpoint, result.target.datastores[0] as string),
    name,
    `${name}-flat.vmdk`,
  );
  expect(existsSync(targetFlat), targetFlat).toBe(true);
  if (result.source.action !== 'kept') return;
  const sourceFlat = join(datastoreDir(lab, source.endpoint, source.datastore), name, `${name}-flat.vmdk`);
  const rate = guestRateOf(source.endpoint, source.vm);
  let mayDiffer = 0;
  if (rate > 0 && result.target.powerState === 'poweredOn') {
    const control = controlOf(lab.info, result.target.endpoint);
    await control.setGuestRate(result.target.moref, 0);
    const frozenAt = Date.now();
    const started = (await control.calls())
      .filter((c) => c.method === 'PowerOnVM_Task' && c.object === result.target.moref && c.ok)
      .map((c) => Date.parse(c.time));
    expect(started.length, `a power-on of ${result.target.moref} in the call log`).toBeGreaterThan(0);
    // One more writer tick's worth after the rate change, as the simulator's writer ends its tick.
    mayDiffer = Math.ceil((rate * ((frozenAt - Math.min(...started)) / 1000 + 1)) / BLOCK);
  }
  const differing = await differingBlocks(targetFlat, sourceFlat);
  expect(differing).toBeLessThanOrEqual(mayDiffer);
}

let main: ExampleLab;

beforeAll(async () => {
  main = await startExampleLab('examples');
});

describe('examples/ plan on the lab through a worker, as quickmig plan does', () => {
  it('every example request has an expectation', () => {
    expect([...requestFiles].sort()).toEqual(Object.keys(expectedPlans).sort());
  });

  it.each(requestFiles)('%s', async (file) => {
    const request = example(file);
    if (file === 'warm-migration-window.json') {
      // The example's window is a fixed night; planned after it closed, the plan says so.
      const stale = await main.quickmig.plan(request);
      expect(stale.blocked).toBe(true);
      expect(stale.findings.map((f) => f.code)).toEqual(['window-passed']);
      request.options.window = windowFromNow(request);
    }
    const plan = await main.quickmig.plan(request);
    expect(plan.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(plan.blocked).toBe(false);
    expect({ method: plan.method, relocation: plan.relocation, mode: plan.mode }).toEqual(
      expectedPlans[file],
    );
  });

  it(`${BATCH}: each entry plans as its comment says`, async () => {
    const batch = planFrom(join(examplesDir, BATCH));
    expect(batch.migrations.map((m) => m.source.name)).toEqual(expectedBatch.map((e) => e.vm));
    const plans = await Promise.all(batch.migrations.map((m) => main.quickmig.plan(m)));
    expect(plans.map((p) => p.blocked)).toEqual([false, false, false, false]);
    expect(plans.map((p) => p.mode)).toEqual(expectedBatch.map((e) => e.mode));
    expect(plans.find((p) => p.vm === 'big01')?.reasons.map((r) => r.rule)).toContain('R5-cold-memory');
  });
});

/**
 * The warm example's window, moved to open a little after now and keep its length: a fixed date passes,
 * and a test that ran it as written could only show the refusal (checked above).
 */
function windowFromNow(
  request: MigrationRequest,
  opensInMs = 40_000,
): NonNullable<MigrationRequest['options']['window']> {
  const window = request.options.window;
  if (!window?.notBefore || !window.notAfter)
    throw new Error('the warm example names a window with both ends');
  const length = Date.parse(window.notAfter) - Date.parse(window.notBefore);
  const notBefore = new Date(Date.now() + opensInMs);
  return {
    ...window,
    notBefore: notBefore.toISOString(),
    notAfter: new Date(notBefore.getTime() + length).toISOString(),
  };
}

// Generous: the realistic profile's guest times and memory-sized suspend states, on 2 busy cores.
describe.concurrent('examples/ run on the lab', { timeout: 20 * 60_000 }, () => {
  it('vmotion.json, storage-vmotion.json, forced-quick-migration-vcenter.json: web01 in turn', async () => {
    const back = { source: { endpoint: 'vcenter', name: 'web01' } };

    const vmotion = await migrate(main, example('vmotion.json'));
    expect(vmotion).toMatchObject({ method: 'vmotion', relocation: 'host', downtimeMs: null });
    let web01 = await vmNamed(main, 'vcenter', 'web01');
    expect(web01?.powerState).toBe('poweredOn');
    expect(await placement(main, 'vcenter', web01 as VmFacts)).toEqual({
      host: 'esx02.lab',
      home: 'shared-ds',
      disks: ['Hard disk 1: shared-ds'],
    });
    // Back to esx01, where the next example expects web01.
    await migrate(main, {
      ...back,
      target: { endpoint: 'vcenter', host: 'esx01.lab', datastore: 'shared-ds' },
    });

    const svmotion = await migrate(main, example('storage-vmotion.json'));
    expect(svmotion).toMatchObject({ method: 'vmotion', relocation: 'datastore' });
    web01 = await vmNamed(main, 'vcenter', 'web01');
    expect(web01?.powerState).toBe('poweredOn');
    expect(await placement(main, 'vcenter', web01 as VmFacts)).toEqual({
      host: 'esx01.lab',
      home: 'local-esx01',
      disks: ['Hard disk 1: local-esx01'],
    });
    // The files moved: the disk is on local-esx01, and shared-ds no longer holds web01.
    expect(existsSync(join(datastoreDir(main, 'vcenter', 'local-esx01'), 'web01', 'web01-flat.vmdk'))).toBe(
      true,
    );
    expect(existsSync(join(datastoreDir(main, 'vcenter', 'shared-ds'), 'web01'))).toBe(false);
    await migrate(main, {
      ...back,
      target: { endpoint: 'vcenter', host: 'esx01.lab', datastore: 'shared-ds' },
    });

    // A Quick Migration inside one vCenter, SmartSwitch with 4 GiB of memory, approved by hand.
    const forced = await migrate(main, example('forced-quick-migration-vcenter.json'));
    expect(forced).toMatchObject({
      method: 'quick-migration',
      mode: 'smartswitch',
      relocation: 'host+datastore',
    });
    expect(forced.switchover?.stop).toBe('suspend');
    expect(forced.downtimeMs).toBeGreaterThan(0);
    expect(forced.verified.some((f) => f.source.endsWith('.vmss'))).toBe(true);
    web01 = await vmNamed(main, 'vcenter', 'web01');
    expect(web01?.powerState).toBe('poweredOn');
    expect(web01?.snapshots).toEqual([]);
    expect(await placement(main, 'vcenter', web01 as VmFacts)).toEqual({
      host: 'esx02.lab',
      home: 'local-esx02',
      disks: ['Hard disk 1: local-esx02'],
    });
    expect(forced.source).toMatchObject({ action: 'kept', name: 'web01_migrated' });
    await checkQuickMigrationBytes(main, forced, {
      endpoint: 'vcenter',
      datastore: 'shared-ds',
      vm: 'web01',
    });
  });

  it('vmotion-and-storage-vmotion.json: db01 to esx01, its two disks placed apart', async () => {
    const result = await migrate(main, example('vmotion-and-storage-vmotion.json'));
    expect(result).toMatchObject({ method: 'vmotion', relocation: 'host+datastore', downtimeMs: null });
    const db01 = await vmNamed(main, 'vcenter', 'db01');
    expect(db01?.powerState).toBe('poweredOn');
    expect(await placement(main, 'vcenter', db01 as VmFacts)).toEqual({
      host: 'esx01.lab',
      home: 'shared-ds',
      disks: ['Hard disk 1: shared-ds', 'Hard disk 2: local-esx01'],
    });
    // Each disk's extent, 64 and 32 MiB, is where the inventory says.
    const extent = (ds: string, file: string) => join(datastoreDir(main, 'vcenter', ds), 'db01', file);
    const disk1 = db01?.disks[0]?.chain[0]?.fileName
      .replace(/^\[[^\]]+\] db01\//, '')
      .replace('.vmdk', '-flat.vmdk');
    const disk2 = db01?.disks[1]?.chain[0]?.fileName
      .replace(/^\[[^\]]+\] db01\//, '')
      .replace('.vmdk', '-flat.vmdk');
    expect(readFileSync(extent('shared-ds', disk1 as string)).length).toBe(64 << 20);
    expect(readFileSync(extent('local-esx01', disk2 as string)).length).toBe(32 << 20);
  });

  it('instant-recovery-vcenter.json: ir-vc01 off IR-NFS by Storage vMotion, then IR-NFS unmounted', async () => {
    const result = await migrate(main, example('instant-recovery-vcenter.json'));
    expect(result).toMatchObject({ method: 'vmotion', relocation: 'datastore' });
    expect(result.instantRecovery).toEqual({ datastore: 'IR-NFS', unmounted: true, usedBy: [] });
    const vm = await vmNamed(main, 'vcenter', 'ir-vc01');
    expect(vm?.powerState).toBe('poweredOn');
    expect(await placement(main, 'vcenter', vm as VmFacts)).toMatchObject({
      home: 'shared-ds',
      disks: ['Hard disk 1: shared-ds'],
    });
    expect(await mountedOn(main, 'vcenter', 'esx01.lab')).not.toContain('IR-NFS');
    expect(await mountedOn(main, 'vcenter', 'esx02.lab')).not.toContain('IR-NFS');
  });

  it(`${BATCH}: esx-a's four VMs to esx-b, at most two at a time`, async () => {
    const started = await main.quickmig.startBatch(planFrom(join(examplesDir, BATCH)));
    const batch = await main.quickmig.batchResult(started.id);
    expect(batch.counts).toMatchObject({ total: 4, succeeded: 4, failed: 0 });
    expect(batch.maxRunning.global).toBeLessThanOrEqual(2);
    for (const entry of expectedBatch) {
      const vm = batch.vms.find((v) => v.vm === `esx-a/${entry.vm}`);
      expect(vm, entry.vm).toMatchObject({ state: 'succeeded', mode: entry.mode });
      const target = await vmNamed(main, 'esx-b', entry.vm);
      expect(target?.powerState, entry.vm).toBe(entry.power);
      expect(await placement(main, 'esx-b', target as VmFacts)).toMatchObject({ home: 'datastore1' });
      expect(await vmNamed(main, 'esx-a', entry.vm), entry.vm).toBeUndefined();
    }
    // ir-app01 was the last VM on IR-NFS: finalizeInstantRecovery unmounted it from esx-a.
    expect(await mountedOn(main, 'esx-a')).not.toContain('IR-NFS');
    // The suspended VM resumes on esx-b with its own memory state.
    expect(
      readdirSync(join(datastoreDir(main, 'esx-b', 'datastore1'), 'susp01')).some((f) => f.endsWith('.vmss')),
    ).toBe(true);
  });

  it('quick-migration-smartswitch.json, quick-migration-cold.json, powered-off.json: on a lab of their own', async () => {
    const lab = await startExampleLab('examples-qm', ['esx-a', 'esx-b']);
    const [smart, cold, off] = await Promise.all(
      ['quick-migration-smartswitch.json', 'quick-migration-cold.json', 'powered-off.json'].map((f) =>
        migrate(lab, example(f)),
      ),
    );
    const smartResult = smart as MigrationResult;
    expect(smartResult).toMatchObject({
      mode: 'smartswitch',
      target: { endpoint: 'esx-b', powerState: 'poweredOn' },
    });
    expect(smartResult.switchover?.stop).toBe('suspend');
    // Without finalizeInstantRecovery, IR-NFS stays mounted on esx-a.
    expect(smartResult.instantRecovery).toBeNull();
    expect(await mountedOn(lab, 'esx-a')).toContain('IR-NFS');
    expect((await vmNamed(lab, 'esx-b', 'ir-app01'))?.powerState).toBe('poweredOn');
    await checkQuickMigrationBytes(lab, smartResult, {
      endpoint: 'esx-a',
      datastore: 'IR-NFS',
      vm: 'ir-app01',
    });

    const coldResult = cold as MigrationResult;
    expect(coldResult).toMatchObject({
      mode: 'cold',
      target: { endpoint: 'esx-b', powerState: 'poweredOn' },
    });
    expect(coldResult.switchover?.stop).toBe('guest-shutdown');
    expect(coldResult.switchover?.hardware?.upgraded).toBe(true);
    const big01 = await vmNamed(lab, 'esx-b', 'big01');
    expect(big01?.powerState).toBe('poweredOn');
    // Not checked: the example's diskType thin. The request model accepts options.diskType, but no
    // activity applies it yet (neither RelocateVM_Task nor the Quick Migration copy), so the disk stays
    // as the source had it.
    await checkQuickMigrationBytes(lab, coldResult, {
      endpoint: 'esx-a',
      datastore: 'datastore1',
      vm: 'big01',
    });

    const offResult = off as MigrationResult;
    expect(offResult).toMatchObject({ mode: 'cold', downtimeMs: null });
    expect((await vmNamed(lab, 'esx-b', 'off01'))?.powerState).toBe('poweredOff');
    await checkQuickMigrationBytes(lab, offResult, {
      endpoint: 'esx-a',
      datastore: 'datastore1',
      vm: 'off01',
    });
  });

  it('instant-recovery-finalize.json: ir-app01 off IR-NFS onto esx-a datastore1, source deleted', async () => {
    const lab = await startExampleLab('examples-ir', ['esx-a']);
    const result = await migrate(lab, example('instant-recovery-finalize.json'));
    expect(result).toMatchObject({ method: 'quick-migration', mode: 'smartswitch', relocation: 'datastore' });
    expect(result.source).toMatchObject({ action: 'deleted' });
    expect(result.instantRecovery).toEqual({ datastore: 'IR-NFS', unmounted: true, usedBy: [] });
    const vm = await vmNamed(lab, 'esx-a', 'ir-app01');
    expect(vm?.powerState).toBe('poweredOn');
    expect(vm?.snapshots).toEqual([]);
    expect(await placement(lab, 'esx-a', vm as VmFacts)).toMatchObject({
      home: 'datastore1',
      disks: ['Hard disk 1: datastore1'],
    });
    expect(await mountedOn(lab, 'esx-a')).not.toContain('IR-NFS');
    expect(existsSync(join(datastoreDir(lab, 'esx-a', 'IR-NFS'), 'ir-app01'))).toBe(false);
    await checkQuickMigrationBytes(lab, result, { endpoint: 'esx-a', datastore: 'IR-NFS', vm: 'ir-app01' });
  });

  it('warm-migration-window.json: pre-copies, waits for its window (moved to open 40 s from now), then switches over', async () => {
    const lab = await startExampleLab('examples-warm', ['esx-a', 'esx-b']);
    const request = example('warm-migration-window.json');
    request.options.window = windowFromNow(request);
    const opens = Date.parse(request.options.window.notBefore as string);
    const result = await migrate(lab, request);
    expect(result).toMatchObject({
      mode: 'smartswitch',
      target: { endpoint: 'esx-b', powerState: 'poweredOn' },
    });
    expect(result.precopy?.rounds.length).toBeGreaterThan(0);
    // The source stopped inside the window: the simulator logged the suspend after the window opened.
    const suspend = (await controlOf(lab.info, 'esx-a').calls()).find((c) => c.method === 'SuspendVM_Task');
    expect(suspend).toBeDefined();
    expect(Date.parse(suspend?.time as string)).toBeGreaterThanOrEqual(opens);
    expect((await vmNamed(lab, 'esx-b', 'ir-app01'))?.powerState).toBe('poweredOn');
    await checkQuickMigrationBytes(lab, result, { endpoint: 'esx-a', datastore: 'IR-NFS', vm: 'ir-app01' });
  });
});
