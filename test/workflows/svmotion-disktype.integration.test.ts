/**
 * `options.diskType` through Storage vMotion (integration, a vCenter lab of the test's own): the
 * RelocateVM spec carries a backing per disk and the host converts each disk as it moves it. Proven by the
 * moved disk's backing (`thinProvisioned`), its allocated bytes (`du` of the backing file) and its content
 * (SHA-256 before and after).
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
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import { parseDatastorePath } from '../../src/vsphere';
import { quickMigration } from '../../src/workflows/quick-migration';
import { controlOf, startPrivateLab, stopPrivateLab } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { startWorker } from '../support/worker';
import { connect } from '../vsphere/helpers';

const MiB = 1024 * 1024;
let lab: LabInfo;
let worker: TestWorker;
let vc: VSphereClient;
let backing = new Map<string, string>();

function topology(): string {
  const t = JSON.parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Topology;
  t.endpoints = t.endpoints.filter((e) => e.name === 'vcenter');
  const v = t.endpoints[0] as Topology['endpoints'][number];
  const vm = (name: string, sizeMiB: number, fill: 'scattered' | 'zero') => ({
    name,
    host: 'esx01.lab',
    datastore: 'shared-ds',
    memoryMiB: 1024,
    power: 'poweredOn' as const,
    disks: [{ sizeMiB, fill }],
    guestWriteBytesPerSec: 0,
  });
  v.vms = [vm('sv-thin', 512, 'scattered'), vm('sv-zero', 256, 'zero')];
  const file = join(mkdtempSync(join(tmpdir(), 'quickmig-svmotion-')), 'topology.json');
  writeFileSync(file, JSON.stringify(t));
  return file;
}

beforeAll(async () => {
  lab = await startPrivateLab('svmotion-disktype', topology());
  worker = await startWorker(lab);
  vc = await connect(lab, 'vcenter');
  const list = await controlOf(lab, 'vcenter').call<{ name: string; path: string }[]>('GET', '/datastores');
  backing = new Map(list.map((d) => [d.name, d.path]));
}, 600_000);

afterAll(async () => {
  await worker?.stop();
  await vc?.close();
  if (lab) await stopPrivateLab(lab.dir);
});

function local(path: string): string {
  const p = parseDatastorePath(path);
  return join(backing.get(p.datastore) ?? '', p.path);
}

const du = (file: string) =>
  Number(execFileSync('du', ['--block-size=1', file], { encoding: 'utf8' }).split(/\s/)[0]);

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function facts(name: string): Promise<VmFacts> {
  const vm = (await vc.inventory.listVms()).find((v) => v.name === name);
  if (vm === undefined) throw new Error(`no VM ${name}`);
  return vc.facts.vm(vm.ref);
}

const flatOf = (f: VmFacts) => f.disks[0]?.layoutFiles[0]?.find((p) => p.endsWith('-flat.vmdk')) ?? '';

async function svmotion(name: string, diskType: 'thin' | 'thick') {
  const before = await facts(name);
  const hash = await sha256(local(flatOf(before)));
  const handle = await worker.client.workflow.start(quickMigration, {
    taskQueue: worker.taskQueue,
    workflowId: `svmotion-${name}-${Date.now()}`,
    args: [
      {
        source: { endpoint: 'vcenter', name },
        target: { endpoint: 'vcenter', datastore: 'local-esx01' },
        options: { method: 'vmotion', diskType },
      },
    ],
  });
  const result = await handle.result();
  expect(result.method).toBe('vmotion');
  expect(result.relocation).toContain('datastore');
  const after = await facts(name);
  const flat = flatOf(after);
  expect(parseDatastorePath(flat).datastore).toBe('local-esx01');
  return { before, after, hash, flat: local(flat) };
}

describe('Storage vMotion with options.diskType (integration)', () => {
  it('thin → thick: the moved disk is thick (allocated whole), content equal', async () => {
    const m = await svmotion('sv-thin', 'thick');
    expect(m.before.disks[0]?.chain.at(-1)?.thinProvisioned).toBe(true);
    expect(m.after.disks[0]?.chain.at(-1)?.thinProvisioned).toBe(false);
    expect(du(m.flat)).toBeGreaterThanOrEqual(statSync(m.flat).size);
    expect(await sha256(m.flat)).toBe(m.hash);
  }, 600_000);

  it('thick → thin: the moved disk of zeros is thin, content equal', async () => {
    const m = await svmotion('sv-zero', 'thin');
    expect(m.before.disks[0]?.chain.at(-1)?.thinProvisioned).toBe(false);
    expect(m.after.disks[0]?.chain.at(-1)?.thinProvisioned).toBe(true);
    expect(du(m.flat)).toBeLessThan(MiB);
    expect(await sha256(m.flat)).toBe(m.hash);
  }, 600_000);
});
