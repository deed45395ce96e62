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
      if ((await client.kindOf(id)) === 'batch') {
        // A batch starts nothing more; each running migration rolls back on its own (quickmig status ID).
        await client.cancelBatch(id);
        if (args.detach) {
          if (args.json) out.json({ id, cancelRequested: true });
          else out.text(`Cancellation of batch ${id} requested; its running migrations roll back now`);
          return;
        }
        out.progress(`cancellation of batch ${id} requested; waiting for its migrations to roll back`);
        try {
          await client.batchResult(id);
          throw new CliError(`${id} completed before the cancellation took effect; nothing was rolled back`);
        } catch (error) {
          if (!(error instanceof MigrationCancelledError)) throw error;
          const progress = await client.batchProgress(id);
          if (args.json) out.json({ id, cancelled: true, counts: progress.counts });
          else
            out.text(
              `Cancelled batch ${id}: ${progress.counts.succeeded} migrated before the cancellation, ${progress.counts.cancelled} cancelled or never started, ${progress.counts.failed} failed`,
            );
        }
        return;
      }
      await client.cancel(id);
      if (args.detach) {
        if (args.json) out.json({ id, cancelRequested: true });
        else out.text(`Cancellation of ${id} requested; it rolls back now (quickmig status ${id})`);
        return;
      }
      out.progress(`cancellation of ${id} requested; waiting for the rollback`);
      try {
        await client.result(id);
        // It finished before the cancellation reached it.
        throw new CliError(`${id} completed before the cancellation took effect; nothing was rolled back`);
      } catch (error) {
        if (!(error instanceof MigrationCancelledError)) throw error;
        if (args.json) out.json({ id, cancelled: true, undone: error.undone });
        else {
          out.text(`Cancelled ${id}; rolled back:`);
          for (const what of error.undone) out.text(`  - ${what}`);
          if (error.undone.length === 0) out.text('  (nothing had changed yet)');
        }
      }
    });
  },
});
