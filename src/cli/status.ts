/** `quickmig status ID`: where a migration or a batch is now (and the report once it completed). */
import type { QuickmigClient } from '../client/migrations';
import { CONNECTION_ARGS, ID_ARG, oneId } from './args';
import { command, outputOf } from './command';
import { withClient } from './connect';
import type { Output } from './output';
import { batchCountsLine, batchLimitsLine, batchLines, planLine, progressLine, reportLines } from './render';

/** `quickmig status ID`. */
export const statusCommand = command({
  meta: { name: 'status', description: 'Where a migration or a batch is now' },
  args: { ...ID_ARG, ...CONNECTION_ARGS },
  notes: `A migration: its phase, step, bytes and plan; the report once it completed, the failure once it
failed. A batch (quickmig migrate --plan): its counts, limits against the peaks reached, one row per VM.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const id = oneId(args);
    const json = args.json === true;
    await withClient(args, async (client) => {
      if ((await client.kindOf(id)) === 'batch') return batchStatus(client, id, out, json);
      return migrationStatus(client, id, out, json);
    });
  },
});

/** A migration's progress, and its report or failure once it ended. */
async function migrationStatus(
  client: QuickmigClient,
  id: string,
  out: Output,
  json: boolean,
): Promise<void> {
  const progress = await client.progress(id);
  const result = progress.status === 'COMPLETED' ? await client.result(id) : null;
  const failure =
    progress.status === 'RUNNING' || result
      ? null
      : await client.result(id).then(
          () => null,
          (error: Error) => error.message,
        );
  const link = client.uiLink(id, progress.runId);
  if (json) {
    out.json({ ...progress, result, failure, uiLink: link ?? null });
    return;
  }
  out.text(`${id}  ${progress.status}  ${progress.vm}`);
  out.text(`  ${progressLine(progress, id)}`);
  if (progress.plan) out.text(planLine(progress.plan).replace(/^/gm, '  '));
  const window = progress.commitWindow;
  if (window?.endsAt && (window.state === 'open' || window.state === 'pending'))
    out.text(
      `  commit window open until ${window.endsAt}; the source is kept off as ${window.sourceKeptAs}: quickmig revert ${id} or quickmig commit ${id}`,
    );
  if (progress.undone.length)
    out.text(
      `  ${progress.phase === 'reverted' ? 'reverted' : 'rolled back'}: ${progress.undone.join('; ')}`,
    );
  if (failure) out.text(`  ${progress.status.toLowerCase()}: ${failure}`);
  else if (progress.error) out.text(`  error: ${progress.error}`);
  if (result) {
    const duration = progress.closedAt ? progress.closedAt.getTime() - progress.startedAt.getTime() : null;
    for (const line of reportLines(result, { id, durationMs: duration, uiLink: link })) out.text(line);
  } else if (link) out.text(`  Temporal UI   ${link}`);
}

/** A batch's counts, limits against the peaks, and the per-VM table. */
async function batchStatus(client: QuickmigClient, id: string, out: Output, json: boolean): Promise<void> {
  const progress = await client.batchProgress(id);
  const link = client.uiLink(id, progress.runId);
  if (json) {
    out.json({ ...progress, uiLink: link ?? null });
    return;
  }
  out.text(`${id}  ${progress.status}  batch${progress.name ? ` ${progress.name}` : ''}`);
  out.text(`  ${batchCountsLine(progress)}`);
  out.text(`  ${batchLimitsLine(progress)}`);
  for (const line of batchLines(progress)) out.text(`  ${line}`);
  if (link) out.text(`  Temporal UI   ${link}`);
}
