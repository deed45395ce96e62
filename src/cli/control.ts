/** `quickmig list | approve | cancel`: find migrations, approve a manual switchover, roll one back. */
import { parseArgs } from 'node:util';
import { MigrationCancelledError } from '../client/failures';
import { CONNECTION_HELP, CONNECTION_OPTIONS } from './args';
import { CliError, ExitCode } from './errors';
import { withClient } from './migrate';
import type { Output } from './output';
import { listLines } from './render';

const LIST_USAGE = `Usage: quickmig list [--vm ENDPOINT/NAME] [--phase PHASE] [--status STATUS] [--limit N] [--json]

Migrations, newest first, filtered through the search attributes QuickmigVm and QuickmigPhase
(the same query works in the Temporal UI and with: temporal workflow list --query ...).
  --phase    preflight, config, bulk-copy, awaiting-approval, switchover, relocate, finalize, done,
             rolling-back, rolled-back
  --status   running, completed, failed, cancelled, terminated, timed-out

${CONNECTION_HELP}`;

/** `quickmig list`. */
export async function listCommand(args: string[], out: Output): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      vm: { type: 'string' },
      phase: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
    },
  });
  if (values.help) return out.text(LIST_USAGE);
  if (positionals.length > 0) throw new CliError(`list takes no arguments\n\n${LIST_USAGE}`, ExitCode.usage);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new CliError('--limit: give a whole number of at least 1', ExitCode.usage);
  const items = await withClient(values, (client) =>
    client.list({
      ...(values.vm ? { vm: values.vm } : {}),
      ...(values.phase ? { phase: values.phase } : {}),
      ...(values.status ? { status: values.status } : {}),
      ...(limit ? { limit } : {}),
    }),
  );
  if (values.json) out.json(items);
  else for (const line of listLines(items)) out.text(line);
}

const APPROVE_USAGE = `Usage: quickmig approve ID [--json]

Approves the switchover of a migration started with --switchover manual (it waits in phase
awaiting-approval, the source running on its snapshot). Refused when there is nothing to approve.

${CONNECTION_HELP}`;

/** `quickmig approve ID`. */
export async function approveCommand(args: string[], out: Output): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: CONNECTION_OPTIONS });
  if (values.help) return out.text(APPROVE_USAGE);
  const id = oneId(positionals, APPROVE_USAGE);
  const { approvedAt } = await withClient(values, (client) => client.approve(id));
  if (values.json) out.json({ id, approvedAt: new Date(approvedAt).toISOString() });
  else out.text(`Approved the switchover of ${id} at ${new Date(approvedAt).toISOString()}`);
}

const CANCEL_USAGE = `Usage: quickmig cancel ID [--detach] [--json]

Cancels a migration: it rolls back everything it did (target files and registration, its snapshot)
and returns the source to its power state. Waits for the rollback and lists what it undid, unless
--detach. Refused once the target runs (phase finalize or later). For a batch: nothing more starts,
its running migrations roll back, those already done stay done.

${CONNECTION_HELP}`;

/** `quickmig cancel ID`. */
export async function cancelCommand(args: string[], out: Output): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...CONNECTION_OPTIONS, detach: { type: 'boolean', default: false } },
  });
  if (values.help) return out.text(CANCEL_USAGE);
  const id = oneId(positionals, CANCEL_USAGE);
  await withClient(values, async (client) => {
    if ((await client.kindOf(id)) === 'batch') {
      // A batch starts nothing more; each running migration rolls back on its own (quickmig status ID).
      await client.cancelBatch(id);
      if (values.detach) {
        if (values.json) out.json({ id, cancelRequested: true });
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
        if (values.json) out.json({ id, cancelled: true, counts: progress.counts });
        else
          out.text(
            `Cancelled batch ${id}: ${progress.counts.succeeded} migrated before the cancellation, ${progress.counts.cancelled} cancelled or never started, ${progress.counts.failed} failed`,
          );
      }
      return;
    }
    await client.cancel(id);
    if (values.detach) {
      if (values.json) out.json({ id, cancelRequested: true });
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
      if (values.json) out.json({ id, cancelled: true, undone: error.undone });
      else {
        out.text(`Cancelled ${id}; rolled back:`);
        for (const what of error.undone) out.text(`  - ${what}`);
        if (error.undone.length === 0) out.text('  (nothing had changed yet)');
      }
    }
  });
}

function oneId(positionals: string[], usage: string): string {
  const [id, ...rest] = positionals;
  if (!id || rest.length > 0) throw new CliError(`give one migration id\n\n${usage}`, ExitCode.usage);
  return id;
}
