/**
 * A test migration (options.test, patch TEST_MIGRATION): the copy a real Quick Migration makes, booted
 * beside the running source, isolated, then removed.
 *
 *   make folders → snapshot → bulk copy of the frozen disks (+ the .vmx pointed at them, the nvram)
 *   → remove the snapshot → register `<name>-test` (adapters start disconnected; with options.test.network
 *   moved onto that port group to connect there) → snapshot it (its
 *   writes go to a delta, the copied disks stay pristine) → power on → heartbeat
 *   → [options.test.keep: wait for the cleanupTest update] → unregister, then (options.test.keepDisks,
 *   the default) delete the test VM's own files and keep the copied base disks with quickmig-test.json
 *   for a later real migration (test-keep.ts, planner/test-copy.ts), or delete the folders.
 *
 * The source is never suspended or stopped: it is only snapshotted and the snapshot removed, as the
 * bulk phase of a real run does. The copy is crash-consistent (the disks as the snapshot froze them).
 * A failure or cancellation undoes every step in reverse (compensation.ts): the snapshot goes, the test
 * VM is unregistered (powered off first) and its folders deleted.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  setHandler,
} from '@temporalio/workflow';
import type { PreparedMigration } from '../../activities/preflight';
import { projectMode } from '../../planner/downtime';
import { bulkCopies, layoutFolders, layoutOf } from '../../planner/files';
import type { TestCopyMarker } from '../../planner/test-copy';
import { TEST_MARKER_FILE } from '../../planner/test-copy';
import { TEST_NO_HEARTBEAT, testConfigCopies, testVmName } from '../../planner/test-run';
import type { VmxEdit } from '../../planner/vmx';
import { KEEP_IDENTITY } from '../../planner/vmx';
import { step } from '../activity-options';
import type { MigrationResult, TestReport } from '../definitions';
import { cleanupTestUpdate } from '../definitions';
import { TEST_REUSE } from '../patches';
import type { Compensation } from './compensation';
import { causeOf, migrationFailed, rollback } from './compensation';
import type { MigrationContext } from './context';
import { snapshotName } from './context';
import { copier } from './progress';
import type { KeptDisks } from './test-keep';
import { keptDisksOf } from './test-keep';

type MoRef = PreparedMigration['source']['vm'];

/** Runs a test migration of a running VM; see the file comment. */
export async function testMigration(
  prepared: PreparedMigration,
  ctx: MigrationContext,
): Promise<MigrationResult> {
  const { plan, source, target, request } = prepared;
  const { progress, enter, migrationId, control } = ctx;
  const src = { endpoint: source.endpoint, vm: source.vm };
  const layout = layoutOf(plan);
  const folders = layoutFolders(layout);
  const name = testVmName(plan.targetName);
  const keep = request.options.test?.keep === true;
  // options.test.keepDisks (default true): the cleanup keeps the copied base disks for a later real run;
  // a copy an earlier test kept in the target folders is adopted (and copied over) like a real run does.
  const keepAsked = request.options.test?.keepDisks !== false;
  const reusePath = (keepAsked || prepared.testCopy !== undefined) && patched(TEST_REUSE);
  const keepDisks = reusePath && keepAsked;
  const adopt = reusePath ? prepared.testCopy : undefined;
  const compensations: Compensation[] = [];
  let keptDisks: KeptDisks | undefined;
  // options.test.network as preflight resolved it; absent: the adapters stay disconnected.
  const testNet = target.testNetwork;
  let network: TestReport['network'];

  // The copy's .vmx: identity as the real run would keep it, ISO media off the source's datastores, and
  // every network adapter set not to connect when the test VM powers on.
  const vmxEdit: VmxEdit = {
    set: KEEP_IDENTITY,
    disconnectIsoOn: [
      ...(source.mediaDatastores ?? []),
      ...(source.instantRecoveryDatastore ? [source.instantRecoveryDatastore.name] : []),
    ],
    disconnectNics: true,
  };
  const copies = copier(prepared, progress, ctx.transfer, (c) =>
    c.source === source.vmxPath ? vmxEdit : undefined,
  );

  // options.test.keep: the cleanup update asks, the workflow removes the VM and answers.
  let cleanupAsked = false;
  let cleaned: { cleanedAt: string; cleanup: string[] } | null = null;
  setHandler(
    cleanupTestUpdate,
    async () => {
      cleanupAsked = true;
      await condition(() => cleaned !== null);
      return cleaned as unknown as { cleanedAt: string; cleanup: string[] };
    },
    {
      validator: () => {
        if (!keep)
          throw ApplicationFailure.nonRetryable(
            'this test migration removes its test VM by itself (options.test.keep is false); nothing to clean up',
          );
        if (cleaned !== null) throw ApplicationFailure.nonRetryable('the test VM was removed already');
      },
    },
  );

  // The rollback deletes the folders; the cleanup after a test keeps the copied disks in them instead.
  const deleteFolders: Compensation = {
    what: `deleted the test copy's folders ${folders.join(', ')}`,
    undo: () =>
      step(control.deleteFolders, `Delete ${folders.join(', ')} on ${target.endpoint}`, {
        endpoint: target.endpoint,
        folders,
        migrationId,
      }),
  };
  let testVm: MoRef | undefined;
  let report: Omit<TestReport, 'cleanup' | 'cleanedAt'>;
  try {
    enter('config', 'make-folders');
    await step(control.makeFolders, `Create ${folders.join(', ')} on ${target.endpoint}`, {
      endpoint: target.endpoint,
      folders,
      migrationId,
      ...(adopt ? { adopt: adopt.migrationId } : {}),
    });
    compensations.push(deleteFolders);

    enter('bulk-copy', 'snapshot');
    await step(control.snapshotVm, `Snapshot ${source.name} to freeze its disks (it keeps running)`, {
      ...src,
      name: snapshotName(migrationId),
    });
    const removeSnapshot: Compensation = {
      what: 'removed the migration snapshot from the source',
      undo: () =>
        step(control.removeSnapshot, `Remove the migration snapshot of ${source.name}`, {
          ...src,
          name: snapshotName(migrationId),
        }),
    };
    compensations.push(removeSnapshot);
    const listed = await step(control.vmFiles, `List the frozen files of ${source.name}`, src);
    const baseCopies = bulkCopies(
      listed,
      layout,
      target.datastoreUrls,
      snapshotName(migrationId),
      request.options.diskType,
    );
    if (keepDisks) {
      // The point of each source disk the copy holds: a later real run counts changes from it.
      const changeIds = await step(
        control.snapshotChangeIds,
        `Read the changeIds of ${source.name}'s disks at the migration snapshot`,
        { ...src, name: snapshotName(migrationId) },
      );
      keptDisks = keptDisksOf(prepared, migrationId, listed, baseCopies, changeIds);
    }
    progress.step = 'bulk-copy';
    await copies.copy(baseCopies);
    await copies.copy(testConfigCopies(listed.files, listed.disks, layout, target.datastoreUrls));

    // The source is as before but for what its guest wrote meanwhile: the delta folds back into its disks.
    progress.step = 'remove-snapshot';
    await removeSnapshot.undo();
    compensations.splice(compensations.indexOf(removeSnapshot), 1);

    enter('testing', 'register-test');
    testVm = await step(
      control.registerVm,
      `Register ${target.vmxPath} on ${target.hostName} as ${name} (network adapters disconnected${testNet ? ` until they are moved onto ${testNet.name}` : ''})`,
      {
        endpoint: target.endpoint,
        vmxPath: target.vmxPath,
        name,
        folder: target.folder,
        pool: target.pool,
        host: target.host,
      },
    );
    compensations.push({
      what: `unregistered the test VM ${name} (powered off first)`,
      undo: () =>
        step(control.unregisterVmx, `Power off and unregister ${name}`, {
          endpoint: target.endpoint,
          vmxPath: target.vmxPath,
        }),
    });

    const vm = testVm;
    // options.test.network: its adapters onto the isolated port group, connected at power-on. Before the
    // boot, so a refusal leaves a VM that never ran and is undone with the rest.
    if (testNet)
      network = {
        name: testNet.name,
        adapters: await step(
          control.moveAdapters,
          `Move the network adapters of ${name} onto ${testNet.name}, to connect at power-on`,
          { endpoint: target.endpoint, vm, network: testNet },
        ),
      };

    progress.step = 'boot-test';
    // Its guest's writes go to a delta of its own: the copied disks stay the source's state at the
    // migration snapshot, which a later real run can reuse (docs/wip-test-migration.md, reuse).
    await step(control.snapshotVm, `Snapshot ${name} before its boot: the copied disks stay as copied`, {
      endpoint: target.endpoint,
      vm,
      name: snapshotName(migrationId),
      // Nothing is copied from the test VM: no change tracking (nor its privilege) on the target.
      trackChanges: false,
    });
    const started = await step(
      control.startTarget,
      `Power on ${name} on ${target.hostName}, isolated${testNet ? ` on ${testNet.name}` : ''}`,
      {
        endpoint: target.endpoint,
        vm,
      },
    );
    let greenAt: number | null = null;
    // A source guest without a heartbeat (no Tools running) gives its copy none either: not waited for.
    if (!plan.findings.some((f) => f.code === TEST_NO_HEARTBEAT))
      try {
        ({ greenAt } = await step(
          ctx.longControl.waitForService,
          `Wait for the guest heartbeat of ${name} (up to ${ctx.heartbeatTimeoutMs} ms)`,
          { endpoint: target.endpoint, vm, timeoutMs: ctx.heartbeatTimeoutMs },
        ));
      } catch (error) {
        if (isCancellation(error)) throw error;
        greenAt = null;
      }
    const projected = plan.downtime?.modes.find((m) => m.mode === plan.mode) ?? null;
    const bootMs = greenAt === null ? null : greenAt - started.startedAt;
    const input = plan.downtime?.input;
    const { stats } = copies;
    const afterTest =
      input && plan.mode
        ? projectMode(plan.mode, {
            ...input,
            copy:
              stats.ms > 0 && stats.bytes > 0
                ? { bps: (stats.bytes * 1000) / stats.ms, source: 'measured over this test’s copies' }
                : input.copy,
            times: { ...input.times, ...(bootMs === null ? {} : { bootToHeartbeatMs: bootMs }) },
          })
        : null;
    report = {
      vm: { name, moref: vm.value },
      bootMs,
      startedAt: new Date(started.startedAt).toISOString(),
      heartbeatAt: greenAt === null ? null : new Date(greenAt).toISOString(),
      isolated: network ? 'test-network' : 'adapters-disconnected',
      ...(network ? { network } : {}),
      projectedDowntimeMs: projected ? Math.round(projected.downtimeMs) : null,
      projectedServiceDowntimeMs: projected ? Math.round(projected.serviceDowntimeMs) : null,
      mode: plan.mode,
      afterTest,
      kept: keep,
    };
    progress.test = report;

    if (keep) {
      progress.step = 'keep-test';
      progress.waitingFor = `quickmig cleanup ${migrationId}: ${name} runs isolated until then`;
      await condition(() => cleanupAsked);
      progress.waitingFor = null;
    }
  } catch (error) {
    const failedStep = progress.step;
    await rollback(compensations, progress, enter);
    const cause = causeOf(error);
    progress.error = cause;
    if (isCancellation(error)) throw error;
    throw migrationFailed(
      `test migration of ${source.name} failed at step ${failedStep}: ${cause}. Undone: ${progress.undone.join('; ') || 'nothing'}. The source ran throughout and is ${source.powerState} as before.`,
      { step: failedStep, undone: progress.undone },
      error,
    );
  }

  // The cleanup: what a rollback would undo, in reverse, now that the test is over (never cancelled
  // half-way: a test VM must not be left registered).
  progress.step = 'cleanup-test';
  const cleanup: string[] = [];
  let kept: TestCopyMarker | null = null;
  await CancellationScope.nonCancellable(async () => {
    for (const compensation of [...compensations].reverse()) {
      if (compensation === deleteFolders && keptDisks && keptDisks.marker.disks.length > 0) {
        const done = await step(
          control.keepTestDisks,
          `Delete the test VM's files in ${folders.join(', ')}, keep the copied disks for the real run`,
          { endpoint: target.endpoint, folders, migrationId, ...keptDisks },
        );
        kept = done.marker;
        cleanup.push(
          `deleted the test VM's own files (${done.deleted.length}); kept the copied disks ${keptDisks.keep.join(', ')} with ${TEST_MARKER_FILE} for the real migration`,
        );
        continue;
      }
      await compensation.undo();
      cleanup.push(compensation.what);
    }
  });
  const cleanedAt = new Date().toISOString();
  cleaned = { cleanedAt, cleanup };
  const test: TestReport = { ...report, cleanup, cleanedAt, ...(keepDisks ? { keptDisks: kept } : {}) };
  progress.test = test;
  return ctx.finish({
    downtimeMs: null,
    serviceDowntimeMs: null,
    switchover: null,
    bytesCopied: copies.stats.bytes,
    verified: copies.verified,
    target: {
      endpoint: target.endpoint,
      moref: report.vm.moref,
      name,
      host: target.hostName,
      datastores: [...new Set(folders.map((f) => f.slice(1, f.indexOf(']'))))],
      powerState: 'removed',
      snapshots: 0,
    },
    source: {
      endpoint: source.endpoint,
      name: source.name,
      action: 'kept',
      detail: `test migration: ${source.name} ran throughout; its migration snapshot was removed after the bulk copy`,
    },
    instantRecovery: null,
    test,
  });
}
