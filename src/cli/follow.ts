/**
 * Following a migration or a batch to its end: a live progress line while it runs (Ctrl-C asks whether
 * to cancel or detach), then the report. `migrate`, `watch` and `demo` share these loops.
 */
import { createInterface } from 'node:readline';
import type { LiveBatchProgress } from '../client/batches';
import { OperationRefusedError } from '../client/failures';
import type { QuickmigClient } from '../client/migrations';
import { CliError } from './errors';
import type { Output } from './output';
import {
  batchCountsLine,
  batchLimitsLine,
  batchLines,
  batchVmLine,
  formatDuration,
  planLine,
  progressLine,
  reportLines,
} from './render';

/** Follows a migration, then prints its report; a failed or cancelled migration throws (main maps it). */
export async function followAndReport(
  client: QuickmigClient,
  id: string,
  out: Output,
  json: boolean,
  options: {
    allowPrompt?: boolean;
    /** Said after the report: text lines, and the same as fields of the JSON report. */
    appendix?: { lines: readonly string[]; json: Record<string, unknown> };
  } = {},
): Promise<void> {
  const outcome = await follow(client, id, out, options);
  if (outcome === 'detached') {
    out.progress(
      `detached; the migration goes on. Follow it with: quickmig watch ${id}   cancel it with: quickmig cancel ${id}`,
    );
    if (json) out.json({ id, detached: true });
    return;
  }
  const result = await client.result(id);
  const summary = await client.summary(id);
  const durationMs = summary.closedAt ? summary.closedAt.getTime() - summary.startedAt.getTime() : null;
  const uiLink = client.uiLink(id, summary.runId);
  if (json)
    out.json({
      id,
      runId: summary.runId,
      status: summary.status,
      durationMs,
      uiLink: uiLink ?? null,
      result,
      ...options.appendix?.json,
    });
  else
    for (const line of [
      ...reportLines(result, { id, durationMs, uiLink }),
      ...(options.appendix?.lines ?? []),
    ])
      out.text(line);
}

/**
 * Shows a migration's progress until it closes. On Ctrl-C: at a terminal, asks whether to cancel
 * (roll back), detach or keep watching; otherwise detaches (never cancels without asking).
 */
export async function follow(
  client: QuickmigClient,
  id: string,
  out: Output,
  options: { allowPrompt?: boolean; pollMs?: number } = {},
): Promise<'closed' | 'detached'> {
  const pollMs = options.pollMs ?? 500;
  let interrupted = false;
  let wake: () => void = () => {};
  const onSigint = () => {
    interrupted = true;
    wake();
  };
  process.on('SIGINT', onSigint);
  let lastStep = '';
  let lastLiveAt = 0;
  let lastLive = '';
  let planShown = false;
  const read = patiently(() => client.progress(id));
  try {
    for (;;) {
      const progress = await read();
      if (progress) {
        if (!planShown && progress.plan) {
          out.progress(planLine(progress.plan));
          planShown = true;
        }
        const step = `${progress.phase}/${progress.step}/${progress.awaitingApproval}`;
        const line = progressLine(progress, id);
        const now = Date.now();
        if (step !== lastStep || (line !== lastLive && (out.interactive || now - lastLiveAt >= 1000))) {
          out.live(line);
          lastLive = line;
          lastLiveAt = now;
        }
        lastStep = step;
        if (progress.status !== 'RUNNING') return 'closed';
      }
      if (!interrupted) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      if (interrupted) {
        interrupted = false;
        const choice = await askOnInterrupt(out, options.allowPrompt ?? true);
        if (choice === 'detach') return 'detached';
        if (choice === 'cancel') {
          try {
            await client.cancel(id);
            out.progress('cancel requested: rolling back');
          } catch (error) {
            if (!(error instanceof OperationRefusedError)) throw error;
            out.progress(`${error.message}; still watching`);
          }
        }
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Asks what Ctrl-C should do; without a terminal to ask on, detaches. */
async function askOnInterrupt(out: Output, allowPrompt: boolean): Promise<'cancel' | 'detach' | 'continue'> {
  if (!allowPrompt || !out.interactive || !process.stdin.isTTY) return 'detach';
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.on('SIGINT', () => resolve('d'));
      rl.question(
        '\nCtrl-C: [c] cancel the migration and roll back, [d] detach (it goes on), [Enter] keep watching: ',
        resolve,
      );
    });
    const a = answer.trim().toLowerCase();
    return a.startsWith('c') ? 'cancel' : a.startsWith('d') ? 'detach' : 'continue';
  } finally {
    rl.close();
  }
}

/**
 * Follows a batch until it ends: a line per VM that starts or ends, the counts as a live line; then
 * the per-VM table. Throws CliError (exit 1) when any VM failed or the batch was cancelled.
 */
export async function followBatch(
  client: QuickmigClient,
  id: string,
  out: Output,
  json: boolean,
  options: { pollMs?: number } = {},
): Promise<LiveBatchProgress> {
  const seen = new Map<number, string>();
  let lastCounts = '';
  const read = patiently(() => client.batchProgress(id));
  for (;;) {
    const progress = await read();
    if (progress) {
      for (const vm of progress.vms) {
        if (seen.get(vm.index) === vm.state) continue;
        if (vm.state !== 'resolving' && vm.state !== 'queued') out.progress(batchVmLine(vm));
        seen.set(vm.index, vm.state);
      }
      const counts = batchCountsLine(progress);
      if (counts !== lastCounts) out.live(counts);
      lastCounts = counts;
      if (progress.status !== 'RUNNING') {
        reportBatch(progress, out, json, client.uiLink(id, progress.runId));
        return progress;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
}

/** Prints a finished batch; throws CliError when any VM failed or the batch did not complete. */
function reportBatch(
  progress: LiveBatchProgress,
  out: Output,
  json: boolean,
  uiLink: string | undefined,
): void {
  if (json) out.json({ ...progress, uiLink: uiLink ?? null });
  else {
    const duration = progress.closedAt ? progress.closedAt.getTime() - progress.startedAt.getTime() : null;
    out.text(
      `Batch ${progress.id} ${progress.status.toLowerCase()}${duration !== null ? ` in ${formatDuration(duration)}` : ''}: ${batchCountsLine(progress)}`,
    );
    out.text(`  ${batchLimitsLine(progress)}`);
    for (const line of batchLines(progress)) out.text(`  ${line}`);
    if (uiLink) out.text(`  Temporal UI   ${uiLink}`);
  }
  const { failed, cancelled, total } = progress.counts;
  if (progress.status !== 'COMPLETED')
    throw new CliError(
      `batch ${progress.id} ended ${progress.status.toLowerCase()}: ${batchCountsLine(progress)}`,
    );
  if (failed + cancelled > 0)
    throw new CliError(
      `${failed + cancelled} of ${total} migration(s) in batch ${progress.id} did not succeed: ${progress.vms
        .filter((v) => v.state === 'failed' || v.state === 'cancelled')
        .map((v) => v.vm)
        .join(', ')}`,
    );
}

/**
 * A reader of a workflow's progress for a watch loop: undefined when a query fails, as it can while a
 * worker restarts; only 20 failures in a row end the watch (the error is thrown then).
 */
function patiently<T>(read: () => Promise<T>): () => Promise<T | undefined> {
  let failures = 0;
  return async () => {
    try {
      const value = await read();
      failures = 0;
      return value;
    } catch (error) {
      if (++failures >= 20) throw error;
      return undefined;
    }
  };
}
