/**
 * Real-host faults of the guest, of VM questions and of other clients (issue 18, faults 1 to 3), each
 * against the lab's `quick` profile (the faults are about behaviour, not time): a question quickmig must
 * not answer (the uuid question offering only Cancel, an unknown question at power-on), a guest shutdown
 * that goes wrong (Tools stop responding, the guest ignores it, the guest restarts instead of halting,
 * another client powers the source on again), and another client's tasks and snapshots on the VM (a
 * backup job). Every case ends completed, or rolled back with the source as it was (power state,
 * registration, the same files) and nothing left on the target, and the error names the cause.
 * RELIABILITY.md "Real-host faults: guest, questions, other clients" quotes the rows.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationFailedError } from '../../src/client/failures';
import type { LabInfo } from '../../src/lab/lab';
import type { MigrationRequestInput } from '../../src/request/request';
import type { MigrationResult, QuickMigrationOptions } from '../../src/workflows/definitions';
import { HistoryRecorder } from '../support/histories';
import { controlOf, startPrivateLab } from '../support/lab';
import type { Clients, Estate, WorkerProcess } from './support';
import {
  checkCompleted,
  checkRolledBack,
  Matrix,
  quietAfterSnapshot,
  smallVm,
  tearDownRig,
  topologyWith,
  waitUntil,
  workerRig,
} from './support';

let lab: LabInfo;
let worker: WorkerProcess;
let clients: Clients;
let estate: Estate;
const matrix = new Matrix('realhost-guest');
/** The histories of the new paths (patches source-stays-stopped, rollback-continues) for the replay test. */
const histories = new HistoryRecorder();

/** A quiet VM (no guest writes): the cases are about the guest and vSphere, not about the delta. */
const vm = (name: string, extra: Parameters<typeof smallVm>[1] = {}) =>
  smallVm(name, { guestWriteBytesPerSec: 4096, ...extra });

beforeAll(async () => {
  const file = topologyWith([
    vm('q-uuid', { uuidQuestion: 'cancelOnly' }),
    vm('q-uuid2'),
    vm('q-unknown'),
    vm('q-pending'),
    vm('g-tools'),
    vm('g-ignore'),
    vm('g-restart'),
    vm('g-poweron'),
    vm('t-snapshot'),
    vm('t-switch'),
    vm('t-consolidate'),
    vm('t-backup'),
  ]);
  // The quick profile: guests boot and shut down in a second, copies run at full speed.
  const topology = JSON.parse(readFileSync(file, 'utf8')) as { profile?: string };
  topology.profile = 'quick';
  writeFileSync(file, JSON.stringify(topology));
  lab = await startPrivateLab('reliability-realhost-guest', file);
  ({ worker, clients, estate } = await workerRig(lab));
});

afterAll(async () => {
  matrix.write();
  await histories.record();
  await tearDownRig({ lab, worker, clients, estate });
});

/** The files of a VM's folder on esx-a's datastore1, sorted. */
function sourceFiles(name: string): string[] {
  const dir = join(estate.datastoreDir('esx-a', 'datastore1'), name);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Starts a migration of `name` from esx-a to esx-b; the retry budget of a control step is 8 s. */
async function start(
  name: string,
  options: MigrationRequestInput['options'] = {},
  workflow: QuickMigrationOptions = {},
): Promise<{ id: string; handle: WorkflowHandle }> {
  const id = `realhost-${name}-${Date.now()}`;
  const handle = await clients.temporal.workflow.start('quickMigration', {
    taskQueue: worker.taskQueue,
    workflowId: id,
    args: [
      {
        source: { endpoint: 'esx-a', name },
        target: { endpoint: 'esx-b', datastore: 'datastore1' },
        options,
      },
      { controlRetryTimeout: '8s', ...workflow },
    ],
  });
  return { id, handle };
}

/** The migration's failure (a MigrationFailedError), or a test failure when it completed. */
async function failureOf(id: string): Promise<MigrationFailedError> {
  const error = await clients.quickmig.result(id).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MigrationFailedError);
  return error as MigrationFailedError;
}

/**
 * Asserts a clean rollback: checkRolledBack, and the source's folder holds the files it held before;
 * the one addition allowed is the snapshot database `<name>.vmsd` listing no snapshot, which a host
 * keeps once a VM had a snapshot (the migration's, merged away).
 */
async function expectRolledBack(name: string, before: string[], power = 'poweredOn'): Promise<void> {
  expect(await checkRolledBack(estate, name, power)).toEqual([]);
  const vmsd = `${name}.vmsd`;
  const after = sourceFiles(name);
  expect(after.filter((f) => f !== vmsd || before.includes(vmsd))).toEqual(before);
  if (after.includes(vmsd)) {
    const db = readFileSync(join(estate.datastoreDir('esx-a', 'datastore1'), name, vmsd), 'utf8');
    expect(db).not.toMatch(/displayName/);
  }
}

/** Activity attempts after a first one that failed with TaskInProgress, from the workflow's history. */
async function retriedOnTaskInProgress(handle: WorkflowHandle): Promise<number> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.filter(
    (e) =>
      (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1 &&
      /TaskInProgress|Another task/.test(e.activityTaskStartedEventAttributes?.lastFailure?.message ?? ''),
  ).length;
}

describe('VM questions at power-on: never answered blindly, never waited on for ever', () => {
  it('a VM whose uuid question offers only Cancel: never asked (the target keeps its identity), completed', async () => {
    await matrix.run(
      'uuid question unanswerable (Cancel only): not asked',
      async () => {
        const uuid = (await estate.vm('esx-a', 'q-uuid'))?.uuid;
        const marks = await estate.marks();
        const quiet = quietAfterSnapshot(estate, 'q-uuid');
        const { id } = await start('q-uuid');
        const result = (await clients.quickmig.result(id)) as MigrationResult;
        await quiet;
        expect(await checkCompleted(estate, 'q-uuid', result)).toEqual([]);
        // quickmig writes uuid.action = "keep" into the target's .vmx (the VM was moved), so a host
        // does not ask at all: no AnswerVM, the same BIOS UUID.
        expect((await estate.calls(marks))['esx-b']?.filter((c) => c.method === 'AnswerVM')).toEqual([]);
        expect((await estate.vm('esx-b', 'q-uuid'))?.uuid).toBe(uuid);
        return result;
      },
      (r) => `completed, no question asked; downtime ${r.downtimeMs} ms`,
    );
  });

  it('the uuid question asked anyway with only Cancel: cancelled, rolled back, the error names msg.uuid.altered', async () => {
    await matrix.run(
      'uuid question unanswerable (Cancel only): asked anyway',
      async () => {
        const before = sourceFiles('q-uuid2');
        // A host that asks despite uuid.action (the question as ESXi words it, offering only Cancel).
        await controlOf(lab, 'esx-b').addFault({
          kind: 'question',
          method: 'PowerOnVM_Task',
          messageId: 'msg.uuid.altered',
          text: 'This virtual machine might have been moved or copied. In order to configure certain management and networking features, VMware ESX needs to know if this virtual machine was moved or copied.',
          choices: ['button.uuid.cancel'],
          count: 1,
        });
        try {
          const { id } = await start('q-uuid2');
          const failure = await failureOf(id);
          expect(failure.step).toBe('resume');
          expect(failure.message).toMatch(/msg\.uuid\.altered/);
          expect(failure.message).toMatch(/might have been moved or copied/);
          expect(failure.message).toMatch(/answered button\.uuid\.cancel so the power-on ends/);
          await expectRolledBack('q-uuid2', before);
          return failure.message;
        } finally {
          await controlOf(lab, 'esx-b').clearFaults();
        }
      },
      (m) => m.slice(0, 240),
    );
  });

  it('an unknown question (msg.hbacommon.outofspace, Retry or Cancel): Cancel, never Retry; rolled back, named', async () => {
    await matrix.run(
      'unknown question at power-on',
      async () => {
        const before = sourceFiles('q-unknown');
        const text =
          "There is no more space for virtual disk 'q-unknown-000001.vmdk'. You might be able to continue this session by freeing disk space on the relevant volume, and clicking Retry. Click Cancel to terminate this session.";
        // Choice keys as ESXi numbers them for this question: 0 Retry, 1 Cancel.
        await controlOf(lab, 'esx-b').addFault({
          kind: 'question',
          method: 'PowerOnVM_Task',
          messageId: 'msg.hbacommon.outofspace',
          text,
          choices: ['Retry', 'Cancel'],
          count: 1,
        });
        try {
          const { id } = await start('q-unknown');
          const failure = await failureOf(id);
          expect(failure.step).toBe('resume');
          expect(failure.message).toMatch(/msg\.hbacommon\.outofspace/);
          expect(failure.message).toMatch(/no more space for virtual disk/);
          expect(failure.message).toMatch(/answered Cancel/);
          await expectRolledBack('q-unknown', before);
          return failure.message;
        } finally {
          await controlOf(lab, 'esx-b').clearFaults();
        }
      },
      (m) => m.slice(0, 240),
    );
  });

  it('a question offering neither Cancel nor Abort: left to a person, named; the rollback goes on and starts the source', async () => {
    await matrix.run(
      'question without Cancel or Abort at power-on',
      async () => {
        const before = sourceFiles('q-pending');
        await controlOf(lab, 'esx-b').addFault({
          kind: 'question',
          method: 'PowerOnVM_Task',
          messageId: 'msg.hbacommon.locklost',
          text: 'The lock protecting q-pending-000001.vmdk has been lost, possibly due to underlying storage issues.',
          choices: ['OK'],
          count: 1,
        });
        try {
          const { id, handle } = await start('q-pending');
          histories.add('realhost-pending01', handle);
          const failure = await failureOf(id);
          expect(failure.step).toBe('resume');
          expect(failure.message).toMatch(/msg\.hbacommon\.locklost/);
          expect(failure.message).toMatch(/offers no Cancel or Abort/);
          // vSphere refuses to unregister a VM waiting on a question: the rollback reports it and goes on.
          expect(failure.message).toMatch(
            /Not undone, left for an operator: unregistered the target VM .*FAILED.*(QuestionPending|question pending)/,
          );
          const source = await estate.vm('esx-a', 'q-pending');
          expect(source?.powerState).toBe('poweredOn');
          expect(source?.snapshots).toEqual([]);
          expect(sourceFiles('q-pending').filter((f) => f !== 'q-pending.vmsd')).toEqual(before);
          // The target waits on the question, registered, for a person to answer it.
          const [target] = await estate.vms('esx-b', 'q-pending');
          expect(target).toBeDefined();
          const asked = await (await estate.client('esx-b')).guest.state(
            target?.ref as NonNullable<typeof target>['ref'],
          );
          expect(asked.question?.messageIds).toEqual(['msg.hbacommon.locklost']);
          return failure.message;
        } finally {
          await controlOf(lab, 'esx-b').clearFaults();
        }
      },
      (m) => m.slice(0, 400),
    );
  });
});

describe('guest shutdown (Cold): a bound, then a hard stop or a rollback; never a copy of a running VM', () => {
  const cold = (timeoutMs: number, onTimeout: 'abort' | 'power-off') => ({
    mode: 'cold' as const,
    shutdown: { mode: 'guest' as const, timeoutMs, onTimeout },
  });

  it('Tools stop responding mid-shutdown (onTimeout abort): rolled back after timeoutMs, the error says so', async () => {
    await matrix.run(
      'Tools stop responding mid-shutdown',
      async () => {
        const before = sourceFiles('g-tools');
        await controlOf(lab, 'esx-a').setShutdownAction('g-tools', 'hang');
        const { id } = await start('g-tools', cold(4000, 'abort'));
        const failure = await failureOf(id);
        expect(failure.step).toBe('stop');
        expect(failure.message).toMatch(/did not stop within 4000 ms of ShutdownGuest/);
        expect(failure.message).toMatch(/VMware Tools stopped responding \d+ ms after ShutdownGuest/);
        // The source runs (its guest still hung: only a reset helps it, which is the operator's call).
        await expectRolledBack('g-tools', before);
        return failure.message;
      },
      (m) => m.slice(0, 240),
    );
  });

  it('the guest ignores the shutdown (onTimeout power-off): stopped hard after timeoutMs, completed', async () => {
    await matrix.run(
      'guest hangs, power-off after timeout',
      async () => {
        await controlOf(lab, 'esx-a').setShutdownAction('g-ignore', 'ignore');
        const quiet = quietAfterSnapshot(estate, 'g-ignore');
        const { id } = await start('g-ignore', cold(3000, 'power-off'));
        const result = (await clients.quickmig.result(id)) as MigrationResult;
        await quiet;
        expect(result.switchover?.stop).toBe('power-off-after-timeout');
        expect(await checkCompleted(estate, 'g-ignore', result)).toEqual([]);
        return result;
      },
      (r) => `stop ${r.switchover?.stop}, downtime ${r.downtimeMs} ms`,
    );
  });

  it('the guest restarts instead of halting (onTimeout abort): rolled back, the error says it restarted', async () => {
    await matrix.run(
      'guest restarts instead of halting',
      async () => {
        const before = sourceFiles('g-restart');
        await controlOf(lab, 'esx-a').setShutdownAction('g-restart', 'restart');
        const { id } = await start('g-restart', cold(5000, 'abort'));
        const failure = await failureOf(id);
        expect(failure.step).toBe('stop');
        expect(failure.message).toMatch(/the guest restarted instead of powering off/);
        await expectRolledBack('g-restart', before);
        return failure.message;
      },
      (m) => m.slice(0, 240),
    );
  });

  it('another client powers the source on again after its shutdown: no target from it, rolled back', async () => {
    await matrix.run(
      'source powered on again after the shutdown',
      async () => {
        const before = sourceFiles('g-poweron');
        // The copy of the final delta takes 3 s or more, so the power-on lands before it ends.
        await controlOf(lab, 'esx-a').addFault({
          kind: 'latency',
          method: 'GET',
          path: '-000001',
          ms: 3000,
          count: 4,
        });
        try {
          const { id, handle } = await start('g-poweron', cold(60_000, 'abort'));
          histories.add('realhost-poweron01', handle);
          const esxA = await estate.client('esx-a');
          // Wait until quickmig saw the shutdown end (its stop step is done), then power the VM on
          // from this other session while the final delta is being copied.
          await waitUntil(
            'the stop of g-poweron',
            async () => (await clients.quickmig.progress(id)).sourceStoppedAt,
            120_000,
          );
          const off = await estate.vm('esx-a', 'g-poweron');
          expect(off?.powerState).toBe('poweredOff');
          await esxA.vms.powerOn(off?.ref as NonNullable<typeof off>['ref']);
          const failure = await failureOf(id);
          expect(failure.step).toBe('delta-copy');
          expect(failure.message).toMatch(
            /the source g-poweron is poweredOn again (before|during|after) the final copy/,
          );
          await expectRolledBack('g-poweron', before);
          expect(await estate.vms('esx-b', 'g-poweron')).toEqual([]);
          return failure.message;
        } finally {
          await controlOf(lab, 'esx-a').clearFaults();
        }
      },
      (m) => m.slice(0, 240),
    );
  });
});

describe('other clients on the VM (a backup job): waited for within a bound, their snapshots kept', () => {
  it('a task holds the VM through the snapshot step: TaskInProgress past the retry budget, rolled back, named', async () => {
    await matrix.run(
      'TaskInProgress during the snapshot',
      async () => {
        const before = sourceFiles('t-snapshot');
        await controlOf(lab, 'esx-a').holdTask('t-snapshot', 60);
        const { id } = await start('t-snapshot');
        const failure = await failureOf(id);
        expect(failure.step).toBe('snapshot');
        expect(failure.message).toMatch(/TaskInProgress|Another task is already in progress/);
        await expectRolledBack('t-snapshot', before);
        return failure.message;
      },
      (m) => m.slice(0, 240),
    );
  });

  it('a task holds the VM at the switchover for less than the budget: the stop waits, the migration completes', async () => {
    await matrix.run(
      'TaskInProgress at the switchover (shorter than the budget)',
      async () => {
        const quiet = quietAfterSnapshot(estate, 't-switch');
        const { id, handle } = await start(
          't-switch',
          { switchover: 'manual' },
          { controlRetryTimeout: '30s' },
        );
        await waitUntil(
          't-switch awaiting approval',
          async () => (await clients.quickmig.progress(id)).awaitingApproval,
          120_000,
        );
        await controlOf(lab, 'esx-a').holdTask('t-switch', 4);
        await clients.quickmig.approve(id);
        const result = (await clients.quickmig.result(id)) as MigrationResult;
        await quiet;
        expect(await checkCompleted(estate, 't-switch', result)).toEqual([]);
        // The stop met the other task and was retried until it ended.
        expect(await retriedOnTaskInProgress(handle)).toBeGreaterThan(0);
        return result;
      },
      (r) => `downtime ${r.downtimeMs} ms`,
    );
  });

  it('a task holds the target during its consolidation: the consolidation waits for it, the migration completes', async () => {
    await matrix.run(
      'TaskInProgress during the consolidation (shorter than the budget)',
      async () => {
        // The consolidation's call reaches the host 3 s late, so the other task takes the VM first.
        await controlOf(lab, 'esx-b').addFault({
          kind: 'latency',
          method: 'ConsolidateVMDisks_Task',
          ms: 3000,
          count: 1,
        });
        try {
          const quiet = quietAfterSnapshot(estate, 't-consolidate');
          const { id, handle } = await start('t-consolidate', {}, { controlRetryTimeout: '30s' });
          const running = await waitUntil(
            't-consolidate running on esx-b',
            async () =>
              (await estate.vms('esx-b', 't-consolidate')).find((v) => v.powerState === 'poweredOn'),
            120_000,
          );
          // The power-on's task may still be finishing when the state reads poweredOn: the lab refuses a
          // hold while the VM is busy (409), so ask again for up to 2 s, well before the consolidation.
          await waitUntil(
            'a hold on the target',
            () => controlOf(lab, 'esx-b').holdTask(running.name, 4),
            2_000,
          );
          const result = (await clients.quickmig.result(id)) as MigrationResult;
          await quiet;
          expect(await checkCompleted(estate, 't-consolidate', result)).toEqual([]);
          expect(await retriedOnTaskInProgress(handle)).toBeGreaterThan(0);
          return result;
        } finally {
          await controlOf(lab, 'esx-b').clearFaults();
        }
      },
      (r) => `downtime ${r.downtimeMs} ms`,
    );
  });

  it("a backup's snapshot taken during the bulk copy survives; quickmig removes only its own; the target is right", async () => {
    await matrix.run(
      'backup snapshot during the bulk copy',
      async () => {
        // The bulk copy's reads of the frozen base take 3 s or more: the backup snapshot lands during it.
        await controlOf(lab, 'esx-a').addFault({
          kind: 'latency',
          method: 'GET',
          path: '-flat.vmdk',
          ms: 3000,
          count: 2,
        });
        try {
          const quiet = quietAfterSnapshot(estate, 't-backup');
          const { id } = await start('t-backup', { switchover: 'manual' });
          const esxA = await estate.client('esx-a');
          const facts = await waitUntil('the migration snapshot of t-backup', async () => {
            const f = await estate.vm('esx-a', 't-backup');
            return f?.snapshots.some((s) => s.name.startsWith('quickmig-')) ? f : undefined;
          });
          await quiet;
          // Another session (the backup tool) takes its snapshot; it may meet a task of quickmig's.
          await waitUntil('the backup snapshot', async () =>
            esxA.vms.createSnapshot(facts.ref, {
              name: 'backup-job-1',
              description: 'taken by a backup tool',
            }),
          );
          const during = (await clients.quickmig.progress(id)).step;
          await waitUntil(
            't-backup awaiting approval',
            async () => (await clients.quickmig.progress(id)).awaitingApproval,
            120_000,
          );
          await clients.quickmig.approve(id);
          const result = (await clients.quickmig.result(id)) as MigrationResult;
          // The target: one VM, no snapshot, one file per disk, its extents equal to the source's (the
          // guest wrote nothing after the migration snapshot). The source (kept, unregistered) still
          // carries the backup's snapshot and its delta files; quickmig's own is merged away.
          const problems = await checkCompleted(estate, 't-backup', result);
          expect(problems.filter((p) => !p.startsWith('source keeps snapshot'))).toEqual([]);
          const dir = join(estate.datastoreDir('esx-a', 'datastore1'), 't-backup');
          const vmsd = readdirSync(dir)
            .filter((f) => f.endsWith('.vmsd'))
            .map((f) => readFileSync(join(dir, f), 'utf8'))
            .join('\n');
          expect(vmsd).toMatch(/displayName = "backup-job-1"/);
          expect(vmsd).not.toMatch(/quickmig-/);
          expect(readdirSync(dir).filter((f) => /-\d{6}(-delta)?\.vmdk$/.test(f)).length).toBeGreaterThan(0);
          return { result, during };
        } finally {
          await controlOf(lab, 'esx-a').clearFaults();
        }
      },
      ({ result, during }) =>
        `backup snapshot taken at step ${during}; ${result.verified.length} files verified`,
    );
  });
});
