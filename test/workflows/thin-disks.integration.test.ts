/**
 * Thin disks through whole migrations on a lab of the test's own (integration): a running VM's 8 GiB thin
 * disk, about 10 % allocated in scattered runs, its guest writing, moves with SmartSwitch and with Cold
 * sending only about its allocated bytes and lands thin; `diskType` turns a thin disk thick and a thick
 * one thin; a powered-off VM's thin disk moves the same way (through a snapshot of its own). Sizes come from the datastores' backing files (`du`), content from SHA-256 of the disks'
 * flat extents once both sides are consolidated (the source's snapshot merged, the target's deltas too).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import type { Topology } from '../../src/lab/topology';
import { DEFAULT_TOPOLOGY } from '../../src/lab/topology';
import type { MigrationRequestInput } from '../../src/request/request';
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import { parseDatastorePath } from '../../src/vsphere';
import { approveSwitchoverUpdate, progressQuery } from '../../src/workflows/definitions';
import { quickMigration } from '../../src/workflows/quick-migration';
import { controlOf, startPrivateLab, stopPrivateLab } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { startWorker } from '../support/worker';
import { connect } from '../vsphere/helpers';

const MiB = 1024 * 1024;
let lab: LabInfo;
let worker: TestWorker;
const clients: Record<string, VSphereClient> = {};
const backing = new Map<string, Map<string, string>>();

/** esx-a runs thin VMs from IR-NFS (and a thick one on datastore1); esx-b is the target. */
function topology(): string {
  const t = JSON.parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Topology;
  t.endpoints = t.endpoints.filter((e) => e.name === 'esx-a' || e.name === 'esx-b');
  const [a, b] = t.endpoints as [Topology['endpoints'][number], Topology['endpoints'][number]];
  const vm = (
    name: string,
    sizeMiB: number,
    fill: 'scattered' | 'zero',
    datastore = 'IR-NFS',
    power: 'poweredOn' | 'poweredOff' = 'poweredOn',
  ) => ({
    name,
    host: 'esx-a.lab',
    datastore,
    memoryMiB: 1024,
    power,
    disks: [{ sizeMiB, fill }],
    // Each test starts its VM's guest writing when its migration starts: writes before the snapshot
    // would land in the base, scattered 4 KiB blocks that change tracking reports as 64 KiB areas.
    guestWriteBytesPerSec: 0,
  });
  a.vms = [
    vm('thin-ss', 8192, 'scattered'),
    vm('thin-cold', 8192, 'scattered'),
    vm('thin-thick', 1024, 'scattered'),
    vm('thick-thin', 256, 'zero', 'datastore1'),
    vm('off-thin', 2048, 'scattered', 'IR-NFS', 'poweredOff'),
  ];
  b.vms = [];
  const file = join(mkdtempSync(join(tmpdir(), 'quickmig-thin-')), 'topology.json');
  writeFileSync(file, JSON.stringify(t));
  return file;
}

beforeAll(async () => {
  lab = await startPrivateLab('thin-workflows', topology());
  worker = await startWorker(lab);
  for (const name of ['esx-a', 'esx-b']) {
    clients[name] = await connect(lab, name);
    const list = await controlOf(lab, name).call<{ name: string; path: string }[]>('GET', '/datastores');
    backing.set(name, new Map(list.map((d) => [d.name, d.path])));
  }
}, 600_000);

afterAll(async () => {
  await worker?.stop();
  for (const c of Object.values(clients)) await c.close();
  if (lab) await stopPrivateLab(lab.dir);
});

function local(endpoint: string, path: string): string {
  const p = parseDatastorePath(path);
  const dir = backing.get(endpoint)?.get(p.datastore);
  if (dir === undefined) throw new Error(`no backing folder for ${endpoint} ${p.datastore}`);
  return join(dir, p.path);
}

function du(file: string): number {
  return Number(execFileSync('du', ['--block-size=1', file], { encoding: 'utf8' }).split(/\s/)[0]);
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function vmNamed(endpoint: string, name: string): Promise<VmFacts> {
  const c = clients[endpoint] as VSphereClient;
  const vm = (await c.inventory.listVms()).find((v) => v.name === name);
  if (vm === undefined) throw new Error(`${name} is not on ${endpoint}`);
  return c.facts.vm(vm.ref);
}

/** The flat extent of a VM's first disk (the VM consolidated: one chain level). */
function flatOf(facts: VmFacts): string {
  const level = facts.disks[0]?.layoutFiles[0] ?? [];
  const flat = level.find((f) => f.endsWith('-flat.vmdk'));
  if (flat === undefined) throw new Error(`${facts.name}: no flat extent in ${level}`);
  return flat;
}

/**
 * Migrates `name` to esx-b with a manual switchover: the guest writes through the bulk copy, and is
 * stopped before the switchover so both sides can be compared byte for byte afterwards.
 */
async function migrate(name: string, options: MigrationRequestInput['options']) {
  const source = await vmNamed('esx-a', name);
  const sourceFlat = local('esx-a', flatOf(source));
  const allocatedBefore = du(sourceFlat);
  await controlOf(lab, 'esx-a').setGuestRate(name, 262144);
  const handle = await worker.client.workflow.start(quickMigration, {
    taskQueue: worker.taskQueue,
    workflowId: `thin-${name}-${Date.now()}`,
    args: [
      {
        source: { endpoint: 'esx-a', name },
        target: { endpoint: 'esx-b', datastore: 'datastore1' },
        options: { switchover: 'manual', ...options },
      },
    ],
  });
  let progress = await handle.query(progressQuery);
  for (let i = 0; i < 3000 && !progress.awaitingApproval; i++) {
    await new Promise((r) => setTimeout(r, 100));
    progress = await handle.query(progressQuery);
  }
  expect(progress.awaitingApproval).toBe(true);
  expect(progress.disks?.[0]?.logicalBytes).toBe(source.disks[0]?.capacityBytes);
  await controlOf(lab, 'esx-a').setGuestRate(name, 0);
  await handle.executeUpdate(approveSwitchoverUpdate);
  const result = await handle.result();
  const target = await vmNamed('esx-b', name);
  const targetFlat = local('esx-b', flatOf(target));
  return { result, source, sourceFlat, allocatedBefore, target, targetFlat };
}

describe('thin disks through a migration (integration)', () => {
  for (const mode of ['smartswitch', 'cold'] as const) {
    it(`${mode}: an 8 GiB thin disk 10 % allocated moves about its allocated bytes and lands thin`, async () => {
      const name = mode === 'smartswitch' ? 'thin-ss' : 'thin-cold';
      const m = await migrate(name, { mode });
      const disk = m.result.disks?.find((d) => d.target.endsWith('-flat.vmdk'));
      expect(disk?.transport).toBe('allocated-areas');
      expect(disk?.logicalBytes).toBe(8192 * MiB);
      const allocated = disk?.allocatedBytes ?? 0;
      expect(allocated).toBeGreaterThanOrEqual(m.allocatedBefore);
      expect(allocated).toBeLessThan(0.15 * 8192 * MiB);
      const headers = (disk?.chunks ?? 0) * 64 * 1024 + (8192 / 32) * 2048;
      expect(disk?.wireBytes).toBeLessThanOrEqual(1.05 * allocated + headers);
      expect(disk?.diskType).toBe('thin');
      // The target's disk is thin, by its backing and by its blocks; its content is the source's.
      expect(m.target.disks[0]?.chain.at(-1)?.thinProvisioned).toBe(true);
      expect(statSync(m.targetFlat).size).toBe(8192 * MiB);
      expect(du(m.targetFlat)).toBeLessThanOrEqual(du(m.sourceFlat) + 4 * MiB);
      expect(await sha256(m.targetFlat)).toBe(await sha256(m.sourceFlat));
    }, 900_000);
  }

  it('diskType thick: a thin disk lands thick (allocated whole), content equal', async () => {
    const m = await migrate('thin-thick', { mode: 'cold', diskType: 'thick' });
    const disk = m.result.disks?.find((d) => d.target.endsWith('-flat.vmdk'));
    expect(disk?.transport).toBe('allocated-areas');
    expect(disk?.diskType).toBe('preallocated');
    expect(disk?.wireBytes).toBeLessThan(0.2 * 1024 * MiB);
    expect(m.target.disks[0]?.chain.at(-1)?.thinProvisioned).toBe(false);
    expect(du(m.targetFlat)).toBeGreaterThanOrEqual(1024 * MiB);
    expect(await sha256(m.targetFlat)).toBe(await sha256(m.sourceFlat));
  }, 900_000);

  it('diskType thin: a thick disk of zeros lands thin, content equal', async () => {
    const m = await migrate('thick-thin', { mode: 'cold', diskType: 'thin' });
    expect(m.source.disks[0]?.chain.at(-1)?.thinProvisioned).toBe(false);
    const disk = m.result.disks?.find((d) => d.target.endsWith('-flat.vmdk'));
    expect(disk?.transport).toBe('allocated-areas');
    expect(disk?.diskType).toBe('thin');
    expect(m.target.disks[0]?.chain.at(-1)?.thinProvisioned).toBe(true);
    // The source allocates its zeros; the target, converted thin, only the guest's writes.
    expect(du(m.sourceFlat)).toBeGreaterThanOrEqual(256 * MiB);
    expect(du(m.targetFlat)).toBeLessThan(64 * MiB);
    expect(await sha256(m.targetFlat)).toBe(await sha256(m.sourceFlat));
  }, 900_000);

  it('a powered-off VM: its thin disk moves about its allocated bytes through a snapshot, lands thin and off', async () => {
    const source = await vmNamed('esx-a', 'off-thin');
    const sourceFlat = local('esx-a', flatOf(source));
    const allocated = du(sourceFlat);
    const handle = await worker.client.workflow.start(quickMigration, {
      taskQueue: worker.taskQueue,
      workflowId: `thin-off-thin-${Date.now()}`,
      args: [
        {
          source: { endpoint: 'esx-a', name: 'off-thin' },
          target: { endpoint: 'esx-b', datastore: 'datastore1' },
        },
      ],
    });
    const result = await handle.result();
    expect((await handle.query(progressQuery)).plan?.steps).toContain('snapshot');
    const disk = result.disks?.find((d) => d.target.endsWith('-flat.vmdk'));
    expect(disk?.transport).toBe('allocated-areas');
    expect(disk?.diskType).toBe('thin');
    expect(disk?.wireBytes).toBeLessThan(0.15 * 2048 * MiB);
    const target = await vmNamed('esx-b', 'off-thin');
    expect(target.powerState).toBe('poweredOff');
    expect(target.snapshots).toEqual([]);
    expect(target.disks[0]?.chain.at(-1)?.thinProvisioned).toBe(true);
    const targetFlat = local('esx-b', flatOf(target));
    expect(du(targetFlat)).toBeLessThanOrEqual(allocated + 4 * MiB);
    // The source, kept: its migration snapshot merged back, its disk one level again, content equal.
    expect(await sha256(targetFlat)).toBe(await sha256(sourceFlat));
    expect(result.source.action).toBe('kept');
  }, 900_000);
});
