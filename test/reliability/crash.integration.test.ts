/**
 * Crash matrix: the worker process is killed with SIGKILL at each phase boundary and inside each long
 * step, then started again; the migration must complete (or, killed during its rollback, finish the
 * rollback) with verified bytes, exactly one target VM, no orphan snapshot, file or registration, and an
 * honest downtime. A latency fault holds the step open so the kill lands inside it; a short
 * `controlStepTimeout`/`transferHeartbeatTimeout` lets Temporal retry the lost attempt in seconds.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRule } from '../../src/lab/control';
import type { LabInfo } from '../../src/lab/lab';
import type { MigrationProgress, MigrationResult } from '../../src/workflows/definitions';
import { progressQuery } from '../../src/workflows/definitions';
import { controlOf, startPrivateLab } from '../support/lab';
import type { Clients, Estate, WorkerProcess } from './support';
import {
  checkCompleted,
  checkRolledBack,
  Matrix,
  quietAfterSnapshot,
  runningActivity,
  SOAK,
  smallVm,
  tearDownRig,
  topologyWith,
  waitUntil,
  workerRig,
} from './support';

type Handle = WorkflowHandle;
interface CrashCase {
  point: string;
  vm: string;
  faults: { endpoint: string; rule: FaultRule }[];
  /** True when the moment to kill has come. */
  when(handle: Handle, progress: () => Promise<MigrationProgress>): Promise<boolean>;
  /** The migration fails on purpose and must roll back (crash during compensation). */
  rollsBack?: boolean;
  /** Request options beyond the defaults (e.g. a downtime budget for warm migration). */
  options?: Record<string, unknown>;
  quick: boolean;
  extra?: () => Promise<void>;
}

const hold = (
  endpoint: string,
  method: string,
  ms = 2000,
  path?: string,
): { endpoint: string; rule: FaultRule } => ({
  endpoint,
  rule: { kind: 'latency', method, ms, count: 1, ...(path ? { path } : {}) },
});
const running = (type: string) => async (h: Handle) => (await runningActivity(h, type)) !== undefined;

const CASES: CrashCase[] = [
  {
    point: 'inside preflight',
    vm: 'k-pre',
    quick: false,
    faults: [hold('esx-b', 'RetrievePropertiesEx')],
    when: running('preflight'),
  },
  {
    point: 'inside config (target folders)',
    vm: 'k-cfg',
    quick: false,
    faults: [hold('esx-b', 'MakeDirectory')],
    when: running('makeFolders'),
  },
  {
    point: 'inside the snapshot of the source',
    vm: 'k-snap',
    quick: true,
    faults: [hold('esx-a', 'CreateSnapshot_Task')],
    when: running('snapshotVm'),
  },
  {
    point: 'bulk copy, between files (first disk done, second held)',
    vm: 'k-files',
    quick: true,
    faults: [hold('esx-a', 'GET', 6000, 'k-files_1-flat.vmdk')],
    when: async (h) => {
      const a = await runningActivity(h, 'copyFiles');
      const done = (a?.heartbeat as { done?: { target: string }[] } | undefined)?.done ?? [];
      return done.some((f) => f.target.endsWith('/k-files-flat.vmdk'));
    },
  },
  {
    point: 'bulk copy, mid-file (a 768 MiB extent partly moved)',
    vm: 'k-mid',
    quick: true,
    faults: [],
    when: async (h) => {
      const a = await runningActivity(h, 'copyFiles');
      const hb = a?.heartbeat as
        | { current?: { target: string; phase: string; bytes: number; size: number }[]; done?: unknown[] }
        | undefined;
      return (hb?.current ?? []).some(
        (f) => f.target.endsWith('k-mid_1-flat.vmdk') && f.bytes > 0 && f.bytes < f.size,
      );
    },
  },
  {
    point: 'inside a pre-copy round (warm migration: the round snapshot of the running source)',
    vm: 'k-warm',
    quick: true,
    // The budget is not what this case tests: whatever the projection, switch over (never wait for an approval).
    options: { maxDowntimeMs: 60_000, precopy: { onBudgetMiss: 'switchover' } },
    // The first hold delays the migration snapshot, the second the round's: the kill lands in the latter.
    faults: [
      { endpoint: 'esx-a', rule: { kind: 'latency', method: 'CreateSnapshot_Task', ms: 3000, count: 2 } },
    ],
    when: async (h, progress) => (await progress()).phase === 'precopy' && (await running('snapshotVm')(h)),
  },
  {
    point: 'inside the suspend of the source (switchover)',
    vm: 'k-susp',
    quick: false,
    faults: [hold('esx-a', 'SuspendVM_Task')],
    when: running('stopSource'),
  },
  {
    point: 'after the source is suspended, during the delta copy',
    vm: 'k-delta',
    quick: true,
    faults: [hold('esx-a', 'GET', 5000, '.vmss')],
    when: async (h, progress) =>
      (await running('copyFiles')(h)) && (await progress()).sourceStoppedAt !== null,
  },
  {
    point: 'inside the registration of the target',
    vm: 'k-reg',
    quick: false,
    faults: [hold('esx-b', 'RegisterVM_Task')],
    when: running('registerVm'),
  },
  {
    point: 'inside the power-on of the target (source suspended, target not yet running)',
    vm: 'k-res',
    quick: true,
    faults: [hold('esx-b', 'PowerOnVM_Task')],
    when: running('startTarget'),
  },
  {
    point: 'inside finalize (consolidation on the target)',
    vm: 'k-cons',
    quick: false,
    faults: [hold('esx-b', 'ConsolidateVMDisks_Task')],
    when: running('consolidateVm'),
  },
  {
    point: 'inside finalize (unregistering the source)',
    vm: 'k-unreg',
    quick: false,
    faults: [hold('esx-a', 'UnregisterVM')],
    when: running('unregisterVm'),
  },
  {
    point: 'during compensation (restoring the source after a failed target power-on)',
    vm: 'k-comp',
    quick: true,
    rollsBack: true,
    faults: [
      {
        endpoint: 'esx-b',
        rule: { kind: 'soap', method: 'PowerOnVM_Task', fault: 'InsufficientResourcesFault', count: 1 },
      },
      hold('esx-a', 'PowerOnVM_Task'),
    ],
    when: async (h, progress) =>
      // The rollback starts the source as the switchover starts a target (answering a question too).
      (await progress()).phase === 'rolling-back' && (await running('startTarget')(h)),
  },
];

const selected = CASES.filter((c) => SOAK || c.quick);

let lab: LabInfo;
let worker: WorkerProcess;
let clients: Clients;
let estate: Estate;
const matrix = new Matrix('crash');

beforeAll(async () => {
  lab = await startPrivateLab(
    'reliability-crash',
    topologyWith(
      CASES.map((c) =>
        c.vm === 'k-mid'
          ? smallVm(c.vm, { disks: [{ sizeMiB: 8 }, { sizeMiB: 768 }], guestWriteBytesPerSec: 0 })
          : smallVm(c.vm),
      ),
    ),
  );
  ({ worker, clients, estate } = await workerRig(lab));
});

afterAll(async () => {
  matrix.write();
  await tearDownRig({ lab, worker, clients, estate });
});

describe('crash matrix: kill -9 of the worker, restart, the migration completes or compensates', () => {
  it.each(selected)('kill -9 $point', async (c) => {
    await matrix.run(c.point, async () => {
      for (const f of c.faults) await controlOf(lab, f.endpoint).addFault(f.rule);
      const marks = await estate.marks();
      const handle = await clients.temporal.workflow.start('quickMigration', {
        taskQueue: worker.taskQueue,
        workflowId: `crash-${c.vm}-${Date.now()}`,
        args: [
          {
            source: { endpoint: 'esx-a', name: c.vm },
            target: { endpoint: 'esx-b', datastore: 'datastore1' },
            ...(c.options ? { options: c.options } : {}),
          },
          { transferHeartbeatTimeout: '3s', controlStepTimeout: '4s' },
        ],
      });
      const quiet = quietAfterSnapshot(estate, c.vm);
      const progress = () => handle.query(progressQuery);
      await waitUntil(`the moment to kill (${c.point})`, () => c.when(handle, progress), 90_000);
      const atKill = await progress();
      const heartbeatAtKill = (await runningActivity(handle, 'copyFiles'))?.heartbeat as
        | { done?: { target: string }[] }
        | undefined;
      await worker.kill9();
      const killedAt = Date.now();
      for (const ep of new Set(c.faults.map((f) => f.endpoint))) await controlOf(lab, ep).clearFaults();
      await worker.start();

      if (c.rollsBack) {
        const failure = await handle.result().catch((e: unknown) => e);
        expect(failure).toBeInstanceOf(WorkflowFailedError);
        expect(String((failure as WorkflowFailedError).cause?.message)).toMatch(
          /failed at step resume.*Rolled back/s,
        );
        await quiet;
        expect(await checkRolledBack(estate, c.vm)).toEqual([]);
        return `killed in ${atKill.phase}/${atKill.step}; rolled back: ${(await progress()).undone.length} undo steps`;
      }

      const result = (await handle.result()) as MigrationResult;
      await quiet;
      expect(await checkCompleted(estate, c.vm, result)).toEqual([]);
      if (c.options?.maxDowntimeMs !== undefined)
        expect(result.precopy?.rounds.length).toBeGreaterThanOrEqual(1);

      const calls = await estate.calls(marks);
      // Each file was PUT to the target once, except the one cut by the kill (and files a kill interrupted).
      const puts = new Map<string, number>();
      for (const call of calls['esx-b'] ?? [])
        if (call.method === 'HTTP PUT') puts.set(call.object, (puts.get(call.object) ?? 0) + 1);
      const doneBefore = (heartbeatAtKill?.done ?? []).map((f) => f.target);
      for (const target of doneBefore) {
        expect(puts.get(target), `${target} was complete before the kill`).toBe(1);
        expect(result.verified.find((v) => v.target === target)?.skipped, target).toBe(true);
      }
      if (c.vm === 'k-mid' || c.vm === 'k-files') expect(doneBefore.length).toBeGreaterThan(0);

      // Downtime: the VM was down at least from the moment the source stopped until the kill (the
      // target was not running yet), so an honest report is never shorter than that.
      expect(result.downtimeMs).not.toBeNull();
      expect(result.downtimeMs as number).toBeGreaterThan(0);
      if (atKill.sourceStoppedAt !== null && atKill.downtimeMs === null)
        expect(result.downtimeMs as number).toBeGreaterThanOrEqual(killedAt - atKill.sourceStoppedAt);
      return `killed in ${atKill.phase}/${atKill.step}; downtime ${result.downtimeMs} ms; ${doneBefore.length} file(s) done before the kill, not copied again`;
    });
  });
});
