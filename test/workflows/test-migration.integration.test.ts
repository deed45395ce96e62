/**
 * The test migration (options.test, issue 21 part 1) on a lab of its own with the quick profile: the
 * copy boots on the target as `<name>-test` with no connected network adapter while the source runs
 * on, untouched (power state sampled throughout, its disk's bytes and its inventory before and after);
 * the test VM is then removed (at once, or at `cleanupTest` with keep). With options.test.network its
 * adapters are connected on that isolated port group instead; a network the target host lacks, or the
 * source's own, is refused before any change.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { OperationRefusedError } from '../../src/client/failures';
import { QuickmigClient } from '../../src/client/migrations';
import type { LabInfo } from '../../src/lab/lab';
import type { TopologyVm } from '../../src/lab/topology';
import type { MigrationRequestInput } from '../../src/request/request';
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import { quickMigration } from '../../src/workflows/quick-migration';
import { labEnv, runCli } from '../cli/support';
import { controlOf, startPrivateLab, stopPrivateLab, twoHostTopology } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { progressUntil, startWorker } from '../support/worker';
import { connect } from '../vsphere/helpers';

let lab: LabInfo;
let worker: TestWorker;
let quickmig: QuickmigClient;
const clients: Record<string, VSphereClient> = {};
const client = (name: string) => clients[name] as VSphereClient;

function topology(): string {
  const vm = (name: string, nics = 1): TopologyVm => ({
    name,
    nics,
    host: 'esx-a.lab',
    datastore: 'datastore1',
    memoryMiB: 256,
    power: 'poweredOn',
    disks: [{ sizeMiB: 8 }],
    // No background writes: "unchanged by bytes" is then exact.
    guestWriteBytesPerSec: 0,
  });
  // tst01 and tst04 have two adapters: every one of them is disconnected, or moved.
  return twoHostTopology('test-migration', [vm('tst01', 2), vm('tst02'), vm('tst03'), vm('tst04', 2)]);
}

beforeAll(async () => {
  lab = await startPrivateLab('test-migration', topology());
  worker = await startWorker(lab);
  quickmig = new QuickmigClient(worker.client, { taskQueue: worker.taskQueue });
  for (const name of ['esx-a', 'esx-b']) clients[name] = await connect(lab, name);
});

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
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** What "the source is untouched" compares: identity, placement, power, snapshots, disks and adapters. */
function inventoryOf(vm: VmFacts | undefined) {
  if (!vm) return undefined;
  return {
    name: vm.name,
    moref: vm.ref.value,
    uuid: vm.uuid,
    host: vm.host?.value,
    powerState: vm.powerState,
    snapshots: vm.snapshots.length,
    vmxPath: vm.vmxPath,
    disks: vm.disks.map((d) => ({ key: d.key, chain: d.chain.map((c) => c.fileName) })),
    nics: vm.nics.map((n) => ({ mac: n.macAddress, connected: n.connected, network: n.network })),
  };
}

const request = (name: string, test: MigrationRequestInput['options']): MigrationRequestInput => ({
  source: { endpoint: 'esx-a', name },
  target: { endpoint: 'esx-b', datastore: 'datastore1' },
  options: { ...test },
});

/**
 * Samples the source's power state every 200 ms until stopped: any state but poweredOn is a failure
 * of "the source runs throughout".
 */
function watchSource(name: string) {
  const seen = new Set<string>();
  let samples = 0;
  let stop = false;
  const done = (async () => {
    while (!stop) {
      const vm = await vmNamed('esx-a', name);
      seen.add(vm?.powerState ?? 'missing');
      samples++;
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  // A test that fails before end() stops the sampling too, before the clients close.
  onTestFinished(() => {
    stop = true;
    return done.catch(() => undefined);
  });
  return {
    async end() {
      stop = true;
      await done;
      // A test migration takes seconds: one sample would say nothing about "throughout".
      if (samples < 2) throw new Error(`the source ${name} was sampled ${samples} time(s) only`);
      return { states: [...seen], samples };
    },
  };
}

describe('test migration (integration)', () => {
  it('boots <name>-test isolated with keep, the source running and unchanged, and removes it at cleanup', async () => {
    const flat = join(vmDir('esx-a', 'tst01'), 'tst01-flat.vmdk');
    const bytesBefore = sha256(flat);
    const before = inventoryOf(await vmNamed('esx-a', 'tst01'));
    expect(before?.powerState).toBe('poweredOn');
    expect(before?.nics.length).toBe(2);
    expect(before?.nics.every((n) => n.connected === true)).toBe(true);

    const watch = watchSource('tst01');
    const handle = await worker.client.workflow.start(quickMigration, {
      taskQueue: worker.taskQueue,
      workflowId: `test-keep-${Date.now()}`,
      // keepDisks false: the cleanup removes the whole copy (the default keeps the copied disks; tst02).
      args: [request('tst01', { test: { keep: true, keepDisks: false } })],
    });
    const kept = await progressUntil(handle, (p) => p.step === 'keep-test');
    expect(kept.phase).toBe('testing');
    expect(kept.plan?.steps).toEqual([
      'preflight',
      'make-folders',
      'snapshot',
      'bulk-copy',
      'remove-snapshot',
      'register-test',
      'boot-test',
      'keep-test',
      'cleanup-test',
    ]);
    expect(kept.test?.bootMs).toBeGreaterThan(0);

    // The test VM runs on the target, every adapter disconnected; the source runs beside it, as before.
    const testVm = await vmNamed('esx-b', 'tst01-test');
    expect(testVm?.powerState).toBe('poweredOn');
    expect(testVm?.guestHeartbeat).toBe('green');
    expect(testVm?.nics.length).toBe(before?.nics.length);
    expect(testVm?.nics.map((n) => [n.startConnected, n.connected])).toEqual(
      testVm?.nics.map(() => [false, false]),
    );
    // It runs on a delta of its own over the copied base: its guest's writes leave the copy as the
    // source's disk was at the migration snapshot (what a later real run could reuse).
    expect(testVm?.disks.map((d) => d.chain.length)).toEqual([2]);
    const copiedBase = join(vmDir('esx-b', 'tst01'), 'tst01-flat.vmdk');
    const marker = Buffer.from('written by the test VM'.padEnd(512, '.'));
    await controlOf(lab, 'esx-b').guestWrite(testVm?.ref.value ?? '', 0, 0, marker);
    expect(sha256(copiedBase)).toBe(bytesBefore);
    // The write landed, in the test VM's own delta.
    const deltas = readdirSync(vmDir('esx-b', 'tst01')).filter((f) => f.endsWith('-delta.vmdk'));
    expect(deltas.some((f) => readFileSync(join(vmDir('esx-b', 'tst01'), f)).includes(marker))).toBe(true);
    expect(inventoryOf(await vmNamed('esx-a', 'tst01'))).toEqual(before);
    expect(sha256(flat)).toBe(bytesBefore);

    // The operator's view and the cleanup, through the CLI.
    const cli = (...args: string[]) =>
      runCli([...args, handle.workflowId, '--task-queue', worker.taskQueue], labEnv(lab));
    const status = await cli('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      /testing\/keep-test .*quickmig cleanup \S+: tst01-test runs isolated until then/,
    );
    const cleaned = await cli('cleanup');
    expect(cleaned.code).toBe(0);
    expect(cleaned.stdout).toContain(
      "unregistered the test VM tst01-test (powered off first); deleted the test copy's folders [datastore1] tst01",
    );
    const result = await handle.result();
    const source = await watch.end();

    expect(result.test).toMatchObject({
      vm: { name: 'tst01-test', moref: testVm?.ref.value },
      isolated: 'adapters-disconnected',
      kept: true,
      mode: result.mode,
    });
    expect(result.test?.bootMs).toBeGreaterThan(0);
    expect(result.test?.projectedDowntimeMs).toBeGreaterThan(0);
    // Re-projected with the test's measured copy rate (the terms say so).
    expect(result.test?.afterTest?.mode).toBe(result.mode);
    expect(
      result.test?.afterTest?.terms.some((t) => t.how.includes('measured over this test’s copies')),
    ).toBe(true);
    expect(result.downtimeMs).toBeNull();
    expect(result.source.action).toBe('kept');

    // Gone from the target, inventory and files; the source ran throughout and is as it was.
    expect(await vmNamed('esx-b', 'tst01-test')).toBeUndefined();
    expect(existsSync(vmDir('esx-b', 'tst01'))).toBe(false);
    expect(source.samples).toBeGreaterThan(3);
    expect(source.states).toEqual(['poweredOn']);
    expect(inventoryOf(await vmNamed('esx-a', 'tst01'))).toEqual(before);
    expect(sha256(flat)).toBe(bytesBefore);

    // The update is refused once the migration has ended.
    await expect(quickmig.cleanupTest(handle.workflowId)).rejects.toBeInstanceOf(OperationRefusedError);
    const late = await cli('cleanup');
    expect(late.code).toBe(1);
    expect(late.stderr).toContain(`cleanup ${handle.workflowId} refused`);
  });

  it('without keep, removes the test VM by itself once its heartbeat was seen', async () => {
    const flat = join(vmDir('esx-a', 'tst02'), 'tst02-flat.vmdk');
    const bytesBefore = sha256(flat);
    const before = inventoryOf(await vmNamed('esx-a', 'tst02'));
    const watch = watchSource('tst02');
    const handle = await worker.client.workflow.start(quickMigration, {
      taskQueue: worker.taskQueue,
      workflowId: `test-once-${Date.now()}`,
      args: [request('tst02', { test: true })],
    });
    const result = await handle.result();
    const source = await watch.end();
    expect(result.test?.kept).toBe(false);
    expect(result.test?.heartbeatAt).not.toBeNull();
    expect(result.test?.cleanup).toHaveLength(2);
    expect(await vmNamed('esx-b', 'tst02-test')).toBeUndefined();
    // keepDisks (the default): the copied base disk stays, with the marker; the test VM's files are gone.
    expect(readdirSync(vmDir('esx-b', 'tst02')).sort()).toEqual([
      '.quickmig-migration',
      'quickmig-test.json',
      'tst02-flat.vmdk',
      'tst02.vmdk',
    ]);
    expect(sha256(join(vmDir('esx-b', 'tst02'), 'tst02-flat.vmdk'))).toBe(bytesBefore);
    const marker = JSON.parse(readFileSync(join(vmDir('esx-b', 'tst02'), 'quickmig-test.json'), 'utf8'));
    expect(marker).toEqual(result.test?.keptDisks);
    expect(marker).toMatchObject({
      version: 1,
      migrationId: handle.workflowId,
      source: { endpoint: 'esx-a', name: 'tst02', moref: before?.moref },
      disks: [
        {
          key: before?.disks[0]?.key,
          changeId: expect.stringMatching(/^.+\/\d+$/),
          capacityBytes: 8 * 1024 * 1024,
          descriptor: '[datastore1] tst02/tst02.vmdk',
          target: '[datastore1] tst02/tst02-flat.vmdk',
          size: 8 * 1024 * 1024,
        },
      ],
    });
    expect(result.test?.cleanup.at(-1)).toContain('kept the copied disks [datastore1] tst02/tst02.vmdk');
    expect(source.states).toEqual(['poweredOn']);
    expect(inventoryOf(await vmNamed('esx-a', 'tst02'))).toEqual(before);
    expect(sha256(flat)).toBe(bytesBefore);
  });
  it('options.test.network: the test VM connected on the isolated port group, the source on its own', async () => {
    const before = inventoryOf(await vmNamed('esx-a', 'tst04'));
    expect(before?.nics.map((n) => n.network)).toEqual(['VM Network', 'VM Network']);
    const watch = watchSource('tst04');
    const handle = await worker.client.workflow.start(quickMigration, {
      taskQueue: worker.taskQueue,
      workflowId: `test-network-${Date.now()}`,
      args: [request('tst04', { test: { keep: true, network: 'test-isolated' } })],
    });
    await progressUntil(handle, (p) => p.step === 'keep-test');
    const testVm = await vmNamed('esx-b', 'tst04-test');
    expect(testVm?.powerState).toBe('poweredOn');
    expect(testVm?.nics.map((n) => [n.network, n.startConnected, n.connected, n.macAddress])).toEqual(
      before?.nics.map((n) => ['test-isolated', true, true, n.mac]),
    );
    expect(inventoryOf(await vmNamed('esx-a', 'tst04'))).toEqual(before);
    await quickmig.cleanupTest(handle.workflowId);
    const result = await handle.result();
    const source = await watch.end();
    expect(result.test).toMatchObject({
      isolated: 'test-network',
      network: {
        name: 'test-isolated',
        adapters: [
          { label: 'Network adapter 1', macAddress: before?.nics[0]?.mac },
          { label: 'Network adapter 2', macAddress: before?.nics[1]?.mac },
        ],
      },
    });
    expect(await vmNamed('esx-b', 'tst04-test')).toBeUndefined();
    expect(source.states).toEqual(['poweredOn']);
    expect(inventoryOf(await vmNamed('esx-a', 'tst04'))).toEqual(before);
  });

  it("options.test.network the target host lacks, or the source's network: refused before any change", async () => {
    const before = inventoryOf(await vmNamed('esx-a', 'tst04'));
    // The target folder as it is (the copy the test above kept there, or none when run alone).
    const listing = () =>
      existsSync(vmDir('esx-b', 'tst04')) ? readdirSync(vmDir('esx-b', 'tst04')).sort() : null;
    const folderBefore = listing();
    for (const [network, wording] of [
      ['lab-isolated', /has no network 'lab-isolated' \(its networks: 'VM Network', 'test-isolated'\)/],
      ['VM Network', /tst04's adapters are on 'VM Network': the test VM keeps their MAC addresses/],
    ] as const) {
      const handle = await worker.client.workflow.start(quickMigration, {
        taskQueue: worker.taskQueue,
        workflowId: `test-network-refused-${Date.now()}`,
        args: [request('tst04', { test: { network } })],
      });
      const failure = await handle.result().catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const message = String((failure as WorkflowFailedError).cause?.message);
      expect(message).toMatch(wording);
      expect(message).toContain('options.test.network');
      expect(listing()).toEqual(folderBefore);
      expect(await vmNamed('esx-b', 'tst04-test')).toBeUndefined();
      expect(inventoryOf(await vmNamed('esx-a', 'tst04'))).toEqual(before);
    }
  });

  it("a failure at the test VM's boot removes it and its folders; the source ran throughout, unchanged", async () => {
    const flat = join(vmDir('esx-a', 'tst03'), 'tst03-flat.vmdk');
    const bytesBefore = sha256(flat);
    const before = inventoryOf(await vmNamed('esx-a', 'tst03'));
    await controlOf(lab, 'esx-b').addFault({
      kind: 'soap',
      method: 'PowerOnVM_Task',
      fault: 'InsufficientResourcesFault',
      count: 1,
    });
    const watch = watchSource('tst03');
    const handle = await worker.client.workflow.start(quickMigration, {
      taskQueue: worker.taskQueue,
      workflowId: `test-fails-${Date.now()}`,
      args: [request('tst03', { test: true })],
    });
    const failure = await handle.result().catch((e: unknown) => e);
    const source = await watch.end();
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const message = String((failure as WorkflowFailedError).cause?.message);
    expect(message).toMatch(
      /^test migration of tst03 failed at step boot-test: .*Undone: unregistered the test VM tst03-test \(powered off first\); deleted the test copy's folders \[datastore1\] tst03\. The source ran throughout and is poweredOn as before\.$/,
    );
    expect(await vmNamed('esx-b', 'tst03-test')).toBeUndefined();
    expect(existsSync(vmDir('esx-b', 'tst03'))).toBe(false);
    expect(source.states).toEqual(['poweredOn']);
    expect(inventoryOf(await vmNamed('esx-a', 'tst03'))).toEqual(before);
    expect(sha256(flat)).toBe(bytesBefore);
  });
});
