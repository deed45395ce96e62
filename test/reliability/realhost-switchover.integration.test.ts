/**
 * Real-host faults at the switchover (issue 18, faults 6 and 7), on the `quick` lab profile (timing
 * does not matter here, only what is left behind and what is reported):
 *
 * - The source host goes away right after the source was suspended (SmartSwitch) or stopped (Cold):
 *   the lab's outage (lab/vcsim/README.md, "Control API") resets every connection to esx-a, armed to
 *   start with the first GET of the suspend state or of a delta, i.e. when the switchover's copy
 *   begins. Back in time, the migration completes; back too late, it rolls back and the source runs
 *   again once its host answers. Either way the downtime reported is the one the lab's call log shows.
 * - A disk added to the running VM (ReconfigVM_Task) while the migration waits for its approval: the
 *   migration fails before the switchover, the source untouched, the error naming the disk.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationFailedError } from '../../src/client/failures';
import type { LabCall } from '../../src/lab/control';
import type { LabInfo } from '../../src/lab/lab';
import type { Topology } from '../../src/lab/topology';
import type { MoRef } from '../../src/vsphere';
import { ref } from '../../src/vsphere/convert';
import { Session } from '../../src/vsphere/session';
import { Tasks } from '../../src/vsphere/tasks';
import type { MigrationResult } from '../../src/workflows/definitions';
import { progressQuery } from '../../src/workflows/definitions';
import { controlOf, endpoint, passwordOf, startPrivateLab } from '../support/lab';
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
const matrix = new Matrix('realhost-switchover');

/** The time of the last call of `method` in an endpoint's call log (ms since the epoch). */
function lastCall(calls: LabCall[], method: string): number {
  const call = calls.filter((c) => c.method === method && c.ok).at(-1);
  if (!call) throw new Error(`no ${method} in the call log: ${calls.map((c) => c.method).join(', ')}`);
  return Date.parse(call.time);
}

/** A connection failure as Node and the client word it. */
const CONNECTION = /ECONNRESET|ECONNREFUSED|socket hang up|reset|EPIPE/i;

beforeAll(async () => {
  const file = topologyWith([
    smallVm('sw-back'),
    smallVm('sw-late'),
    smallVm('sw-disk', { guestWriteBytesPerSec: 0 }),
  ]);
  const topology = JSON.parse(readFileSync(file, 'utf8')) as Topology;
  topology.profile = 'quick';
  writeFileSync(file, JSON.stringify(topology));
  lab = await startPrivateLab('reliability-switchover', file);
  ({ worker, clients, estate } = await workerRig(lab));
});

afterAll(async () => {
  matrix.write();
  if (lab)
    await controlOf(lab, 'esx-a')
      .endOutage()
      .catch(() => undefined);
  await tearDownRig({ lab, worker, clients, estate });
});

describe('the source host goes away after the source was stopped', () => {
  it('SmartSwitch, the host back in 12 s: the migration completes and reports the real downtime', async () => {
    const vm = 'sw-back';
    const outageMs = 12_000;
    await matrix.run(
      'source host away 12 s after the suspend: completes',
      async () => {
        const marks = await estate.marks();
        // The host goes away when the switchover starts copying the suspended VM's memory state.
        await controlOf(lab, 'esx-a').outage(outageMs / 1000, { method: 'GET', path: '.vmss' });
        try {
          const quiet = quietAfterSnapshot(estate, vm);
          const id = `host-back-${Date.now()}`;
          await clients.temporal.workflow.start('quickMigration', {
            taskQueue: worker.taskQueue,
            workflowId: id,
            args: [
              {
                source: { endpoint: 'esx-a', name: vm },
                target: { endpoint: 'esx-b', datastore: 'datastore1' },
                options: { mode: 'smartswitch' },
              },
              {},
            ],
          });
          const result = (await clients.quickmig.result(id)) as MigrationResult;
          await quiet;
          expect(await checkCompleted(estate, vm, result)).toEqual([]);
          // The real downtime, as the hosts saw it: from the suspend to the target's power-on.
          const calls = await estate.calls(marks);
          const suspendAt = lastCall(calls['esx-a'] ?? [], 'SuspendVM_Task');
          const runsAt = lastCall(calls['esx-b'] ?? [], 'PowerOnVM_Task');
          const real = runsAt - suspendAt;
          expect(result.downtimeMs).not.toBeNull();
          const reported = result.downtimeMs as number;
          // The VM was down at least while its host was away; the report matches the hosts' log
          // within the two tasks' own durations and the log's timestamps (a few seconds, loosely).
          expect(reported).toBeGreaterThanOrEqual(outageMs - 1000);
          expect(Math.abs(reported - real)).toBeLessThan(5000);
          return { reported, real };
        } finally {
          await controlOf(lab, 'esx-a').endOutage();
        }
      },
      ({ reported, real }) => `downtime reported ${reported} ms, real (call log) ${real} ms`,
    );
  });

  it('Cold, the host back after the bound: rollback, the source runs again when it returns, real downtime reported', async () => {
    const vm = 'sw-late';
    const outageMs = 25_000;
    await matrix.run(
      'source host away 25 s after the stop, bound 5 s: rolls back, source resumed on return',
      async () => {
        const marks = await estate.marks();
        await controlOf(lab, 'esx-a').outage(outageMs / 1000, { method: 'GET', path: '-delta.vmdk' });
        let error: unknown;
        let rollingBackWhileAway = false;
        try {
          const id = `host-late-${Date.now()}`;
          const handle = await clients.temporal.workflow.start('quickMigration', {
            taskQueue: worker.taskQueue,
            workflowId: id,
            args: [
              {
                source: { endpoint: 'esx-a', name: vm },
                target: { endpoint: 'esx-b', datastore: 'datastore1' },
                options: { mode: 'cold', shutdown: { mode: 'power-off' } },
              },
              { switchoverRetryTimeout: '5s' },
            ],
          });
          const done = clients.quickmig.result(id).catch((e: unknown) => {
            error = e;
          });
          // While the host is away, the migration is still there, rolling back: the owner of the
          // stopped VM until it runs again.
          const seen: string[] = [];
          let ended = false;
          void done.then(() => {
            ended = true;
          });
          await waitUntil(
            'the rollback while the source host is away',
            async () => {
              const p = await handle.query(progressQuery);
              if (seen.at(-1) !== `${p.phase}/${p.step}`) seen.push(`${p.phase}/${p.step}`);
              return p.phase === 'rolling-back' || ended;
            },
            120_000,
          ).catch(async (e: Error) => {
            const d = await handle.describe();
            const pending = (d.raw.pendingActivities ?? []).map(
              (a) =>
                `${a.activityType?.name} attempt ${a.attempt} state ${a.state}: ${a.lastFailure?.message ?? ''}`,
            );
            throw new Error(`${e.message}; phases seen: ${seen.join(' → ')}; pending: ${pending.join('; ')}`);
          });
          rollingBackWhileAway = (await controlOf(lab, 'esx-a').call<{ down: boolean }>('GET', '/outage'))
            .down;
          await done;
        } finally {
          await controlOf(lab, 'esx-a').endOutage();
        }
        expect(rollingBackWhileAway).toBe(true);
        expect(error).toBeInstanceOf(MigrationFailedError);
        const failure = error as MigrationFailedError;
        expect(failure.step).toBe('delta-copy');
        expect(failure.message).toMatch(CONNECTION);
        expect(failure.message).toMatch(/The source is poweredOn as before/);
        expect(await checkRolledBack(estate, vm, 'poweredOn')).toEqual([]);
        const calls = await estate.calls(marks);
        const stopAt = lastCall(calls['esx-a'] ?? [], 'PowerOffVM_Task');
        const runsAt = lastCall(calls['esx-a'] ?? [], 'PowerOnVM_Task');
        const real = runsAt - stopAt;
        expect(real).toBeGreaterThanOrEqual(outageMs - 1000);
        const reported = Number(/It was down (\d+) ms/.exec(failure.message)?.[1]);
        expect(Math.abs(reported - real)).toBeLessThan(5000);
        return { reported, real, message: failure.message };
      },
      ({ reported, real, message }) =>
        `downtime reported ${reported} ms, real (call log) ${real} ms; ${message.slice(0, 160)}`,
    );
  });
});

/** Adds a new thin disk on unit 2 of the running VM, as a user would in the vSphere Client. */
async function addDisk(vm: MoRef): Promise<void> {
  const ep = endpoint(lab, 'esx-a');
  const session = await Session.open({
    url: ep.url,
    username: ep.username,
    password: passwordOf(ep),
    tls: { thumbprint: ep.thumbprint },
  });
  try {
    const task = ref(
      await session.call('ReconfigVM_Task', vm, {
        spec: {
          deviceChange: [
            {
              operation: 'add',
              fileOperation: 'create',
              device: {
                attributes: { xsi_type: { type: 'VirtualDisk', xmlns: 'urn:vim25' } },
                key: -1,
                backing: {
                  attributes: { xsi_type: { type: 'VirtualDiskFlatVer2BackingInfo', xmlns: 'urn:vim25' } },
                  fileName: '[datastore1]',
                  diskMode: 'persistent',
                  thinProvisioned: true,
                },
                controllerKey: 1000,
                unitNumber: 2,
                capacityInKB: 4096,
              },
            },
          ],
        },
      }),
    );
    if (!task) throw new Error('ReconfigVM_Task returned no task');
    await new Tasks(session).wait(task, { method: 'ReconfigVM_Task' });
  } finally {
    await session.close();
  }
}

describe('a disk added between the bulk copy and the switchover', () => {
  it('fails before the switchover, the source untouched, the error naming the disk', async () => {
    const vm = 'sw-disk';
    await matrix.run(
      'disk added while awaiting approval: fails before the switchover',
      async () => {
        const id = `disk-added-${Date.now()}`;
        let error: unknown;
        const handle = await clients.temporal.workflow.start('quickMigration', {
          taskQueue: worker.taskQueue,
          workflowId: id,
          args: [
            {
              source: { endpoint: 'esx-a', name: vm },
              target: { endpoint: 'esx-b', datastore: 'datastore1' },
              options: { switchover: 'manual' },
            },
            {},
          ],
        });
        const done = clients.quickmig.result(id).catch((e: unknown) => {
          error = e;
        });
        await waitUntil(
          'the approval gate',
          async () => (await handle.query(progressQuery)).awaitingApproval,
          120_000,
        );
        const source = await estate.vm('esx-a', vm);
        if (!source) throw new Error(`${vm} is not on esx-a`);
        expect(source.disks).toHaveLength(2);
        await addDisk(source.ref);
        const marks = await estate.marks();
        await clients.quickmig.approve(id);
        await done;

        expect(error).toBeInstanceOf(MigrationFailedError);
        const failure = error as MigrationFailedError;
        expect(failure.step).toBe('check-disks');
        expect(failure.message).toMatch(/disks of sw-disk changed after the bulk copy/);
        expect(failure.message).toMatch(/disk 2002 \(\[datastore1\] sw-disk\/sw-disk_2\.vmdk\) was added/);
        // Untouched: never suspended or stopped after the approval, running with its three disks.
        const after = await estate.calls(marks);
        const stops = (after['esx-a'] ?? []).filter((c) => /Suspend|PowerOff|ShutdownGuest/.test(c.method));
        expect(stops).toEqual([]);
        expect(await checkRolledBack(estate, vm, 'poweredOn')).toEqual([]);
        const now = await estate.vm('esx-a', vm);
        expect(now?.disks).toHaveLength(3);
        return failure.message;
      },
      (m) => m.slice(0, 240),
    );
  });
});
