/**
 * Compensations: each step that changes something pushes its undo right after it succeeds; a failure or
 * a cancellation before the target runs undoes them in reverse, in a non-cancellable scope, and the
 * workflow fails with FAILURE_TYPES.migrationFailed naming the step and what was undone.
 */
import { ApplicationFailure, CancellationScope, log, patched, TimeoutFailure } from '@temporalio/workflow';
import { FAILURE_TYPES } from '../../request/contract';
import type { MigrationProgress, Phase } from '../definitions';
import { ROLLBACK_CONTINUES } from '../patches';

/** One undo: what it restores, in words for the progress and the failure, and how. */
export interface Compensation {
  what: string;
  undo: () => Promise<unknown>;
}

/**
 * Runs the compensations in reverse, even when the workflow is being cancelled. An undo that fails (after
 * its retries) no longer stops the rollback (patch ROLLBACK_CONTINUES): the ones after it still run, so
 * the source is started again even when the target cannot be removed (a question pending on it, another
 * client's task). Returns what could not be undone, each with its cause.
 */
export async function rollback(
  compensations: readonly Compensation[],
  progress: MigrationProgress,
  enter: (phase: Phase, step?: string) => void,
): Promise<string[]> {
  progress.awaitingApproval = false;
  enter('rolling-back', 'rollback');
  const failed: string[] = [];
  await CancellationScope.nonCancellable(async () => {
    const goOn = patched(ROLLBACK_CONTINUES);
    for (const { what, undo } of [...compensations].reverse()) {
      try {
        await undo();
        progress.undone.push(what);
      } catch (error) {
        if (!goOn) throw error;
        failed.push(`${what}: FAILED, ${causeOf(error)}`);
        log.warn(`rollback step failed: ${what}`, { event: 'rollback-step-failed', error: causeOf(error) });
      }
    }
  });
  enter('rolled-back', 'rollback');
  log.info(`rolled back: ${progress.undone.length} step(s) undone`, {
    event: 'rolled-back',
    undone: progress.undone,
    failed,
  });
  return failed;
}

/**
 * The innermost useful message of an activity failure (the activity's own error, not the wrapper). A
 * step whose retries ran out of time fails with Temporal's timeout, which carries the last attempt's
 * failure as its cause (in the recorded failure): that names the fault (HostNotConnected, …).
 */
export function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : error;
  if (cause instanceof TimeoutFailure) {
    // The SDK's converter does not turn a timeout's cause into an Error; the recorded failure keeps it.
    const last = cause.cause instanceof Error ? cause.cause.message : cause.failure?.cause?.message;
    if (last && last !== 'Encoded failure')
      return `${last} (retried until the step's time ran out: ${cause.message})`;
  }
  return cause.message;
}

/**
 * The workflow's failure after a failed step: non-retryable, its message says what failed and what the
 * source is now; its details carry the step and what was undone (a batch reports them per VM).
 */
export function migrationFailed(
  message: string,
  details: { step: string; undone: string[] },
  error: unknown,
): ApplicationFailure {
  return ApplicationFailure.create({
    type: FAILURE_TYPES.migrationFailed,
    nonRetryable: true,
    message,
    details: [details],
    cause: error instanceof Error ? error : undefined,
  });
}
