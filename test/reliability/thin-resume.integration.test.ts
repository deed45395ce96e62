/**
 * Resume inside a disk: the worker process is killed with SIGKILL at 60 % of a running VM's 4 GiB thin
 * disk copy (moved by its allocated data), then started again. The migration completes, at most one
 * chunk's extent (≤ 256 MiB) goes over the wire twice, and the target disk's content is the source's.
 * A bandwidth fault on the source's GETs keeps the copy long enough for a heartbeat to land mid-disk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import type { MigrationResult } from '../../src/workflows/definitions';
import { controlOf, startPrivateLab, stopPrivateLab } from '../support/lab';
import {
  clientsFor,
  Estate,
  runningActivity,
  sha256,
  smallVm,
  topologyWith,
  WorkerProcess,
  waitUntil,
} from './support';

const MiB = 1024 * 1024;
let lab: LabInfo;
let worker: WorkerProcess;
let clients: Awaited<ReturnType<typeof clientsFor>>;
let estate: Estate;

beforeAll(async () => {
  lab = await startPrivateLab(
    'reliability-thin-resume',
    topologyWith([
      smallVm('k-thin', {
        datastore: 'IR-NFS',
        disks: [{ sizeMiB: 4096, fill: 'scattered' }],
        guestWriteBytesPerSec: 0,
      }),
    ]),
  );
  worker = new WorkerProcess(lab);
  await worker.start();
  clients = await clientsFor(lab, worker.taskQueue);
  estate = new Estate(lab);
}, 600_000);

afterAll(async () => {
  await worker?.stop();
  await clients?.close();
  await estate?.close();
  if (lab) await stopPrivateLab(lab.dir);
});

interface DiskHeartbeat {
  target: string;
  allocatedBytes: number;
  wireBytes: number;
}

describe('resume inside a disk (integration)', () => {
  it('kill -9 at 60 % of a 4 GiB thin disk: completes, re-sends at most one chunk, content equal', async () => {
    const marks = await estate.marks();
    // 8 MiB/s from the source: each 64 MiB chunk takes ~8 s, so heartbeats (every ~2 s) land mid-disk.
    await controlOf(lab, 'esx-a').addFault({
      kind: 'bandwidth',
      method: 'GET',
      path: 'k-thin-flat',
      bytesPerSec: 8 * MiB,
    });
    const handle = await clients.temporal.workflow.start('quickMigration', {
      taskQueue: worker.taskQueue,
      workflowId: `thin-resume-${Date.now()}`,
      args: [
        {
          source: { endpoint: 'esx-a', name: 'k-thin' },
          target: { endpoint: 'esx-b', datastore: 'datastore1' },
          options: { mode: 'cold' },
        },
        { transferHeartbeatTimeout: '3s', controlStepTimeout: '4s' },
      ],
    });
    const atKill = await waitUntil(
      '60 % of the disk on the wire',
      async () => {
        const running = await runningActivity(handle, 'copyFiles');
        const beat = running?.heartbeat as { disks?: DiskHeartbeat[]; chunks?: unknown[] } | undefined;
        const disk = beat?.disks?.[0];
        // 60 % of the disk's data on the wire, and the completed chunks recorded in the heartbeat.
        return disk !== undefined &&
          disk.wireBytes >= 0.6 * disk.allocatedBytes &&
          (beat?.chunks?.length ?? 0) > 0
          ? { ...disk, chunks: beat?.chunks?.length ?? 0 }
          : undefined;
      },
      300_000,
    );
    await worker.kill9();
    await controlOf(lab, 'esx-a').clearFaults();
    await worker.start();
    const result = (await handle.result()) as MigrationResult;

    const disk = result.disks?.find((d) => d.target === atKill.target);
    expect(disk?.transport).toBe('allocated-areas');
    expect(disk?.chunksKept).toBeGreaterThan(0);
    expect(disk?.resentBytes).toBeLessThanOrEqual(256 * MiB);
    // Independently of the product's report: every extent PUT the target received, by name; a chunk
    // sent twice was re-sent: only the one in flight at the kill. Extents hold at most 64 MiB of data
    // (+ their tables).
    const puts = (await estate.calls(marks))['esx-b']?.filter(
      (c) =>
        c.method === 'HTTP PUT' && /k-thin\.quickmig-thin\/k-thin-s\d{3}\.vmdk\.part$/.test(c.object ?? ''),
    );
    const times = new Map<string, number>();
    for (const p of puts ?? []) times.set(p.object ?? '', (times.get(p.object ?? '') ?? 0) + 1);
    const twice = [...times.values()].filter((n) => n > 1).length;
    expect(times.size).toBeGreaterThan(3);
    expect(twice).toBeLessThanOrEqual(1);
    expect(twice * 65 * MiB).toBeLessThanOrEqual(256 * MiB);
    // Content: the target's disk and the source's (its snapshot merged, the VM kept unregistered).
    const target = `${estate.datastoreDir('esx-b', 'datastore1')}/k-thin/k-thin-flat.vmdk`;
    const source = `${estate.datastoreDir('esx-a', 'IR-NFS')}/k-thin/k-thin-flat.vmdk`;
    expect(await sha256(target)).toBe(await sha256(source));
  }, 900_000);
});
