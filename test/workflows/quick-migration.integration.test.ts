/**
 * The quickMigration workflow end to end on a lab of its own: a real Temporal server, a real worker
 * (createWorkers, as `quickmig worker` runs it) and simulated endpoints whose files are read back
 * byte for byte. Each test checks what an operator would: bytes, inventory, power states.
 */

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import { ensureTemporal, projectRoot } from '../../src/lab/tools';
import type { Topology } from '../../src/lab/topology';
import { DEFAULT_TOPOLOGY } from '../../src/lab/topology';
import type { MigrationRequestInput } from '../../src/request/request';
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import type { MigrationResult } from '../../src/workflows/definitions';
import { approveSwitchoverUpdate, progressQuery } from '../../src/workflows/definitions';
import { quickMigration } from '../../src/workflows/quick-migration';
import { HistoryRecorder } from '../support/histories';
import { controlOf, startPrivateLab, stopPrivateLab } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { startWorker } from '../support/worker';
import { connect } from '../vsphere/helpers';

let lab: LabInfo;
let worker: TestWorker;

/** The migrations run at once share the machine, so each gets the time they take together. */
const CONCURRENT_TIMEOUT_MS = 900_000;
const clients: Record<string, VSphereClient> = {};

/**
 * The default estate plus what these tests need: `esx-c`, a standalone host with AMD CPUs (CPU-
 * incompatible with esx-a), a second VM on esx-a's instant-recovery datastore, and a small running VM
 * (`app03`, 256 MiB of memory) that the failure tests migrate again and again.
 */
function testTopology(): string {
  const topology = JSON.parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Topology;
  const esxA = topology.endpoints.find((e) => e.name === 'esx-a') as Topology['endpoints'][number];
  esxA.vms?.push(
    {
      name: 'shared01',
      host: 'esx-a.lab',
      datastore: 'datastore1',
      memoryMiB: 1024,
      power: 'poweredOn',
      scsiBusSharing: 'physical',
      disks: [{ sizeMiB: 4 }],
    },
    {
      name: 'ir-app02',
      host: 'esx-a.lab',
      datastore: 'IR-NFS',
      memoryMiB: 1024,
      power: 'poweredOn',
      disks: [{ sizeMiB: 16 }],
      guestWriteBytesPerSec: 16384,
    },
    {
      name: 'app03',
      host: 'esx-a.lab',
      datastore: 'datastore1',
      // Small memory: its suspend state is copied at each failure case, and no case depends on its size.
      memoryMiB: 256,
      power: 'poweredOn',
      disks: [{ sizeMiB: 24 }, { sizeMiB: 8 }],
      guestWriteBytesPerSec: 65536,
    },
  );
  // db01's forced Quick Migration checks paths, not memory: a smaller suspend state keeps the
  // concurrent cases' copies short (the lab's rates are unchanged).
  const vcenter = topology.endpoints.find((e) => e.name === 'vcenter') as Topology['endpoints'][number];
  const db01 = vcenter.vms?.find((v) => v.name === 'db01');
  if (!db01) throw new Error('the default topology has no db01 on the vcenter');
  db01.memoryMiB = 1024;
  topology.endpoints.push({
    name: 'esx-c',
    kind: 'esx',
    datastores: [{ name: 'datastore1', type: 'vmfs', capacityGiB: 100 }],
    hosts: [{ name: 'esx-c.lab', cpu: 'amd-milan', datastores: ['datastore1'] }],
  });
  const file = join(mkdtempSync(join(tmpdir(), 'quickmig-topology-')), 'topology.json');
  writeFileSync(file, JSON.stringify(topology));
  return file;
}

beforeAll(async () => {
  lab = await startPrivateLab('workflows', testTopology());
  worker = await startWorker(lab);
  for (const name of ['vcenter', 'esx-a', 'esx-b', 'esx-c']) clients[name] = await connect(lab, name);
});

afterAll(async () => {
  await histories.record();
  await Promise.all(Object.values(clients).map((c) => c.close()));
  await worker?.stop();
  if (lab) await stopPrivateLab(lab.dir);
});

const run = promisify(execFile);
const client = (name: string) => clients[name] as VSphereClient;

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The local folder behind a datastore of the lab. */
function datastoreDir(endpoint: string, datastore: string): string {
  if (datastore === 'IR-NFS') return join(lab.dir, 'nfs', 'vpower-nfs');
  return join(lab.dir, 'datastores', endpoint, datastore);
}

async function vmNamed(endpoint: string, name: string): Promise<VmFacts | undefined> {
  const vm = (await client(endpoint).inventory.listVms()).find((v) => v.name === name);
  return vm ? client(endpoint).facts.vm(vm.ref) : undefined;
}

/** Names of the datastores a host mounts (the endpoint's only host when none is named). */
async function mountedOn(endpoint: string, hostName?: string): Promise<string[]> {
  const hosts = await client(endpoint).inventory.listHosts();
  const host = hosts.find((h) => hostName === undefined || h.name === hostName) ?? hosts[0];
  const facts = await client(endpoint).facts.host(host?.ref as NonNullable<typeof host>['ref']);
  return (await client(endpoint).facts.datastores(facts.datastores)).map((d) => d.name);
}

const histories = new HistoryRecorder();

async function start(request: MigrationRequestInput, id: string) {
  const handle = await worker.client.workflow.start(quickMigration, {
    taskQueue: worker.taskQueue,
    workflowId: `${id}-${Date.now()}`,
    args: [request],
  });
  histories.add(id, handle);
  return handle;
}

describe('quickMigration (integration)', () => {
  // First the cases that inject faults or count an endpoint's calls: a fault rule (or a call) of one
  // migration must not meet another's, so these run one after another.
  it('Cold for more than 8 GiB: a failure at power-on on the target rolls back; the source runs again, untouched', async () => {
    await controlOf(lab, 'esx-b').addFault({
      kind: 'soap',
      method: 'PowerOnVM_Task',
      fault: 'InsufficientResourcesFault',
      count: 1,
    });
    const handle = await start(
      {
        source: { endpoint: 'esx-a', name: 'big01' },
        target: { endpoint: 'esx-b', datastore: 'datastore1' },
      },
      'cold-big01-fails',
    );
    const failure = await handle.result().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const message = String((failure as WorkflowFailedError).cause?.message);
    expect(message).toContain('failed at step start');
    expect(message).toMatch(
      /Rolled back: unregistered the target VM .*; restored the source to poweredOn; removed the migration snapshot from the source; deleted the target folders \[datastore1\] big01/,
    );

    const source = await vmNamed('esx-a', 'big01');
    expect(source?.powerState).toBe('poweredOn');
    expect(source?.snapshots).toEqual([]);
    expect(source?.disks.map((d) => d.chain.length)).toEqual([1]);
    expect(
      (await client('esx-b').inventory.listVms()).map((v) => v.name).filter((n) => n.startsWith('big01')),
    ).toEqual([]);
    expect(existsSync(join(datastoreDir('esx-b', 'datastore1'), 'big01'))).toBe(false);
    await controlOf(lab, 'esx-b').clearFaults();
  });

  it('a clustered VM (SCSI bus sharing) is refused by preflight before any change, naming the fix', async () => {
    const controls = ['esx-a', 'esx-b'].map((name) => controlOf(lab, name));
    const before = await Promise.all(controls.map(async (c) => (await c.calls()).length));
    const failure = await (
      await start(
        {
          source: { endpoint: 'esx-a', name: 'shared01' },
          target: { endpoint: 'esx-b', datastore: 'datastore1' },
        },
        'shared01',
      )
    )
      .result()
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    // The workflow's failure is typed as the activity's error (PreflightBlockedError), permanent, with
    // the finding and its fix.
    const refusal = (failure as WorkflowFailedError).cause as Error & {
      type?: string;
      nonRetryable?: boolean;
    };
    expect(refusal.type).toBe('PreflightBlockedError');
    expect(refusal.nonRetryable).toBe(true);
    expect(refusal.message).toMatch(/physicalSharing \(clustered VM\); remove the bus sharing/);
    expect(await Promise.all(controls.map(async (c) => (await c.calls()).length))).toEqual(before);
    expect((await vmNamed('esx-a', 'shared01'))?.powerState).toBe('poweredOn');
  });

  // A failure at each step of a Quick Migration: the fault a real host or network would produce there.
  const failures = [
    {
      step: 'make-folders',
      endpoint: 'esx-b',
      rule: { kind: 'soap', method: 'MakeDirectory', fault: 'NoPermission', count: 1 },
    },
    {
      step: 'snapshot',
      endpoint: 'esx-a',
      rule: { kind: 'soap', method: 'CreateSnapshot_Task', fault: 'InvalidArgument', count: 1 },
    },
    {
      step: 'bulk-copy',
      endpoint: 'esx-b',
      rule: { kind: 'http-status', method: 'PUT', path: 'app03-flat.vmdk', status: 507, count: 1 },
    },
    {
      step: 'suspend',
      endpoint: 'esx-a',
      rule: { kind: 'soap', method: 'SuspendVM_Task', fault: 'InvalidArgument', count: 1 },
    },
    {
      step: 'delta-copy',
      endpoint: 'esx-b',
      rule: { kind: 'http-status', method: 'PUT', path: 'app03.vmx', status: 507, count: 1 },
    },
    {
      step: 'register-target',
      endpoint: 'esx-b',
      rule: { kind: 'soap', method: 'RegisterVM_Task', fault: 'NoPermission', count: 1 },
    },
    {
      step: 'resume',
      endpoint: 'esx-b',
      rule: { kind: 'soap', method: 'PowerOnVM_Task', fault: 'InsufficientResourcesFault', count: 1 },
    },
  ] as const;
  it.each(failures)(
    'a failure at step $step leaves the source running as it was and the target clean',
    async ({ step, endpoint, rule }) => {
      const before = await vmNamed('esx-a', 'app03');
      await controlOf(lab, endpoint).addFault(rule);
      try {
        const handle = await start(
          {
            source: { endpoint: 'esx-a', name: 'app03' },
            target: { endpoint: 'esx-b', datastore: 'datastore1' },
          },
          `fail-${step}`,
        );
        const failure = await handle.result().catch((e: unknown) => e);
        expect(failure).toBeInstanceOf(WorkflowFailedError);
        expect(String((failure as WorkflowFailedError).cause?.message)).toContain(`failed at step ${step}:`);
        // The step is the plan's, and the steps this table fails at come in the plan's order.
        const planned = (await handle.query(progressQuery)).plan?.steps ?? [];
        const table = failures.map((f) => f.step as string);
        expect(planned.filter((s) => table.includes(s))).toEqual(table);
      } finally {
        await controlOf(lab, endpoint).clearFaults();
      }
      const after = await vmNamed('esx-a', 'app03');
      expect(after?.powerState).toBe('poweredOn');
      expect(after?.snapshots).toEqual([]);
      expect(after?.disks.map((d) => d.chain.map((b) => b.fileName))).toEqual(
        before?.disks.map((d) => d.chain.map((b) => b.fileName)),
      );
      expect(
        (await client('esx-b').inventory.listVms()).map((v) => v.name).filter((n) => n.startsWith('app03')),
      ).toEqual([]);
      expect(existsSync(join(datastoreDir('esx-b', 'datastore1'), 'app03'))).toBe(false);
    },
  );
  // Then migrations of distinct VMs that inject nothing run at once, as an operator's batch would: most
  // of their time is the lab's guest shutdowns, boots and paced copies, which overlap. They share the
  // machine with each other, so each may take as long as all of them.
  it.concurrent(
    'SmartSwitch: an instant-recovery VM moves from esx-a to esx-b while its guest writes, byte for byte',
    async ({ expect }) => {
      const handle = await start(
        {
          source: { endpoint: 'esx-a', name: 'ir-app01' },
          target: { endpoint: 'esx-b', datastore: 'datastore1' },
          options: { switchover: 'manual', finalizeInstantRecovery: true },
        },
        'smartswitch-ir-app01',
      );
      // While it waits for approval the source runs on its snapshot: the guest's writes go to the delta.
      let progress = await handle.query(progressQuery);
      for (let i = 0; i < 3000 && !progress.awaitingApproval; i++) {
        await new Promise((r) => setTimeout(r, 100));
        progress = await handle.query(progressQuery);
      }
      expect(progress.awaitingApproval).toBe(true);
      expect(progress.plan?.mode).toBe('smartswitch');
      const during = await vmNamed('esx-a', 'ir-app01');
      expect(during?.powerState).toBe('poweredOn');
      expect(during?.disks[0]?.chain.length).toBe(2);
      // Stop the guest's writes so the target's bytes can be compared with the source's at switchover.
      await controlOf(lab, 'esx-a').setGuestRate('ir-app01', 0);
      await handle.executeUpdate(approveSwitchoverUpdate);
      const result: MigrationResult = await handle.result();

      expect(result).toMatchObject({ method: 'quick-migration', mode: 'smartswitch' });
      expect(result.downtimeMs).toBeGreaterThan(0);
      expect(result.bytesCopied).toBeGreaterThan(256 << 20);
      expect(result.verified.length).toBeGreaterThan(5);
      for (const f of result.verified) expect(f.sha256Target, f.target).toBe(f.sha256Source);
      expect(result.verified.some((f) => f.source.endsWith('.vmss'))).toBe(true);

      // The target runs on esx-b under its own name, consolidated: one file per disk, no snapshot.
      const target = await vmNamed('esx-b', 'ir-app01');
      expect(target?.powerState).toBe('poweredOn');
      expect(target?.snapshots).toEqual([]);
      expect(target?.disks.map((d) => d.chain.length)).toEqual([1]);
      expect(result.target).toMatchObject({
        endpoint: 'esx-b',
        name: 'ir-app01',
        powerState: 'poweredOn',
        snapshots: 0,
      });

      // Bytes: the target's disk equals the source's disk at switchover (the kept source, its snapshot merged).
      const sourceFlat = join(datastoreDir('esx-a', 'IR-NFS'), 'ir-app01', 'ir-app01-flat.vmdk');
      const targetFlat = join(datastoreDir('esx-b', 'datastore1'), 'ir-app01', 'ir-app01-flat.vmdk');
      expect(await sha256(targetFlat)).toBe(await sha256(sourceFlat));
      expect(
        readdirSync(join(datastoreDir('esx-b', 'datastore1'), 'ir-app01')).filter((f) =>
          /-\d{6}(-delta)?\.vmdk$/.test(f),
        ),
      ).toEqual([]);

      // The source is kept: renamed, off, unregistered; its files stay, without snapshot deltas.
      expect(await vmNamed('esx-a', 'ir-app01')).toBeUndefined();
      expect(await vmNamed('esx-a', 'ir-app01_migrated')).toBeUndefined();
      expect(result.source).toMatchObject({ action: 'kept', name: 'ir-app01_migrated' });
      const sourceFiles = readdirSync(join(datastoreDir('esx-a', 'IR-NFS'), 'ir-app01'));
      expect(sourceFiles).toContain('ir-app01.vmx');
      expect(sourceFiles.filter((f) => /-\d{6}(-delta)?\.vmdk$/.test(f))).toEqual([]);

      // The instant-recovery datastore stays mounted: ir-app02 still runs from it.
      expect(result.instantRecovery).toEqual({ datastore: 'IR-NFS', unmounted: false, usedBy: ['ir-app02'] });
      expect(await mountedOn('esx-a')).toContain('IR-NFS');
    },
    CONCURRENT_TIMEOUT_MS,
  );

  it.concurrent(
    'Cold for more than 8 GiB, started with the temporal CLI from an example request, found by inventory path',
    async ({ expect }) => {
      const temporal = ensureTemporal();
      const id = `cli-cold-big01-${Date.now()}`;
      const common = ['--address', lab.temporal.address, '--namespace', lab.temporal.namespace];
      await run(temporal, [
        'workflow',
        'start',
        '--type',
        'quickMigration',
        '--task-queue',
        worker.taskQueue,
        '--workflow-id',
        id,
        '--input-file',
        join(projectRoot, 'examples', 'quick-migration-cold.json'),
        ...common,
      ]);
      // A failed workflow makes the CLI exit 1 with its failure on stdout: show it, not only the exit code.
      const { stdout } = await run(temporal, [
        'workflow',
        'result',
        '--workflow-id',
        id,
        '--output',
        'json',
        ...common,
      ]).catch((e: { message: string; stdout?: string }) => {
        throw new Error(`temporal workflow result: ${e.message}\n${e.stdout ?? ''}`);
      });
      const result = (JSON.parse(stdout) as { result: MigrationResult }).result;
      expect(result).toMatchObject({ method: 'quick-migration', mode: 'cold' });
      expect(result.reasons.map((r) => r.rule)).toContain('R6-mode-requested');
      expect(result.downtimeMs).toBeGreaterThan(0);
      expect((await vmNamed('esx-b', 'big01'))?.powerState).toBe('poweredOn');
    },
    CONCURRENT_TIMEOUT_MS,
  );

  it.concurrent(
    'Cold for incompatible CPUs: an Intel host to an AMD host',
    async ({ expect }) => {
      const result = await (
        await start(
          {
            source: { endpoint: 'esx-b', name: 'util01' },
            target: { endpoint: 'esx-c', datastore: 'datastore1' },
          },
          'cold-cpu-util01',
        )
      ).result();
      expect(result).toMatchObject({ method: 'quick-migration', mode: 'cold' });
      const cpu = result.reasons.find((r) => r.rule === 'R4-cold-cpu-incompatible');
      expect(JSON.stringify(cpu)).toMatch(/intel.*amd|amd.*intel/);
      expect((await vmNamed('esx-c', 'util01'))?.powerState).toBe('poweredOn');
    },
    CONCURRENT_TIMEOUT_MS,
  );

  it.concurrent(
    'a powered-off VM is copied cold and stays off; a suspended one stays suspended',
    async ({ expect }) => {
      const off = await (
        await start(
          {
            source: { endpoint: 'esx-a', name: 'off01' },
            target: { endpoint: 'esx-b', datastore: 'datastore1' },
          },
          'off01',
        )
      ).result();
      expect(off.downtimeMs).toBeNull();
      expect((await vmNamed('esx-b', 'off01'))?.powerState).toBe('poweredOff');

      const susp = await (
        await start(
          {
            source: { endpoint: 'esx-a', name: 'susp01' },
            target: { endpoint: 'esx-b', datastore: 'datastore1' },
          },
          'susp01',
        )
      ).result();
      expect(susp.downtimeMs).toBeNull();
      expect((await vmNamed('esx-b', 'susp01'))?.powerState).toBe('suspended');
      expect(susp.verified.some((f) => f.source.endsWith('.vmss'))).toBe(true);
    },
    CONCURRENT_TIMEOUT_MS,
  );

  it.concurrent(
    'vMotion between the cluster hosts, then Storage vMotion, on the vCenter',
    async ({ expect }) => {
      const vmotion = await (
        await start(
          {
            source: { endpoint: 'vcenter', name: 'web01' },
            target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
          },
          'vmotion-web01',
        )
      ).result();
      expect(vmotion).toMatchObject({ method: 'vmotion', relocation: 'host', downtimeMs: null });
      expect(vmotion.target.host).toBe('esx02.lab');

      const svmotion = await (
        await start(
          {
            source: { endpoint: 'vcenter', name: 'web01' },
            target: { endpoint: 'vcenter', datastore: 'local-esx02' },
          },
          'svmotion-web01',
        )
      ).result();
      expect(svmotion).toMatchObject({ method: 'vmotion', relocation: 'datastore' });
      expect(svmotion.target.datastores).toEqual(['local-esx02']);
      expect(existsSync(join(datastoreDir('vcenter', 'local-esx02'), 'web01', 'web01-flat.vmdk'))).toBe(true);
    },
    CONCURRENT_TIMEOUT_MS,
  );

  it.concurrent(
    'vMotion and Storage vMotion at once finalize an Instant Recovery on the vCenter: IR-NFS leaves both hosts',
    async ({ expect }) => {
      const result = await (
        await start(
          {
            source: { endpoint: 'vcenter', name: 'ir-vc01' },
            target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'local-esx02' },
            options: { finalizeInstantRecovery: true },
          },
          'ir-vc01',
        )
      ).result();
      expect(result).toMatchObject({ method: 'vmotion', relocation: 'host+datastore' });
      expect(result.target).toMatchObject({
        host: 'esx02.lab',
        datastores: ['local-esx02'],
        powerState: 'poweredOn',
      });
      expect(result.instantRecovery).toEqual({ datastore: 'IR-NFS', unmounted: true, usedBy: [] });
      const hosts = await client('vcenter').inventory.listHosts();
      for (const host of hosts) expect(await mountedOn('vcenter', host.name)).not.toContain('IR-NFS');
    },
    CONCURRENT_TIMEOUT_MS,
  );

  it.concurrent(
    'forced Quick Migration on the vCenter moves a VM whose second disk lives on another datastore, rewriting paths',
    async ({ expect }) => {
      const result = await (
        await start(
          {
            source: { endpoint: 'vcenter', name: 'db01' },
            target: { endpoint: 'vcenter', host: 'esx01.lab', datastore: 'local-esx01' },
            options: { method: 'quick-migration' },
          },
          'forced-db01',
        )
      ).result();
      expect(result).toMatchObject({ method: 'quick-migration', mode: 'smartswitch' });
      expect(result.reasons.map((r) => r.rule)).toContain('R2-method-requested');
      const target = await vmNamed('vcenter', 'db01');
      expect(target?.powerState).toBe('poweredOn');
      expect(target?.disks.map((d) => d.chain.map((b) => b.fileName))).toEqual([
        ['[local-esx01] db01/db01.vmdk'],
        ['[local-esx01] db01/db01_1.vmdk'],
      ]);
      const vmx = readFileSync(join(datastoreDir('vcenter', 'local-esx01'), 'db01', 'db01.vmx'), 'utf8');
      expect(vmx).toMatch(/scsi0:1\.fileName = "db01_1\.vmdk"/);
      expect(vmx).not.toContain('/vmfs/volumes/shared-ds');
      // The kept source is out of the inventory; its files are where they were.
      expect(
        (await client('vcenter').inventory.listVms()).map((v) => v.name).filter((n) => n.startsWith('db01')),
      ).toEqual(['db01']);
      expect(existsSync(join(datastoreDir('vcenter', 'shared-ds'), 'db01', 'db01_1-flat.vmdk'))).toBe(true);
    },
    CONCURRENT_TIMEOUT_MS,
  );

  // The instant-recovery datastore's last VM: after ir-app01 has left it (the concurrent cases above).
  it('the last VM off the instant-recovery datastore unmounts it; the source is deleted after the target heartbeats', async () => {
    const result = await (
      await start(
        {
          source: { endpoint: 'esx-a', name: 'ir-app02' },
          target: { endpoint: 'esx-b', datastore: 'datastore1' },
          options: { finalizeInstantRecovery: true, source: 'delete' },
        },
        'ir-app02',
      )
    ).result();
    expect(result.source.action).toBe('deleted');
    expect(existsSync(join(datastoreDir('esx-a', 'IR-NFS'), 'ir-app02'))).toBe(false);
    expect((await vmNamed('esx-b', 'ir-app02'))?.guestHeartbeat).toBe('green');
    expect(result.instantRecovery).toEqual({ datastore: 'IR-NFS', unmounted: true, usedBy: [] });
    expect(await mountedOn('esx-a')).not.toContain('IR-NFS');
  });
});
