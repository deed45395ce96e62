/**
 * The batch half of the client API: start a `migrationBatch` workflow from a plan file, follow its
 * per-VM progress, wait for its result, cancel it.
 */
import { randomUUID } from 'node:crypto';
import type { WorkflowExecutionStatusName, WorkflowHandle } from '@temporalio/client';
import {
  CancelledFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
} from '@temporalio/client';
import type { BatchPlan, BatchPlanInput, MigrationBatchInput } from '../request/batch-plan';
import { batchIdOf, normalizePlan } from '../request/batch-plan';
import { WORKFLOW_TYPES } from '../request/contract';
import type { BatchProgress, BatchResult, migrationBatch } from '../workflows/batch';
import { batchProgressQuery } from '../workflows/batch';
import { ClientBase } from './base';
import { BatchAlreadyStartedError, MigrationCancelledError } from './failures';
import { describeBatch } from './ids';

/** Options of `startBatch`. */
export interface BatchStartOptions {
  /** Workflow id of the batch. Default: {@link batchIdOf} (`quickmig-batch-<name>`, else timestamped). */
  id?: string;
  /** Task queue of every child's data-mover activities. Default: the worker's queue. */
  dataMoverTaskQueue?: string;
  /** Fail with NoWorkerError when no worker polls the task queue. Default false (the batch waits for one). */
  requireWorker?: boolean;
}

/** A started batch. */
export interface StartedBatch {
  id: string;
  runId: string;
  /** How many migrations the plan holds. */
  count: number;
}

/** A batch's progress (the `batchProgress` query) with the execution's status and times. */
export interface LiveBatchProgress extends BatchProgress {
  id: string;
  runId: string;
  /** Temporal's status of the batch workflow: RUNNING, COMPLETED, CANCELLED, ... */
  status: WorkflowExecutionStatusName;
  startedAt: Date;
  closedAt: Date | null;
}

/** The batch operations of {@link QuickmigClient}. */
export class BatchClient extends ClientBase {
  /**
   * Starts a batch of migrations from a plan (parsed YAML/JSON, or a BatchPlan from parsePlan) and
   * returns its id at once. The plan is validated first: PlanValidationError lists every problem.
   * Throws BatchAlreadyStartedError when the id was used before (a batch id runs once).
   */
  async startBatch(plan: BatchPlanInput | BatchPlan, options: BatchStartOptions = {}): Promise<StartedBatch> {
    const normalized = normalizePlan(plan);
    if (options.requireWorker) await this.waitForWorker();
    const id = options.id ?? batchIdOf(normalized, new Date(), randomUUID().slice(0, 6));
    const input: MigrationBatchInput = {
      migrations: normalized.migrations,
      limits: normalized.limits,
      ...(normalized.name ? { name: normalized.name } : {}),
      ...(options.dataMoverTaskQueue ? { dataMoverTaskQueue: options.dataMoverTaskQueue } : {}),
    };
    try {
      const handle = await this.temporal.workflow.start<typeof migrationBatch>(
        WORKFLOW_TYPES.migrationBatch,
        {
          taskQueue: this.taskQueue,
          workflowId: id,
          args: [input],
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          staticSummary: describeBatch(normalized),
          staticDetails: `Plan:\n\n\`\`\`json\n${JSON.stringify(normalized, null, 2)}\n\`\`\``,
        },
      );
      return { id, runId: handle.firstExecutionRunId, count: normalized.migrations.length };
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError)
        throw new BatchAlreadyStartedError(id, { cause: error });
      throw error;
    }
  }

  private batchHandle(id: string): WorkflowHandle<typeof migrationBatch> {
    return this.temporal.workflow.getHandle<typeof migrationBatch>(id);
  }

  /**
   * A batch's progress: counts, per-VM state and results, and the most migrations it ran at once.
   * A finished batch answers from its result when no worker is there to answer the query.
   */
  async batchProgress(id: string): Promise<LiveBatchProgress> {
    const { description, answer: progress } = await this.queried(
      id,
      () => this.batchHandle(id).query(batchProgressQuery),
      (closed, error) => {
        if (closed.status.name !== 'COMPLETED') throw error;
        return this.batchHandle(id).result();
      },
    );
    return {
      ...progress,
      id,
      runId: description.runId,
      status: description.status.name,
      startedAt: description.startTime,
      closedAt: description.closeTime ?? null,
    };
  }

  /**
   * Waits for a batch to end and returns every VM's outcome (failed VMs are in the result, not thrown).
   * Throws MigrationCancelledError when the batch was cancelled, MigrationFailedError when the batch
   * itself failed (e.g. invalid limits from a starter other than this client).
   */
  async batchResult(id: string): Promise<BatchResult> {
    await this.describe(id);
    try {
      return await this.batchHandle(id).result();
    } catch (error) {
      if (error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure)
        throw new MigrationCancelledError(id, [], { cause: error });
      throw await this.failureOf(id, error);
    }
  }

  /**
   * Cancels a batch: it starts nothing more, cancels its running migrations (each rolls back) and
   * ends once they have. Refused when the batch has already ended.
   */
  async cancelBatch(id: string): Promise<void> {
    await this.running(id, 'cancel', 'batch');
    await this.batchHandle(id).cancel();
  }
}
