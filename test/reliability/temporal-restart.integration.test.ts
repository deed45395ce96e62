/**
 * The Temporal server (dev server, SQLite persistence) is restarted during the bulk copy and during the
 * switchover: the worker process and the test's client reconnect by themselves, and the migration
 * completes with verified bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import { restartTemporal } from '../../src/lab/lab';
import type { MigrationResult } from '../../src/workflows/definitions';
import { progressQuery } from '../../src/workflows/definitions';
import { controlOf, startPrivateLab, stopPrivateLab } from '../support/lab';
import {
  checkCompleted,
  clientsFor,
  Estate,
  Matrix,
  quietAfterSnapshot,
  runningActivity,
  smallVm,
  topologyWith,
  WorkerProcess,
  waitUntil,
} from './support';

let lab: LabInfo;
let worker: WorkerProcess;
let estate: Estate;
const matrix = new Matrix('temporal-restart');

beforeAll(async () => {
  lab = await startPrivateLab(
    'reliability-temporal',
    topologyWith([
      smallVm('r-bulk', { disks: [{ sizeMiB: 8 }, { sizeMiB: 512 }], guestWriteBytesPerSec: 0 }),
      smallVm('r-switch'),
    ]),
  );
  worker = new WorkerProcess(lab);
  await worker.start();
  estate = new Estate(lab);
});

afterAll(async () => {
  matrix.write();
  await worker?.stop();
  await estate?.close();
  if (lab) await stopPrivateLab(lab.dir);
});

/** Retries a client call across the restart (a long poll may be cut while the server is down). */
async function across<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (error) {
      if (i > 20 || !/unavailable|UNAVAILABLE|connect|closed|14/i.test(String(error))) throw error;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

const CASES = [
  {
    name: 'restart during the bulk copy',
    vm: 'r-bulk',
    faults: [] as { endpoint: string; rule: Parameters<ReturnType<typeof controlOf>['addFault']>[0] }[],
    when: async (h: Parameters<typeof runningActivity>[0]) => {
      const hb = (await runningActivity(h, 'copyFiles'))?.heartbeat as { bytesDone?: number } | undefined;
      return (hb?.bytesDone ?? 0) > 0;
    },
  },
  {
    name: 'restart during the switchover (source suspended, delta copy held)',
    vm: 'r-switch',
    faults: [
      {
        endpoint: 'esx-a',
        rule: { kind: 'latency' as const, method: 'GET', path: '.vmss', ms: 6000, count: 1 },
      },
    ],
    when: async (h: Parameters<typeof runningActivity>[0]) =>
      (await h.query(progressQuery)).sourceStoppedAt !== null &&
      (await runningActivity(h, 'copyFiles')) !== undefined,
  },
];

describe('Temporal server restart (SQLite persistence)', () => {
  it.each(CASES)('$name: the migration completes', async (c) => {
    await matrix.run(
      c.name,
      async () => {
        const clients = await clientsFor(lab, worker.taskQueue);
        try {
          for (const f of c.faults) await controlOf(lab, f.endpoint).addFault(f.rule);
          const quiet = quietAfterSnapshot(estate, c.vm);
          const handle = await clients.temporal.workflow.start('quickMigration', {
            taskQueue: worker.taskQueue,
            workflowId: `restart-${c.vm}-${Date.now()}`,
            args: [
              {
                source: { endpoint: 'esx-a', name: c.vm },
                target: { endpoint: 'esx-b', datastore: 'datastore1' },
              },
            ],
          });
          await waitUntil(c.name, () => c.when(handle), 90_000);
          const started = Date.now();
          await restartTemporal(lab.dir);
          const restartMs = Date.now() - started;
          const result = (await across(() => handle.result())) as MigrationResult;
          await quiet;
          expect(await checkCompleted(estate, c.vm, result)).toEqual([]);
          expect(worker.child?.exitCode ?? null).toBeNull();
          return `server down ${restartMs} ms; ${result.verified.length} files verified; downtime ${result.downtimeMs} ms`;
        } finally {
          await clients.close();
        }
      },
      (d) => d,
    );
  });
});
