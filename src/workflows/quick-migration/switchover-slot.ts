/**
 * A batch's migration that suspends its source asks the batch for a suspend slot on its source host
 * before the suspend and gives it back once the target runs (QuickMigrationOptions.switchoverAdmission;
 * the batch sets it when its plan limits suspendsPerHost). The batch releases what a migration held
 * when it sees it end, so a failure, a cancellation or a termination leaks nothing.
 */
import { condition, getExternalWorkflowHandle, setHandler, workflowInfo } from '@temporalio/workflow';
import { releaseSwitchoverSlot, requestSwitchoverSlot, switchoverSlotGranted } from '../admission-signals';
import type { MigrationProgress, QuickMigrationOptions } from '../definitions';

/** Acquire before the suspend, release after the resume; both no-ops without switchoverAdmission. */
export function switchoverSlot(options: QuickMigrationOptions | undefined, progress: MigrationProgress) {
  const ledger = options?.switchoverAdmission?.ledger;
  let held = false;
  return {
    async acquire(): Promise<void> {
      if (!ledger) return;
      let granted = false;
      setHandler(switchoverSlotGranted, () => {
        granted = true;
      });
      progress.step = 'await-suspend-slot';
      await getExternalWorkflowHandle(ledger).signal(requestSwitchoverSlot, {
        holder: workflowInfo().workflowId,
      });
      await condition(() => granted);
      held = true;
    },
    async release(): Promise<void> {
      if (!ledger || !held) return;
      held = false;
      await getExternalWorkflowHandle(ledger).signal(releaseSwitchoverSlot, {
        holder: workflowInfo().workflowId,
      });
    },
  };
}
