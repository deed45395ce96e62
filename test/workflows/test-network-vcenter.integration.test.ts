/**
 * A test migration on a vCenter onto a distributed port group (options.test.network): the test VM's
 * adapters are moved onto the port group by its switch UUID and key and connect there, while the source
 * runs on, on its own network. Lab of its own: the default topology's vcenter (its distributed switch
 * dvs-prod with dvpg-test-isolated on both hosts), quick profile, one small VM.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuickmigClient } from '../../src/client/migrations';
import type { LabInfo } from '../../src/lab/lab';
import type { Topology } from '../../src/lab/topology';
import { DEFAULT_TOPOLOGY } from '../../src/lab/topology';
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import { quickMigration } from '../../src/workflows/quick-migration';
import { startPrivateLab, stopPrivateLab } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { progressUntil, startWorker } from '../support/worker';
import { connect } from '../vsphere/helpers';

let lab: LabInfo;
let worker: TestWorker;
let quickmig: QuickmigClient;
let vc: VSphereClient;

function topology(): string {
  const t = JSON.parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Topology;
  const vcenter = t.endpoints.find((e) => e.name === 'vcenter') as Topology['endpoints'][number];
  vcenter.vms = [
    {
      name: 'vt01',
      host: 'esx01.lab',
      datastore: 'local-esx01',
      memoryMiB: 64,
      power: 'poweredOn',
      disks: [{ sizeMiB: 8 }],
      guestWriteBytesPerSec: 0,
    },
  ];
  const file = join(mkdtempSync(join(tmpdir(), 'quickmig-test-network-vc-')), 'topology.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...t,
      profile: 'quick',
      guest: { shutdownSec: 0.5, bootSec: 0.5, resumeSec: 0.2 },
      endpoints: [vcenter],
    }),
  );
  return file;
}

beforeAll(async () => {
  lab = await startPrivateLab('test-network-vc', topology());
  worker = await startWorker(lab);
  quickmig = new QuickmigClient(worker.client, { taskQueue: worker.taskQueue });
  vc = await connect(lab, 'vcenter');
});

afterAll(async () => {
  await vc?.close();
  await worker?.stop();
  if (lab) await stopPrivateLab(lab.dir);
});

async function vmNamed(name: string): Promise<VmFacts | undefined> {
  const vm = (await vc.inventory.listVms()).find((v) => v.name === name);
  return vm ? vc.facts.vm(vm.ref) : undefined;
}

describe('test migration onto a distributed port group (integration)', () => {
  it('connects the test VM on dvpg-test-isolated by switch and key; the source stays on VM Network', async () => {
    const pg = (await vc.inventory.listNetworks()).find((n) => n.name === 'dvpg-test-isolated');
    expect(pg?.ref.type).toBe('DistributedVirtualPortgroup');
    const source = await vmNamed('vt01');
    const sourceNics = source?.nics.map((n) => [n.network, n.portgroupKey, n.connected, n.macAddress]);
    expect(sourceNics).toEqual([['VM Network', undefined, true, expect.any(String)]]);

    const handle = await worker.client.workflow.start(quickMigration, {
      taskQueue: worker.taskQueue,
      workflowId: `test-dvpg-${Date.now()}`,
      args: [
        {
          source: { endpoint: 'vcenter', name: 'vt01' },
          target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'local-esx02' },
          options: { test: { keep: true, network: 'dvpg-test-isolated' } },
        },
      ],
    });
    await progressUntil(handle, (p) => p.step === 'keep-test');
    const testVm = await vmNamed('vt01-test');
    expect(testVm?.powerState).toBe('poweredOn');
    expect(testVm?.networks.map((r) => r.value)).toEqual([pg?.ref.value]);
    expect(testVm?.nics.map((n) => [n.portgroupKey, n.startConnected, n.connected, n.macAddress])).toEqual(
      source?.nics.map((n) => [pg?.ref.value, true, true, n.macAddress]),
    );
    expect(
      (await vmNamed('vt01'))?.nics.map((n) => [n.network, n.portgroupKey, n.connected, n.macAddress]),
    ).toEqual(sourceNics);

    await quickmig.cleanupTest(handle.workflowId);
    const result = await handle.result();
    expect(result.test).toMatchObject({ isolated: 'test-network', network: { name: 'dvpg-test-isolated' } });
    expect(await vmNamed('vt01-test')).toBeUndefined();
    expect((await vmNamed('vt01'))?.powerState).toBe('poweredOn');
  });
});
