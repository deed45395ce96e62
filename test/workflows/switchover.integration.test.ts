/**
 * The switchover as a real host makes it (issue "Switchover that works on a real host"): identity kept
 * through the moved-or-copied question, a Cold stop through the guest with its deadline, both downtimes
 * and the projection beside them. A lab of its own with the quick profile: these behaviours do not depend
 * on time, only on the order of events (the guest times are set so that shutdown and boot are visible).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import type { Topology, TopologyVm } from '../../src/lab/topology';
import { DEFAULT_TOPOLOGY } from '../../src/lab/topology';
import type { MigrationRequestInput } from '../../src/request/request';
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import type { MigrationResult } from '../../src/workflows/definitions';
import { planMigration } from '../../src/workflows/plan-migration';
import { quickMigration } from '../../src/workflows/quick-migration';
import { HistoryRecorder } from '../support/histories';
import { controlOf, startPrivateLab, stopPrivateLab } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { startWorker } from '../support/worker';
import { connect } from '../vsphere/helpers';

let lab: LabInfo;
let worker: TestWorker;
const clients: Record<string, VSphereClient> = {};
const client = (name: string) => clients[name] as VSphereClient;

/** Guest times of this lab, seconds: long enough to tell a shutdown and a boot from an instant. */
const SHUTDOWN_SEC = 2;
const BOOT_SEC = 3;

function topology(): string {
  const vm = (name: string, extra: Partial<TopologyVm> = {}): TopologyVm => ({
    name,
    host: 'esx-a.lab',
    datastore: 'datastore1',
    memoryMiB: 512,
    power: 'poweredOn',
    disks: [{ sizeMiB: 8 }],
    guestWriteBytesPerSec: 8192,
    ...extra,
  });
  const t: Topology = {
    profile: 'quick',
    guest: { shutdownSec: SHUTDOWN_SEC, bootSec: BOOT_SEC, resumeSec: 0.5 },
    cpuModels: (JSON.parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Topology).cpuModels,
    nfsExports: [{ name: 'vpower-nfs', remoteHost: 'vbr.lab', remotePath: '/VeeamBackup_vbr' }],
    endpoints: [
      {
        name: 'esx-a',
        kind: 'esx',
        datastores: [
          { name: 'datastore1', type: 'vmfs', capacityGiB: 50 },
          { name: 'IR-NFS', type: 'nfs', export: 'vpower-nfs', capacityGiB: 50 },
        ],
        hosts: [{ name: 'esx-a.lab', cpu: 'intel-cascadelake', datastores: ['datastore1', 'IR-NFS'] }],
        vms: [
          vm('sw01'),
          vm('cold01'),
          vm('hang01', { ignoreShutdown: true }),
          vm('notools01', { tools: 'none' }),
          vm('off02', { power: 'poweredOff' }),
          vm('susp02', { power: 'suspended' }),
          vm('ask01'),
          // An Instant Recovery VM with the recovery ISO of its backup on the IR share.
          vm('iso01', { datastore: 'IR-NFS', iso: '[IR-NFS] iso/recovery.iso' }),
        ],
      },
      {
        name: 'esx-b',
        kind: 'esx',
        datastores: [{ name: 'datastore1', type: 'vmfs', capacityGiB: 50 }],
        hosts: [{ name: 'esx-b.lab', cpu: 'intel-cascadelake', datastores: ['datastore1'] }],
      },
    ],
  };
  const file = join(mkdtempSync(join(tmpdir(), 'quickmig-switchover-')), 'topology.json');
  writeFileSync(file, JSON.stringify(t));
  return file;
}

beforeAll(async () => {
  lab = await startPrivateLab('switchover', topology());
  worker = await startWorker(lab);
  for (const name of ['esx-a', 'esx-b']) clients[name] = await connect(lab, name);
});

const histories = new HistoryRecorder();

afterAll(async () => {
  await histories.record();
  await Promise.all(Object.values(clients).map((c) => c.close()));
  await worker?.stop();
  if (lab) await stopPrivateLab(lab.dir);
});

async function vmNamed(endpoint: string, name: string): Promise<VmFacts | undefined> {
  const vm = (await client(endpoint).inventory.listVms()).find((v) => v.name === name);
  return vm ? client(endpoint).facts.vm(vm.ref) : undefined;
}

/** What makes the VM the same machine to its guest and its network: BIOS UUID and MAC addresses. */
function identity(vm: VmFacts | undefined) {
  return { uuid: vm?.uuid, macs: vm?.nics.map((n) => n.macAddress) };
}

const request = (name: string, options: MigrationRequestInput['options'] = {}): MigrationRequestInput => ({
  source: { endpoint: 'esx-a', name },
  target: { endpoint: 'esx-b', datastore: 'datastore1' },
  options,
});

/** Runs a migration to its end; its history is stored as `switchover-<id>` when recording. */
async function migrate(input: MigrationRequestInput, id: string): Promise<MigrationResult> {
  const handle = await worker.client.workflow.start(quickMigration, {
    taskQueue: worker.taskQueue,
    workflowId: `${id}-${Date.now()}`,
    args: [input],
  });
  histories.add(`switchover-${id.replace(/^sw-/, '')}`, handle);
  return handle.result();
}

/** The failure's innermost message (the workflow's MigrationFailed text). */
async function failureOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowFailedError);
  return ((error as WorkflowFailedError).cause as Error).message;
}

describe('switchover on a real host (integration)', () => {
  it('SmartSwitch keeps the BIOS UUID and the MACs, and reports both downtimes beside the projection', async () => {
    const before = identity(await vmNamed('esx-a', 'sw01'));
    expect(before.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(before.macs?.length).toBe(1);

    const result = await migrate(request('sw01', { mode: 'smartswitch' }), 'sw-sw01');
    const target = await vmNamed('esx-b', 'sw01');
    expect(target?.powerState).toBe('poweredOn');
    expect(identity(target)).toEqual(before);
    // The target's .vmx says so: a later power-on anywhere does not ask again.
    const vmx = readFileSync(join(lab.dir, 'datastores', 'esx-b', 'datastore1', 'sw01', 'sw01.vmx'), 'utf8');
    expect(vmx).toMatch(/^uuid\.action = "keep"$/m);

    expect(result.switchover?.stop).toBe('suspend');
    expect(result.downtimeMs).toBeGreaterThan(0);
    // The service is back when the resumed guest's heartbeat is: after the VM itself runs.
    expect(result.serviceDowntimeMs).toBeGreaterThanOrEqual(result.downtimeMs ?? Number.POSITIVE_INFINITY);
    const projection = result.switchover?.projection;
    expect(projection).toMatchObject({ mode: 'smartswitch', measuredDowntimeMs: result.downtimeMs });
    expect(projection?.projectedDowntimeMs).toBeGreaterThan(0);
    expect(projection?.atSwitchover?.terms.map((t) => t.step)).toEqual([
      'suspend',
      'copy',
      'register',
      'resume',
      'heartbeat',
    ]);
  });

  it('Cold shuts the guest down through Tools, keeps its identity, and counts shutdown and boot in the service downtime', async () => {
    const before = identity(await vmNamed('esx-a', 'cold01'));
    const sourceVersion = (await vmNamed('esx-a', 'cold01'))?.hardwareVersion;
    const result = await migrate(
      request('cold01', { mode: 'cold', targetVm: { upgradeHardware: true } }),
      'sw-cold01',
    );
    // The upgrade ran between registration and power-on (the lab's host offers a newer version).
    const hardware = result.switchover?.hardware;
    const targetVersion = (await vmNamed('esx-b', 'cold01'))?.hardwareVersion;
    expect(hardware).toEqual({
      upgraded: true,
      detail: `upgraded from ${sourceVersion} to ${targetVersion}`,
    });
    expect(targetVersion).not.toBe(sourceVersion);
    expect(result.switchover?.stop).toBe('guest-shutdown');
    expect(identity(await vmNamed('esx-b', 'cold01'))).toEqual(before);
    expect(result.downtimeMs).toBeGreaterThan(0);
    // From the shutdown request to the target's heartbeat: at least the guest's shutdown and its boot.
    expect(result.serviceDowntimeMs).toBeGreaterThanOrEqual((SHUTDOWN_SEC + BOOT_SEC) * 1000);
    expect(result.serviceDowntimeMs).toBeGreaterThan(result.downtimeMs ?? Number.POSITIVE_INFINITY);
    expect(result.switchover?.projection?.atSwitchover?.terms[0]?.step).toBe('shutdown');
  });

  it('a guest that ignores the shutdown: abort rolls back with the source running, power-off stops it hard', async () => {
    const message = await failureOf(
      migrate(request('hang01', { mode: 'cold', shutdown: { timeoutMs: 3000 } }), 'sw-hang01-abort'),
    );
    expect(message).toMatch(/did not stop within 3000 ms/);
    expect(message).toMatch(/Rolled back: .*restored the source to poweredOn/);
    expect((await vmNamed('esx-a', 'hang01'))?.powerState).toBe('poweredOn');
    // The target is clean: no VM registered, no folder left.
    expect(await vmNamed('esx-b', 'hang01')).toBeUndefined();
    expect(await client('esx-b').files.list('[datastore1] ')).not.toContainEqual(
      expect.objectContaining({ name: 'hang01' }),
    );

    const before = identity(await vmNamed('esx-a', 'hang01'));
    const result = await migrate(
      request('hang01', { mode: 'cold', shutdown: { timeoutMs: 3000, onTimeout: 'power-off' } }),
      'sw-hang01-poweroff',
    );
    expect(result.switchover?.stop).toBe('power-off-after-timeout');
    expect((await vmNamed('esx-b', 'hang01'))?.powerState).toBe('poweredOn');
    expect(identity(await vmNamed('esx-b', 'hang01'))).toEqual(before);
  });

  it('a guest without Tools: preflight blocks a Cold migration unless the request asks for a hard stop', async () => {
    const plan = await worker.client.workflow.execute(planMigration, {
      taskQueue: worker.taskQueue,
      workflowId: `sw-plan-notools-${Date.now()}`,
      args: [request('notools01', { mode: 'cold' })],
    });
    expect(plan.blocked).toBe(true);
    expect(plan.findings).toContainEqual(
      expect.objectContaining({ code: 'guest-tools-not-running', field: 'options.shutdown.mode' }),
    );

    const result = await migrate(
      request('notools01', { mode: 'cold', shutdown: { mode: 'power-off' } }),
      'sw-notools01',
    );
    expect(result.switchover?.stop).toBe('power-off');
    expect((await vmNamed('esx-b', 'notools01'))?.powerState).toBe('poweredOn');
    // No heartbeat on either side: the service downtime is not known, and the result says so.
    expect(result.serviceDowntimeMs).toBeNull();
  });

  it('powered-off and suspended sources keep their identity, also when powered on later', async () => {
    for (const name of ['off02', 'susp02']) {
      const before = identity(await vmNamed('esx-a', name));
      const source = await vmNamed('esx-a', name);
      const result = await migrate(request(name), `sw-${name}`);
      expect(result.target.powerState).toBe(source?.powerState);
      const target = await vmNamed('esx-b', name);
      expect(identity(target)).toEqual(before);
      // Powering it on meets no question (uuid.action keep) and keeps the identity.
      await client('esx-b').vms.powerOn(target?.ref as NonNullable<typeof target>['ref']);
      const on = await vmNamed('esx-b', name);
      expect(on?.powerState).toBe('poweredOn');
      expect(identity(on)).toEqual(before);
    }
  });

  it('a question of another kind fails the start with its text and leaves the source running', async () => {
    await controlOf(lab, 'esx-b').addFault({
      kind: 'question',
      // The target is registered under a temporary name: the rule asks at esx-b's next power-on.
      method: 'PowerOnVM_Task',
      messageId: 'msg.hbacommon.outofspace',
      text: 'There is no more space for virtual disk ask01.vmdk. Retry or cancel?',
      choices: ['button.retry', 'button.cancel'],
      count: 1,
    });
    const message = await failureOf(migrate(request('ask01', { mode: 'smartswitch' }), 'sw-ask01-other'));
    expect(message).toContain('There is no more space for virtual disk ask01.vmdk. Retry or cancel?');
    expect(message).toContain('msg.hbacommon.outofspace');
    expect((await vmNamed('esx-a', 'ask01'))?.powerState).toBe('poweredOn');
    expect(await vmNamed('esx-b', 'ask01')).toBeUndefined();
  });

  it('a start that still meets the uuid question answers "moved" and keeps the identity', async () => {
    await controlOf(lab, 'esx-b').addFault({
      kind: 'question',
      method: 'PowerOnVM_Task',
      messageId: 'msg.uuid.altered',
      text: 'This virtual machine might have been moved or copied.',
      choices: ['button.uuid.cancel', 'button.uuid.movedTheVM', 'button.uuid.copiedTheVM'],
      count: 1,
    });
    const before = identity(await vmNamed('esx-a', 'ask01'));
    const result = await migrate(request('ask01', { mode: 'smartswitch' }), 'sw-ask01-uuid');
    expect(result.switchover?.answered).toEqual([
      expect.objectContaining({ messageIds: ['msg.uuid.altered'], choice: '1' }),
    ]);
    expect(identity(await vmNamed('esx-b', 'ask01'))).toEqual(before);
  });

  it('an Instant Recovery VM with an ISO on the IR share: the target drops the ISO and the share is unmounted', async () => {
    const sourceVmx = join(lab.dir, 'nfs', 'vpower-nfs', 'iso01', 'iso01.vmx');
    expect(readFileSync(sourceVmx, 'utf8')).toContain('/vmfs/volumes/IR-NFS/iso/recovery.iso');
    // The target runs on esx-a, which mounts the share: an ISO left attached would keep it in use.
    const result = await migrate(
      {
        source: { endpoint: 'esx-a', name: 'iso01' },
        target: { endpoint: 'esx-a', datastore: 'datastore1' },
        options: { mode: 'smartswitch', finalizeInstantRecovery: true },
      },
      'sw-iso01',
    );
    const targetVmx = readFileSync(
      join(lab.dir, 'datastores', 'esx-a', 'datastore1', 'iso01', 'iso01.vmx'),
      'utf8',
    );
    expect(targetVmx).not.toContain('IR-NFS');
    expect(targetVmx).toMatch(/^ide1:0\.startConnected = "FALSE"$/m);
    expect((await vmNamed('esx-a', 'iso01'))?.powerState).toBe('poweredOn');
    expect(result.instantRecovery).toEqual({ datastore: 'IR-NFS', unmounted: true, usedBy: [] });
  });
});
