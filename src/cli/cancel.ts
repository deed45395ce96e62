/** `quickmig cancel ID`: roll a migration back, or stop a batch (its running migrations roll back). */
import { MigrationCancelledError } from '../client/failures';
import { CONNECTION_ARGS, ID_ARG, oneId } from './args';
import { command, outputOf } from './command';
import { withClient } from './connect';
import { CliError } from './errors';

/** `quickmig cancel ID [--detach]`. */
export const cancelCommand = command({
  meta: { name: 'cancel', description: 'Cancel a migration: it rolls back and the source runs as before' },
  args: {
    ...ID_ARG,
    detach: {
      type: 'boolean',
      description: 'Request the cancellation and return without waiting for the rollback',
    },
    ...CONNECTION_ARGS,
  },
  notes: `The migration rolls back everything it did (target files and registration, its snapshot) and
returns the source to its power state; cancel waits for the rollback and lists what it undid. Refused
once the target runs (phase finalize or later). For a batch: nothing more starts, its running
migrations roll back, those already done stay done.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const id = oneId(args);
    await withClient(args, async (client) => {
      // A batch starts nothing more; each running migration rolls back on its own (quickmig status ID).
      const batch = (await client.kindOf(id)) === 'batch';
      const what = batch ? `batch ${id}` : id;
      if (batch) await client.cancelBatch(id);
      else await client.cancel(id);
      if (args.detach) {
        if (args.json) out.json({ id, cancelRequested: true });
        else if (batch) out.text(`Cancellation of ${what} requested; its running migrations roll back now`);
        else out.text(`Cancellation of ${id} requested; it rolls back now (quickmig status ${id})`);
        return;
      }
      out.progress(
        `cancellation of ${what} requested; waiting for ${batch ? 'its migrations to roll back' : 'the rollback'}`,
      );
      const cancelled = await cancelledEnd(id, batch ? client.batchResult(id) : client.result(id));
      if (batch) {
        const { counts } = await client.batchProgress(id);
        if (args.json) out.json({ id, cancelled: true, counts });
        else
          out.text(
            `Cancelled batch ${id}: ${counts.succeeded} migrated before the cancellation, ${counts.cancelled} cancelled or never started, ${counts.failed} failed`,
          );
      } else if (args.json) out.json({ id, cancelled: true, undone: cancelled.undone });
      else {
        out.text(`Cancelled ${id}; rolled back:`);
        for (const step of cancelled.undone) out.text(`  - ${step}`);
        if (cancelled.undone.length === 0) out.text('  (nothing had changed yet)');
      }
    });
  },
});

/** Waits for a cancelled workflow to end: its MigrationCancelledError; CliError when it completed first. */
async function cancelledEnd(id: string, result: Promise<unknown>): Promise<MigrationCancelledError> {
  try {
    await result;
  } catch (error) {
    if (error instanceof MigrationCancelledError) return error;
    throw error;
  }
  // It finished before the cancellation reached it.
  throw new CliError(`${id} completed before the cancellation took effect; nothing was rolled back`);
}
