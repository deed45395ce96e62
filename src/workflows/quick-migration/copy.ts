/**
 * The Quick Migration path: target folders, snapshot and bulk copy while the VM runs, the switchover
 * gate (with warm pre-copy), then stop, delta copy, register and start: the steps of the plan, in its
 * order (src/planner/steps.ts). Every step pushes its compensation right after it succeeds; a failure
 * or cancellation before the target runs rolls them back. Finalize follows (finalize.ts).
 */
import { ApplicationFailure, isCancellation, log, patched } from '@temporalio/workflow';
import type { PreparedMigration } from '../../activities/preflight';
import type { DiskChain } from '../../planner/files';
import { bulkCopies, layoutFolders, layoutOf, planCopies, remainingFiles } from '../../planner/files';
import { withReuse } from '../../planner/test-copy';
import { step, stepWith, switchoverSourceOptions } from '../activity-options';
import type { MigrationResult } from '../definitions';
import { DISK_SET_CHECK, TEST_REUSE } from '../patches';
import type { Compensation } from './compensation';
import { causeOf, migrationFailed, rollback } from './compensation';
import type { MigrationContext } from './context';
import { snapshotName } from './context';
import { finalizeMigration } from './finalize';
import { copier } from './progress';
import { switchoverSteps } from './switchover';
import { switchoverSlot } from './switchover-slot';
import { warmMigration } from './warm';

/** Copies the VM to the target and switches over; see the file comment. */
export async function copySteps(
  prepared: PreparedMigration,
  ctx: MigrationContext,
): Promise<MigrationResult> {
  const { plan, source, target } = prepared;
  const { progress, enter, migrationId, control } = ctx;
  const src = { endpoint: source.endpoint, vm: source.vm };
  const layout = layoutOf(plan);
  const folders = layoutFolders(layout);
  const running = source.powerState === 'poweredOn';
  // A powered-off VM is snapshotted too when its plan says so (src/planner/steps.ts, snapshotAtRest): the
  // snapshot's change tracking gives the disks' allocated areas. Histories from before hold no such plan.
  const frozen = plan.steps.includes('snapshot');
  // A test migration of this VM kept its disks in the target folders: adopt them, copy only the changes.
  const kept = prepared.testCopy !== undefined && patched(TEST_REUSE) ? prepared.testCopy : undefined;
  const compensations: Compensation[] = [];
  const sw = switchoverSteps({
    prepared,
    progress,
    control,
    longControl: ctx.longControl,
    compensate: (what, undo) => compensations.push({ what, undo }),
    ...(ctx.options ? { options: ctx.options } : {}),
  });
  const copies = copier(prepared, progress, ctx.transfer, sw.vmxFor, ctx.options?.copyConcurrency);
  const { copy, copied } = copies;
  const warm = warmMigration(prepared, ctx, copies, compensations, layout);

  /** The disks at the migration snapshot, to find one added or removed before the switchover. */
  let frozenDisks: DiskChain[] | null = null;
  let targetVm: PreparedMigration['source']['vm'] | undefined;
  let stoppedAt: number | null = null;
  let startedAt: number | null = null;
  try {
    enter('config', 'make-folders');
    await step(
      control.makeFolders,
      kept
        ? `Adopt ${folders.join(', ')} with the disks test migration ${kept.migrationId} kept on ${target.endpoint}`
        : `Create ${folders.join(', ')} on ${target.endpoint}`,
      { endpoint: target.endpoint, folders, migrationId, ...(kept ? { adopt: kept.migrationId } : {}) },
    );
    compensations.push({
      what: `deleted the target folders ${folders.join(', ')}`,
      undo: () =>
        step(control.deleteFolders, `Rollback: delete ${folders.join(', ')} on ${target.endpoint}`, {
          endpoint: target.endpoint,
          folders,
          migrationId,
        }),
    });

    enter('bulk-copy', frozen ? 'snapshot' : 'bulk-copy');
    if (frozen) {
      const snapshotStart = Date.now();
      await step(control.snapshotVm, `Snapshot ${source.name} to freeze its disks`, {
        ...src,
        name: snapshotName(migrationId),
      });
      warm.state.snapshotAt = Date.now();
      warm.state.samples.taskMs.push(warm.state.snapshotAt - snapshotStart);
      compensations.push({
        what: 'removed the migration snapshot from the source',
        undo: () =>
          step(control.removeSnapshot, `Rollback: remove the migration snapshot of ${source.name}`, {
            ...src,
            name: snapshotName(migrationId),
          }),
      });
      const listed = await step(control.vmFiles, `List the frozen files of ${source.name}`, src);
      frozenDisks = listed.disks;
      warm.state.samples.listMs.push(Date.now() - warm.state.snapshotAt);
      progress.step = 'bulk-copy';
      await copy(
        withReuse(
          bulkCopies(
            listed,
            layout,
            target.datastoreUrls,
            snapshotName(migrationId),
            prepared.request.options.diskType,
          ),
          kept,
        ),
      );
    }

    await ctx.awaitSwitchover(running && warm.state.enabled ? warm.precopyDeps() : undefined);
    // A disk added (or removed) since the snapshot is in no copy and no delta: the migration stops
    // here, before the switchover, the source untouched (README "Warm migration", RELIABILITY.md).
    const diskCheck = running && frozenDisks !== null && patched(DISK_SET_CHECK);
    if (diskCheck && frozenDisks) {
      progress.step = 'check-disks';
      const before = await step(
        control.vmFiles,
        `Check the disks of ${source.name} before the switchover`,
        src,
      );
      refuseDiskChanges(source.name, frozenDisks, before.disks, 'before the switchover');
    }
    // A VM that is not running and not snapshotted is copied whole here, in one copy: its plan calls that
    // the bulk copy.
    const copyStep = frozen ? 'delta-copy' : 'bulk-copy';
    // A batch that limits suspends per host grants this one its slot (only with switchoverAdmission);
    // the wait is before the switchover: the source still runs.
    const slot = switchoverSlot(ctx.options, progress);
    if (running && plan.mode === 'smartswitch') await slot.acquire();
    enter('switchover', running ? (plan.mode === 'smartswitch' ? 'suspend' : 'stop') : copyStep);
    if (running && sw.enabled) {
      stoppedAt = await sw.stop();
      progress.sourceStoppedAt = stoppedAt;
    } else if (running) {
      // If a retry finds the source already stopped (a worker died after stopping it), the real stop
      // happened before this step was scheduled: count from then, so downtime is never under-reported.
      const stopRequestedAt = Date.now();
      const stopped = await step(
        control.setPowerState,
        `${plan.mode === 'smartswitch' ? 'Suspend' : 'Power off'} ${source.name}: downtime starts`,
        {
          ...src,
          state: plan.mode === 'smartswitch' ? 'suspended' : 'poweredOff',
        },
      );
      stoppedAt = stopped.changed ? stopped.at : stopRequestedAt;
      progress.sourceStoppedAt = stoppedAt;
      compensations.push({
        what: 'restored the source to poweredOn',
        undo: () =>
          step(control.setPowerState, `Rollback: power ${source.name} on again`, {
            ...src,
            state: 'poweredOn',
          }),
      });
    }
    if (running)
      log.info(`switchover began: ${source.name} ${plan.mode === 'smartswitch' ? 'suspended' : 'stopped'}`, {
        event: 'switchover-began',
        method: plan.method,
        mode: plan.mode,
      });
    progress.step = copyStep;
    // With SOURCE_HOST_RETURN, switchoverRetryTimeout bounds the steps on the stopped source.
    const onSource = sw.hostReturn && running ? switchoverSourceOptions(ctx.options ?? {}) : {};
    await sw.assertStopped('before the final copy', onSource);
    const now = await stepWith(control.vmFiles, onSource, `List what changed on ${source.name}`, src);
    if (diskCheck && frozenDisks) refuseDiskChanges(source.name, frozenDisks, now.disks, 'while it stopped');
    const atSwitchover = planCopies(
      remainingFiles(now.files, copied),
      now.files,
      now.disks,
      layout,
      target.datastoreUrls,
    );
    sw.countSwitchoverBytes(atSwitchover.reduce((sum, c) => sum + c.size, 0));
    await copy(atSwitchover, onSource, sw.stoppedState());
    await sw.assertStopped('after the final copy', onSource);

    progress.step = 'register-target';
    targetVm = await step(
      control.registerVm,
      `Register ${target.vmxPath} on ${target.hostName} as ${target.temporaryName}`,
      {
        endpoint: target.endpoint,
        vmxPath: target.vmxPath,
        name: target.temporaryName,
        folder: target.folder,
        pool: target.pool,
        host: target.host,
      },
    );
    compensations.push({
      what: `unregistered the target VM ${target.temporaryName}`,
      undo: () =>
        step(control.unregisterVmx, `Rollback: unregister ${target.temporaryName}`, {
          endpoint: target.endpoint,
          vmxPath: target.vmxPath,
        }),
    });

    await sw.beforeStart(targetVm);
    if (running && sw.enabled) {
      progress.step = plan.mode === 'smartswitch' ? 'resume' : 'start';
      startedAt = await sw.start(targetVm);
      progress.downtimeMs = stoppedAt === null ? null : startedAt - stoppedAt;
    } else if (running) {
      progress.step = plan.mode === 'smartswitch' ? 'resume' : 'start';
      startedAt = (
        await step(
          control.setPowerState,
          `${plan.mode === 'smartswitch' ? 'Resume' : 'Start'} ${target.temporaryName} on ${target.hostName}: downtime ends`,
          { endpoint: target.endpoint, vm: targetVm, state: 'poweredOn' },
        )
      ).at;
      progress.downtimeMs = stoppedAt === null ? null : startedAt - stoppedAt;
    }
    await slot.release();
    if (running)
      log.info(`switchover ended: ${target.temporaryName} running, downtime ${progress.downtimeMs} ms`, {
        event: 'switchover-ended',
        method: plan.method,
        mode: plan.mode,
        downtimeMs: progress.downtimeMs,
      });
  } catch (error) {
    const failedStep = progress.step;
    const failed = await rollback(compensations, progress, enter);
    const cancelled = isCancellation(error);
    const cause = causeOf(error);
    progress.error = cause;
    if (cancelled) throw error;
    // The source's real downtime when it was stopped and runs again (SOURCE_HOST_RETURN).
    const down =
      sw.hostReturn && progress.downtimeMs !== null
        ? ` It was down ${progress.downtimeMs} ms, from its ${plan.mode === 'smartswitch' ? 'suspend' : 'stop'} until it ran again.`
        : '';
    const after =
      failed.length === 0
        ? `The source is ${source.powerState} as before.${down}`
        : `Not undone, left for an operator: ${failed.join('; ')}.`;
    throw migrationFailed(
      `${plan.method} of ${source.name} failed at step ${failedStep}: ${cause}. Rolled back: ${progress.undone.join('; ') || 'nothing to undo'}. ${after}`,
      { step: failedStep, undone: progress.undone },
      error,
    );
  }

  // The target runs (or holds the VM, for a powered-off or suspended source): from here on, no rollback.
  return finalizeMigration(prepared, ctx, targetVm, copies.verified, {
    sw,
    copyStats: copies.stats,
    folders,
  });
}

/**
 * Fails the migration when the VM's disks are not those of the migration snapshot: a disk added
 * since is in no copy (its data would be lost on the target), a removed one would leave a stray copy.
 * Copying a new disk at the switchover would copy it whole inside the downtime the plan did not count.
 */
function refuseDiskChanges(vm: string, before: DiskChain[], now: DiskChain[], when: string): void {
  const had = new Set(before.map((d) => d.key));
  const has = new Set(now.map((d) => d.key));
  const changes = [
    ...now.filter((d) => !had.has(d.key)).map((d) => `disk ${d.key} (${d.chain[0] ?? '?'}) was added`),
    ...before
      .filter((d) => !has.has(d.key))
      .map((d) => `disk ${d.key} (${d.chain.at(-1) ?? '?'}) was removed`),
  ];
  if (changes.length === 0) return;
  throw ApplicationFailure.create({
    type: 'DiskSetChangedError',
    nonRetryable: true,
    message: `the disks of ${vm} changed after the bulk copy (${when}): ${changes.join('; ')}. Quick Migration copies the disks frozen by its snapshot, so it stops before switching over; migrate the VM again to take its disks as they are now`,
  });
}
