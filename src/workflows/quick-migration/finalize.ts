/**
 * Finalize: after the target runs (or holds the VM), consolidate it, deal with the source as the
 * request says, give the target its final name and unmount the instant-recovery datastore. Never rolled
 * back: from here on the target is the VM.
 */
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import { allHandlersFinished, CancellationScope, condition, patched } from '@temporalio/workflow';
import type { PreparedMigration } from '../../activities/preflight';
import type { ControlActivities } from '../activity-options';
import { step } from '../activity-options';
import type { MigrationResult, VerifiedFile } from '../definitions';
import { COMMIT_WINDOW } from '../patches';
import { runCommitWindow } from './commit-window';
import type { MigrationContext } from './context';
import { snapshotName } from './context';
import type { SwitchoverSteps } from './switchover';

/**
 * Runs finalize to its end, even when the workflow is cancelled meanwhile: a cancellation now would
 * leave the VM half finalized (the source renamed, not unregistered, ...), so the migration completes as
 * the CLI's `cancel` promises.
 */
export function finalizeMigration(
  prepared: PreparedMigration,
  ctx: MigrationContext,
  targetVm: PreparedMigration['source']['vm'] | undefined,
  verified: readonly VerifiedFile[],
  /** The switchover's steps (service downtime, report) and the copies' throughput; absent for vMotion. */
  switchover?: {
    sw: SwitchoverSteps;
    copyStats: { bytes: number; ms: number };
    /** The target's folders (a revert in the commit window deletes them). */
    folders?: readonly string[];
  },
): Promise<MigrationResult> {
  const { plan, source, target, request } = prepared;
  const { progress, enter, control } = ctx;
  const src = { endpoint: source.endpoint, vm: source.vm };
  return CancellationScope.nonCancellable(async () => {
    enter('finalize', 'consolidate');
    const tgt = { endpoint: target.endpoint, vm: targetVm };
    // The guest boots while finalize runs; its first heartbeat ends the service downtime.
    const service =
      switchover && targetVm && source.powerState === 'poweredOn'
        ? switchover.sw.waitForService(targetVm, ctx.heartbeatTimeoutMs)
        : undefined;
    await step(control.consolidateVm, `Consolidate the disks of ${target.temporaryName}`, tgt);

    progress.step = 'finalize-source';
    const sourceSteps = { prepared, ctx, tgt };
    let sourceOutcome: MigrationResult['source'];
    const windowMs = request.options.commit?.afterMs ?? 0;
    if (windowMs > 0 && patched(COMMIT_WINDOW)) {
      // The source is kept off and renamed but registered, the target takes its name; options.source
      // happens only at commit (commit-window.ts).
      progress.step = 'commit-window';
      await retireSource(sourceSteps, { unregister: false });
      await renameTarget(sourceSteps);
      sourceOutcome = await runCommitWindow({
        prepared,
        ctx,
        targetVm,
        folders: switchover?.folders ?? [],
        commitSource: async () => {
          if (request.options.source === 'delete') return deleteSource(sourceSteps);
          await step(control.unregisterVm, `Unregister the source ${source.name}_migrated`, src);
          return keptOutcome(prepared);
        },
      });
    } else {
      sourceOutcome =
        request.options.source === 'delete'
          ? await deleteSource(sourceSteps)
          : await retireSource(sourceSteps, { unregister: true });
      await renameTarget(sourceSteps);
    }

    progress.step = 'finalize-ir';
    const instantRecovery = plan.steps.includes('finalize-ir')
      ? await finalizeInstantRecovery(prepared, control)
      : null;
    const described = await step(control.describeVm, `Read ${target.finalName} for the report`, tgt);
    await service;
    // A commit update answers once the source was dealt with, before the workflow completes.
    if (windowMs > 0) await condition(allHandlersFinished);
    return ctx.finish({
      downtimeMs: progress.downtimeMs,
      ...(switchover
        ? switchover.sw.finish({
            downtimeMs: progress.downtimeMs,
            copyBytes: switchover.copyStats.bytes,
            copyMs: switchover.copyStats.ms,
          })
        : {}),
      bytesCopied: verified.filter((v) => !v.skipped).reduce((sum, v) => sum + v.size, 0),
      verified: [...verified],
      target: {
        endpoint: target.endpoint,
        moref: described.moref,
        name: described.name,
        host: described.host,
        datastores: described.datastores,
        powerState: described.powerState,
        snapshots: described.snapshots,
      },
      source: sourceOutcome,
      instantRecovery,
      ...(progress.commitWindow ? { commitWindow: progress.commitWindow } : {}),
    });
  });
}

/** What the source steps need. */
interface SourceSteps {
  prepared: PreparedMigration;
  ctx: MigrationContext;
  tgt: { endpoint: string; vm: PreparedMigration['source']['vm'] | undefined };
}

/** source delete: after the target's guest heartbeat (when it runs), the source and its files go. */
async function deleteSource({ prepared, ctx, tgt }: SourceSteps): Promise<MigrationResult['source']> {
  const { plan, source, target } = prepared;
  if (plan.targetPowerState === 'poweredOn') {
    await step(
      ctx.longControl.waitForGuestHeartbeat,
      `Wait for the guest heartbeat of ${target.temporaryName}`,
      { ...tgt, timeoutMs: ctx.heartbeatTimeoutMs },
    );
  }
  await step(ctx.control.destroyVm, `Delete the source ${source.name} and its files`, {
    endpoint: source.endpoint,
    vm: source.vm,
  });
  return {
    endpoint: source.endpoint,
    name: source.name,
    action: 'deleted',
    detail: 'deleted with its files after the target reported a guest heartbeat',
  };
}

/**
 * Powers the source off, removes the pre-copy and migration snapshots and renames it `<name>_migrated`;
 * unregisters it too unless a commit window keeps it registered for a revert.
 */
async function retireSource(
  { prepared, ctx }: SourceSteps,
  { unregister }: { unregister: boolean },
): Promise<MigrationResult['source']> {
  const { source } = prepared;
  const { control, progress, migrationId } = ctx;
  const src = { endpoint: source.endpoint, vm: source.vm };
  const keptName = `${source.name}_migrated`;
  await step(control.setPowerState, `Power off the source ${source.name}`, { ...src, state: 'poweredOff' });
  for (const round of [...(progress.precopy?.rounds ?? [])].reverse()) {
    await step(control.removeSnapshot, `Remove the pre-copy snapshot ${round.snapshot} of ${source.name}`, {
      ...src,
      name: round.snapshot,
    });
  }
  await step(control.removeSnapshot, `Remove the migration snapshot of ${source.name}`, {
    ...src,
    name: snapshotName(migrationId),
  });
  await step(control.renameVm, `Rename the source to ${keptName}`, { ...src, name: keptName });
  if (unregister) await step(control.unregisterVm, `Unregister the source ${keptName}`, src);
  return keptOutcome(prepared);
}

/** The result's source entry of a kept source. */
function keptOutcome({ source }: PreparedMigration): MigrationResult['source'] {
  const keptName = `${source.name}_migrated`;
  return {
    endpoint: source.endpoint,
    name: keptName,
    action: 'kept',
    detail: `renamed ${keptName}, powered off and unregistered; its files stay in ${source.vmxPath.replace(/\/[^/]*$/, '')}`,
  };
}

/** Gives the target its final name. */
async function renameTarget({ prepared, ctx, tgt }: SourceSteps): Promise<void> {
  await step(ctx.control.renameVm, `Rename the target to ${prepared.target.finalName}`, {
    ...tgt,
    name: prepared.target.finalName,
  });
}

/** Unmounts the instant-recovery datastore where no VM uses it, when the request asks for it. */
export async function finalizeInstantRecovery(
  prepared: PreparedMigration,
  activities: ActivityInterfaceFor<ControlActivities>,
): Promise<MigrationResult['instantRecovery']> {
  const ir = prepared.source.instantRecoveryDatastore;
  if (!prepared.request.options.finalizeInstantRecovery || !ir) return null;
  const outcome = await step(activities.unmountIfUnused, `Unmount ${ir.name} where no VM uses it`, {
    endpoint: prepared.source.endpoint,
    datastore: ir.ref,
    datastoreSystems: ir.datastoreSystems,
  });
  return { datastore: ir.name, ...outcome };
}
