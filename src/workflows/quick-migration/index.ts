/**
 * The `quickMigration` workflow: one VM, from preflight to a running target. vMotion / Storage vMotion
 * when the planner allows it (vmotion.ts), otherwise Quick Migration, SmartSwitch or Cold (copy.ts):
 *
 *   preflight → make folders → bulk copy (snapshot; copy the frozen disks while the VM runs)
 *   → switchover (suspend or stop; copy what changed; register; resume or start) → finalize.
 *
 * Every step pushes its compensation right after it succeeds. Any failure or cancellation before the
 * target runs undoes them in reverse, in a non-cancellable scope (compensation.ts): the source gets its
 * power state back and the target's files, registration and the migration's snapshot go. After the
 * target runs, finalize steps (finalize.ts) are retried and reported, never rolled back: from then on
 * the target is the VM. Warm pre-copy is in warm.ts, the progress and the copy accounting in progress.ts.
 */
import {
  ApplicationFailure,
  condition,
  isCancellation,
  patched,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { MigrationRequestInput } from '../../request/request';
import { controlActivities, longControlActivities, step, transferActivities } from '../activity-options';
import type { MigrationResult, QuickMigrationOptions } from '../definitions';
import { PREFLIGHT_REFUSAL, TEST_MIGRATION } from '../patches';
import { METHOD_ATTRIBUTE, MODE_ATTRIBUTE, PHASE_ATTRIBUTE, VM_ATTRIBUTE } from '../search-attributes';
import type { GateDeps } from '../switchover-gate';
import { waitForSwitchover } from '../switchover-gate';
import { handleCommitWindow, pendingWindow } from './commit-window';
import { causeOf } from './compensation';
import { copySteps } from './copy';
import { withCurrentDetails } from './details';
import { handleQueries, initialProgress, phaseTracker, resultBuilder } from './progress';
import { testMigration } from './test-run';
import { vmotionMigration } from './vmotion';

export type { QuickMigrationOptions } from '../definitions';
export { snapshotName } from './context';

/** Migrates one VM as its request says; see the file comment for the phases and guarantees. */
export async function quickMigration(
  request: MigrationRequestInput,
  options: QuickMigrationOptions = {},
): Promise<MigrationResult> {
  const migrationId = workflowInfo().workflowId;
  const control = controlActivities(options);
  const transfer = transferActivities(options, workflowInfo().taskQueue);

  const progress = withCurrentDetails(initialProgress(migrationId, request));
  const tracker = phaseTracker(progress);
  const { enter } = tracker;
  const { isApproved } = handleQueries(progress);
  const commitWindow = handleCommitWindow(progress);
  upsertSearchAttributes([
    { key: VM_ATTRIBUTE, value: progress.vm },
    { key: PHASE_ATTRIBUTE, value: 'preflight' },
  ]);

  let prepared: Awaited<ReturnType<typeof control.preflight>>;
  try {
    prepared = await step(
      control.preflight,
      `Preflight: validate, resolve and plan ${progress.vm}`,
      request,
      migrationId,
    );
  } catch (error) {
    if (!patched(PREFLIGHT_REFUSAL) || isCancellation(error)) throw error;
    throw refused(error, progress, enter);
  }
  const { plan } = prepared;
  progress.plan = plan;
  progress.vm = `${prepared.source.endpoint}/${prepared.source.name}`;
  upsertSearchAttributes([
    { key: VM_ATTRIBUTE, value: progress.vm },
    { key: METHOD_ATTRIBUTE, value: plan.method },
    ...(plan.mode ? [{ key: MODE_ATTRIBUTE, value: plan.mode }] : []),
  ]);
  upsertMemo({ plan });
  if (plan.steps.includes('commit-window'))
    progress.commitWindow = pendingWindow(
      prepared.request.options.commit?.afterMs ?? 0,
      prepared.source.name,
    );

  // Warnings a policy adds on the way (a missed budget or window it switched over anyway).
  const policyWarnings: string[] = [];
  /** Waits until the switchover may start: window, approval, and with pre-copy the downtime budget. */
  const awaitSwitchover = async (precopy?: GateDeps['precopy']) => {
    const { window } = prepared.request.options;
    const manual = plan.steps.includes('await-switchover');
    if (!window && !precopy) {
      // One pass, as before warm migration existed (recorded histories replay this path).
      if (!manual) return;
      enter('awaiting-approval', 'await-switchover');
      progress.awaitingApproval = true;
      await condition(isApproved);
      progress.awaitingApproval = false;
      return;
    }
    await waitForSwitchover({
      window,
      manual,
      isApproved,
      setWaiting: (what) => {
        progress.waitingFor = what?.reason ?? null;
        progress.awaitingApproval = what?.approval ?? false;
        if (what?.approval) enter('awaiting-approval', 'await-switchover');
        else if (what) enter('awaiting-window', 'await-window');
      },
      warn: (message) => policyWarnings.push(message),
      ...(precopy ? { precopy } : {}),
    });
  };

  const ctx = {
    migrationId,
    progress,
    enter,
    awaitSwitchover,
    transfer,
    control,
    longControl: longControlActivities(),
    finish: resultBuilder(migrationId, plan, progress, tracker, policyWarnings),
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 600_000,
    commitWindow,
    options,
  };
  // Only requests with options.test reach patched(): stored histories never meet it.
  if (prepared.request.options.test && plan.method === 'quick-migration' && patched(TEST_MIGRATION))
    return testMigration(prepared, ctx);
  return plan.method === 'vmotion' ? vmotionMigration(prepared, ctx) : copySteps(prepared, ctx);
}

/**
 * The end of a migration that preflight refused or that failed in preflight: nothing was changed. The
 * progress shows phase `refused` and the error; the workflow fails with a non-retryable failure typed
 * as the activity's error, so the client and the UI see why (not a wrapped, retryable-looking Error).
 */
function refused(
  error: unknown,
  progress: { error: string | null },
  enter: (phase: 'refused', step?: string) => void,
): ApplicationFailure {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const type = cause instanceof ApplicationFailure ? (cause.type ?? 'Error') : (cause?.name ?? 'Error');
  progress.error = causeOf(error);
  enter('refused', 'preflight');
  return ApplicationFailure.create({
    type,
    nonRetryable: true,
    message: progress.error,
    details: [{ step: 'preflight', undone: [] }],
    cause: error instanceof Error ? error : undefined,
  });
}
