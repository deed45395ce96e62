/**
 * The quickMigration workflow end to end on a lab of its own: a real Temporal server, a real worker
 * (createWorkers, as `quickmig worker` runs it) and simulated endpoints whose files are read back
 * byte for byte. Each test checks what an operator would: bytes, inventory, power states.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MigrationRequestInput } from '../../src/client/request';
import type { LabInfo } from '../../src/lab/lab';
import { labDown } from '../../src/lab/lab';
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import type { MigrationResult } from '../../src/workflows/definitions';
import { approveSwitchoverUpdate, progressQuery } from '../../src/workflows/definitions';
import { quickMigration } from '../../src/workflows/quick-migration';
import { controlOf, startPrivateLab } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { startWorker } from '../support/worker';
import { connect } from '../vsphere/helpers';

let lab: LabInfo;
let worker: TestWorker;
const clients: Record<string, VSphereClient> = {};

beforeAll(async () => {
  lab = await startPrivateLab('workflows');
  worker = await startWorker(lab);
  for (const name of ['vcenter', 'esx-a', 'esx-b']) clients[name] = await connect(lab, name);
});

afterAll(async () => {
  await Promise.all(Object.values(clients).map((c) => c.close()));
  await worker?.stop();
  if (lab) await labDown(lab.dir);
});

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

function start(request: MigrationRequestInput, id: string) {
  return worker.client.workflow.start(quickMigration, {
    taskQueue: worker.taskQueue,
    workflowId: `${id}-${Date.now()}`,
    args: [request],
  });
}

describe('quickMigration (integration)', () => {
  it('SmartSwitch: an instant-recovery VM moves from esx-a to esx-b while its guest writes, byte for byte', async () => {
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
    for (let i = 0; i < 600 && !progress.awaitingApproval; i++) {
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

    // The instant-recovery datastore was unmounted from esx-a: no VM there uses it any more.
    expect(result.instantRecovery).toEqual({ datastore: 'IR-NFS', unmounted: true, usedBy: [] });
    const esxA = (await client('esx-a').inventory.listHosts())[0];
    const mounted = await client('esx-a').facts.datastores(
      (await client('esx-a').facts.host(esxA?.ref as never)).datastores,
    );
    expect(mounted.map((d) => d.name)).not.toContain('IR-NFS');
  });

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

  it('Cold for more than 8 GiB succeeds when nothing fails', async () => {
    const result = await (
      await start(
        {
          source: { endpoint: 'esx-a', name: 'big01' },
          target: { endpoint: 'esx-b', datastore: 'datastore1' },
        },
        'cold-big01',
      )
    ).result();
    expect(result).toMatchObject({ method: 'quick-migration', mode: 'cold' });
    expect(result.reasons.map((r) => r.rule)).toContain('R5-cold-memory');
    expect(result.downtimeMs).toBeGreaterThan(0);
    expect((await vmNamed('esx-b', 'big01'))?.powerState).toBe('poweredOn');
  });

  it('a powered-off VM is copied cold and stays off; a suspended one stays suspended', async () => {
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
  });

  it('vMotion between the cluster hosts, then Storage vMotion, on the vCenter', async () => {
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
  });
});
