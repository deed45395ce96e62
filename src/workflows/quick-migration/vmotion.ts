/**
 * The vMotion path: one RelocateVM_Task (vMotion, Storage vMotion or both) after the switchover gate,
 * then the instant-recovery finalize. vSphere keeps the VM where it was when a relocation fails, so
 * there is nothing to compensate.
 */
import { isCancellation } from '@temporalio/workflow';
import type { PreparedMigration } from '../../activities/preflight';
import { step } from '../activity-options';
import type { MigrationResult } from '../definitions';
import { causeOf, migrationFailed } from './compensation';
import type { MigrationContext } from './context';
import { finalizeInstantRecovery } from './finalize';

/** Relocates the VM as the plan says and reports it. */
export async function vmotionMigration(
  prepared: PreparedMigration,
  ctx: MigrationContext,
): Promise<MigrationResult> {
  const { plan } = prepared;
  await ctx.awaitSwitchover();
  ctx.enter('relocate', 'relocate');
  const src = { endpoint: prepared.source.endpoint, vm: prepared.source.vm };
  try {
    await step(
      ctx.longControl.relocateVm,
      `RelocateVM_Task (${plan.relocation}) of ${prepared.source.name}`,
      {
        ...src,
        ...(plan.relocation?.includes('host')
          ? { host: prepared.target.host, pool: prepared.target.pool }
          : {}),
        ...(plan.relocation?.includes('datastore')
          ? {
              datastore: prepared.target.datastore,
              disks: prepared.target.diskDatastores.map(({ diskKey, datastore }) => ({ diskKey, datastore })),
              diskType: prepared.request.options.diskType,
            }
          : {}),
      },
    );
  } catch (error) {
    if (isCancellation(error)) throw error;
    // vSphere keeps the VM running where it was when a relocation fails: there is nothing to undo.
    throw migrationFailed(
      `vMotion of ${prepared.source.name} failed at step relocate: ${causeOf(error)}. vSphere left the VM on its source host and datastores; nothing to undo.`,
      { step: 'relocate', undone: [] },
      error,
    );
  }
  ctx.enter('finalize', 'finalize-ir');
  const instantRecovery = await finalizeInstantRecovery(prepared, ctx.control);
  const target = await step(ctx.control.describeVm, `Read ${prepared.source.name} after the relocation`, src);
  return ctx.finish({
    downtimeMs: null,
    bytesCopied: 0,
    verified: [],
    target: {
      endpoint: src.endpoint,
      moref: target.moref,
      name: target.name,
      host: target.host,
      datastores: target.datastores,
      powerState: target.powerState,
      snapshots: target.snapshots,
    },
    source: {
      endpoint: src.endpoint,
      name: target.name,
      action: 'relocated',
      detail: `relocated (${plan.relocation}) by vSphere`,
    },
    instantRecovery,
  });
}
