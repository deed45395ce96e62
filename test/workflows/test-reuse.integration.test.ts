/**
 * A real migration after a test migration of the same VM (issue 21 part 1, options.test.keepDisks) on a
 * lab of its own: the test keeps its copied base disk with the marker quickmig-test.json; the guest then
 * writes 64 KiB; the real run adopts the folder and moves only the areas change tracking reports changed
 * since the test's changeId. Bytes moved are compared with a fresh real run of an identical VM (same
 * size, fill and provisioning): disks' bytes on the wire plus every other file copied. Content: SHA-256 of
 * the source's and the target's flat extents once both are consolidated. And the negative cases: change
 * tracking reset on the source, or the kept file modified, → the disk is copied whole, the report says why.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import type { TopologyVm } from '../../src/lab/topology';
import type { MigrationRequestInput } from '../../src/request/request';
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import type { MigrationResult } from '../../src/workflows/definitions';
import { quickMigration } from '../../src/workflows/quick-migration';
import { controlOf, startPrivateLab, stopPrivateLab, twoHostTopology } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { startWorker } from '../support/worker';
import { connect } from '../vsphere/helpers';

const MiB = 1024 * 1024;
const SIZE_MIB = 32;
let lab: LabInfo;
let worker: TestWorker;
const clients: Record<string, VSphereClient> = {};
const client = (name: string) => clients[name] as VSphereClient;

function topology(): string {
  const vm = (name: string): TopologyVm => ({
    name,
    host: 'esx-a.lab',
    datastore: 'datastore1',
    memoryMiB: 256,
    power: 'poweredOn',
    // Thin and fully written: a fresh copy moves the whole 32 MiB by its allocated areas.
    disks: [{ sizeMiB: SIZE_MIB, fill: 'pattern', thin: true }],
    guestWriteBytesPerSec: 0,
  });
  return twoHostTopology('test-reuse', [vm('ru01'), vm('ru02'), vm('ru03'), vm('ru04')]);
}

beforeAll(async () => {
  lab = await startPrivateLab('test-reuse', topology());
  worker = await startWorker(lab);
  for (const name of ['esx-a', 'esx-b']) clients[name] = await connect(lab, name);
}, 600_000);

afterAll(async () => {
  await Promise.all(Object.values(clients).map((c) => c.close()));
  await worker?.stop();
  if (lab) await stopPrivateLab(lab.dir);
});

async function vmNamed(endpoint: string, name: string): Promise<VmFacts | undefined> {
  const vm = (await client(endpoint).inventory.listVms()).find((v) => v.name === name);
  return vm ? client(endpoint).facts.vm(vm.ref) : undefined;
}

const vmDir = (endpoint: string, name: string) => join(lab.dir, 'datastores', endpoint, 'datastore1', name);
const flat = (endpoint: string, name: string) => join(vmDir(endpoint, name), `${name}-flat.vmdk`);
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

async function run(name: string, options: MigrationRequestInput['options'], id: string) {
  const request: MigrationRequestInput = {
    source: { endpoint: 'esx-a', name },
    target: { endpoint: 'esx-b', datastore: 'datastore1' },
    options,
  };
  const handle = await worker.client.workflow.start(quickMigration, {
    taskQueue: worker.taskQueue,
    workflowId: `${id}-${name}-${Date.now()}`,
    args: [request],
  });
  return { id: handle.workflowId, result: await handle.result() };
}

/** Bytes a run moved to the target: each disk's bytes on the wire, plus every other file copied whole. */
function bytesMoved(result: MigrationResult): number {
  const disks = result.disks ?? [];
  const diskTargets = new Set(disks.map((d) => d.target));
  const files = result.verified.filter((v) => !v.skipped && !diskTargets.has(v.target));
  return disks.reduce((n, d) => n + d.wireBytes, 0) + files.reduce((n, v) => n + v.size, 0);
}

/** Test migration, then 64 KiB written by the source's guest (two 64 KiB tracking blocks). */
async function testThenWrite(name: string) {
  const test = await run(name, { test: true }, 'reuse-test');
  expect(test.result.test?.keptDisks?.disks).toHaveLength(1);
  expect(readdirSync(vmDir('esx-b', name)).sort()).toEqual([
    '.quickmig-migration',
    'quickmig-test.json',
    `${name}-flat.vmdk`,
    `${name}.vmdk`,
  ]);
  const atTest = sha256(flat('esx-a', name));
  expect(sha256(flat('esx-b', name))).toBe(atTest);
  const source = await vmNamed('esx-a', name);
  await controlOf(lab, 'esx-a').guestWrite(
    source?.ref.value ?? '',
    0,
    3 * MiB + 4096,
    Buffer.alloc(64 * 1024, 0x5a),
  );
  return { test, atTest };
}

/** The target after a real run: running, consolidated, its disk equal to the source's, no test leftovers. */
async function expectLanded(name: string, result: MigrationResult) {
  const target = await vmNamed('esx-b', name);
  expect(target?.powerState).toBe('poweredOn');
  expect(target?.snapshots).toEqual([]);
  expect(target?.disks.map((d) => d.chain.length)).toEqual([1]);
  expect(sha256(flat('esx-b', name))).toBe(sha256(flat('esx-a', name)));
  expect(await vmNamed('esx-b', `${name}-test`)).toBeUndefined();
  const files = readdirSync(vmDir('esx-b', name));
  expect(files).not.toContain('quickmig-test.json');
  expect(files.filter((f) => f.includes('quickmig-thin') || f.includes('-test'))).toEqual([]);
  expect(result.source.action).toBe('kept');
}

/**
 * The bytes a fresh real migration of an identical VM (ru02) moves: run once, by whichever test asks
 * first, so each test also holds when run alone.
 */
let baseline: Promise<number> | undefined;
function freshBytes(): Promise<number> {
  baseline ??= (async () => {
    const { result } = await run('ru02', { mode: 'cold' }, 'reuse-fresh');
    expect(result.disks?.[0]?.transport).toBe('allocated-areas');
    expect(result.disks?.[0]?.reuse).toBeUndefined();
    const bytes = bytesMoved(result);
    expect(bytes).toBeGreaterThan(SIZE_MIB * MiB);
    await expectLanded('ru02', result);
    return bytes;
  })();
  return baseline;
}

describe('a real migration after a test migration (integration)', () => {
  it('a fresh real migration of an identical VM: the baseline', async () => {
    await freshBytes();
  }, 600_000);

  it('moves only the areas written since the test (≤ 10 % of a fresh run), target equal to the source', async () => {
    const fresh = await freshBytes();
    const { test } = await testThenWrite('ru01');
    const { result } = await run('ru01', { mode: 'cold' }, 'reuse-real');
    // First what a user checks: the target runs with the source's bytes (the 64 KiB write included).
    await expectLanded('ru01', result);
    const disk = result.disks?.[0];
    expect(disk?.reuse).toEqual({ fromMigration: test.id, reused: true });
    expect(disk?.allocatedBytes).toBe(128 * 1024);
    const moved = bytesMoved(result);
    console.log(
      `bytes moved: fresh ${fresh}, after the test ${moved} (${((100 * moved) / fresh).toFixed(2)} %)`,
    );
    expect(moved).toBeLessThanOrEqual(0.1 * fresh);
    expect(result.warnings.some((w) => w.includes(`test migration ${test.id} kept`))).toBe(true);
  }, 600_000);

  it('change tracking reset on the source since the test: the disk is copied whole, the report says why', async () => {
    await testThenWrite('ru03');
    const source = await vmNamed('esx-a', 'ru03');
    await client('esx-a').disks.setChangeTracking(
      source?.ref ?? { type: 'VirtualMachine', value: '' },
      false,
    );
    const { result } = await run('ru03', { mode: 'cold' }, 'reuse-reset');
    const disk = result.disks?.[0];
    expect(disk?.reuse?.reused).toBe(false);
    expect(disk?.reuse?.reason).toMatch(/change tracking does not vouch for the changes since the test/);
    expect(disk?.allocatedBytes).toBe(SIZE_MIB * MiB);
    expect(bytesMoved(result)).toBeGreaterThanOrEqual(0.9 * (await freshBytes()));
    await expectLanded('ru03', result);
  }, 600_000);

  it('the kept copy modified since the test: the disk is copied whole, the report says why', async () => {
    await testThenWrite('ru04');
    // Past the kept file's modification time, so the write below moves it.
    await new Promise((r) => setTimeout(r, 50));
    // Something wrote to the kept extent (not through quickmig): its modification time moves.
    const fd = openSync(flat('esx-b', 'ru04'), 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xee), 0, 4096, 5 * MiB);
    closeSync(fd);
    const { result } = await run('ru04', { mode: 'cold' }, 'reuse-modified');
    const disk = result.disks?.[0];
    expect(disk?.reuse?.reused).toBe(false);
    expect(disk?.reuse?.reason).toMatch(
      /the kept copy \[datastore1\] ru04\/ru04-flat\.vmdk changed since the test/,
    );
    expect(bytesMoved(result)).toBeGreaterThanOrEqual(0.9 * (await freshBytes()));
    await expectLanded('ru04', result);
    expect(existsSync(vmDir('esx-b', 'ru04'))).toBe(true);
  }, 600_000);
});
