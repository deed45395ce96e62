/**
 * The commit window's half of the client API (options.commit, README "Commit window"): revert a
 * migration within its window, or commit it early. Both are workflow updates; the workflow refuses
 * them outside the window with the reason, which OperationRefusedError carries.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { isGrpcServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { CommitOutcome, MigrationResult, RevertOutcome } from '../workflows/definitions';
import { cleanupTestUpdate, commitUpdate, revertUpdate } from '../workflows/definitions';
import type { quickMigration } from '../workflows/quick-migration';
import { BatchClient } from './batches';
import { OperationRefusedError, rootMessage } from './failures';

/** Options of {@link CommitWindowClient.revert}. */
export interface RevertOptions {
  /**
   * Bring the target's disk changes since the switchover back to the source. Not supported (the
   * workflow refuses it and says why); default false: the source comes back as it was at the switchover.
   */
  keepTargetChanges?: boolean;
}

/** Revert and commit; {@link QuickmigClient} builds on it. */
export class CommitWindowClient extends BatchClient {
  /**
   * Reverts a migration within its commit window: the target is stopped and removed, the source runs
   * again under its name. Resolves once done (the migration then fails as MigrationReverted). Throws
   * OperationRefusedError with the reason outside the window.
   */
  async revert(id: string, options: RevertOptions = {}): Promise<RevertOutcome> {
    return this.decide(id, 'revert', () =>
      this.windowHandle(id).executeUpdate(revertUpdate, {
        args: [options.keepTargetChanges ? { keepTargetChanges: true } : {}],
      }),
    );
  }

  /** Ends the commit window now: options.source happens and the migration completes. */
  async commit(id: string): Promise<CommitOutcome> {
    return this.decide(id, 'commit', () => this.windowHandle(id).executeUpdate(commitUpdate));
  }

  /**
   * Removes the test VM a test migration kept (options.test.keep): power off, unregister, delete its
   * files, keeping the copied disks for the real run unless options.test.keepDisks is false; resolves
   * once it is gone (the migration then completes with its test report). Throws
   * OperationRefusedError with the reason when the migration keeps no test VM.
   */
  async cleanupTest(id: string): Promise<{ cleanedAt: string; cleanup: string[] }> {
    return this.decide(id, 'cleanup', () => this.windowHandle(id).executeUpdate(cleanupTestUpdate));
  }

  private windowHandle(id: string): WorkflowHandle<typeof quickMigration> {
    return this.temporal.workflow.getHandle<typeof quickMigration>(id);
  }

  private async decide<T>(
    id: string,
    operation: 'revert' | 'commit' | 'cleanup',
    update: () => Promise<T>,
  ): Promise<T> {
    const description = await this.describe(id);
    if (description.status.name !== 'RUNNING')
      throw new OperationRefusedError(id, operation, await this.endedReason(id, description.status.name));
    try {
      return await update();
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError)
        throw new OperationRefusedError(id, operation, rootMessage(error), { cause: error });
      if (
        error instanceof WorkflowNotFoundError ||
        (isGrpcServiceError(error) && /completed|closed/i.test(error.details ?? ''))
      )
        throw new OperationRefusedError(id, operation, await this.endedReason(id, 'COMPLETED'), {
          cause: error,
        });
      throw error;
    }
  }

  /** Why a migration that has ended can no longer be reverted or committed: what became of its window. */
  private async endedReason(id: string, status: string): Promise<string> {
    if (status !== 'COMPLETED') return `the migration has ended (${status.toLowerCase()})`;
    let result: MigrationResult;
    try {
      result = await this.windowHandle(id).result();
    } catch {
      return 'the migration has already completed';
    }
    const w = result.commitWindow;
    if (!w)
      return 'the migration completed without a commit window (options.commit.afterMs was 0 or unset): it committed at once';
    return `the commit window ended at ${w.endedAt} (${w.endedBy === 'commit' ? 'by the commit update' : "at the window's end"}) and the migration committed; the source ${result.source.action === 'deleted' ? 'was deleted' : `is kept as ${result.source.name}`}`;
  }
}
