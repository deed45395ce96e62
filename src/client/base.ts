/**
 * What every quickmig operation shares: the Temporal client and the worker's task queue, whether a
 * worker polls it, finding a workflow by id, and turning a workflow's failure into the client's
 * errors. QuickmigClient builds on it (./batches, then ./migrations).
 */
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../request/contract';
import { progressQuery } from '../workflows/definitions';
import { MigrationNotFoundError, migrationFailureOf, NoWorkerError, OperationRefusedError } from './failures';

/** Options of the client. */
export interface QuickmigClientOptions {
  /** Task queue of the quickmig worker. Default `quickmig` (DEFAULT_TASK_QUEUE). */
  taskQueue?: string;
  /** Temporal Web UI base URL, for links. Default: none (the lab's when connected through the lab). */
  uiUrl?: string;
  /** Shown in messages; default: the connection's address. */
  address?: string;
}

/** The shared part of the client API; use {@link QuickmigClient}. */
export class ClientBase {
  readonly taskQueue: string;
  readonly uiUrl: string | undefined;
  readonly address: string;

  constructor(
    /** The underlying Temporal client, for anything the API does not cover. */
    readonly temporal: Client,
    options: QuickmigClientOptions = {},
  ) {
    this.taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
    this.uiUrl = options.uiUrl;
    this.address = options.address ?? 'Temporal';
  }

  get namespace(): string {
    return this.temporal.options.namespace;
  }

  /**
   * How many workers polled the task queue for workflow tasks within the last `recentMs` (default 70 s:
   * a live worker's long poll lasts up to a minute). The server lists a stopped worker for minutes; its
   * last access ages, so it stops counting after `recentMs`.
   */
  async workerCount(recentMs = 70_000): Promise<number> {
    const { pollers } = await this.pollers();
    return pollers.filter((p) => Date.now() - p.lastAccessMs <= recentMs).length;
  }

  /** The workflow pollers of the task queue, with when each last polled (epoch ms). */
  protected async pollers(): Promise<{ pollers: { identity: string; lastAccessMs: number }[] }> {
    const response = await this.temporal.workflowService.describeTaskQueue({
      namespace: this.namespace,
      taskQueue: { name: this.taskQueue },
      taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
    });
    return {
      pollers: (response.pollers ?? []).map((p) => ({
        identity: p.identity ?? '',
        lastAccessMs:
          Number(p.lastAccessTime?.seconds ?? 0) * 1000 + Math.floor((p.lastAccessTime?.nanos ?? 0) / 1e6),
      })),
    };
  }

  /**
   * Waits until a started workflow's first task is taken by a worker; throws NoWorkerError after
   * `timeoutMs` (a live worker takes it within milliseconds; the server may still list a worker that
   * stopped a moment ago, which this catches).
   */
  protected async waitForPickup(id: string, runId: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { raw, status, historyLength } = await this.temporal.workflow.getHandle(id, runId).describe();
      // PENDING_WORKFLOW_TASK_STATE_STARTED = 2: a worker holds the first task; more events: it finished it.
      if (status.name !== 'RUNNING' || historyLength > 3 || raw.pendingWorkflowTask?.state === 2) return;
      if (Date.now() >= deadline) {
        const last = Math.max(0, ...(await this.pollers()).pollers.map((p) => p.lastAccessMs));
        throw new NoWorkerError(
          this.taskQueue,
          this.address,
          `no worker took the request within ${Math.round(timeoutMs / 1000)} s${last ? `; a worker last polled ${new Date(last).toISOString()}` : ''}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /**
   * Waits until a worker polls the task queue; throws NoWorkerError after `timeoutMs` (default 5 s: a
   * worker that just started polls within a second).
   */
  async waitForWorker(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.workerCount()) === 0) {
      if (Date.now() >= deadline) throw new NoWorkerError(this.taskQueue, this.address);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** The Temporal Web UI page of a migration, when the UI's address is known. */
  uiLink(id: string, runId?: string): string | undefined {
    if (!this.uiUrl) return undefined;
    const base = `${this.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(this.namespace)}/workflows/${encodeURIComponent(id)}`;
    return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
  }

  /** A workflow's description; MigrationNotFoundError when no workflow has the id. */
  protected async describe(id: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.temporal.workflow.getHandle(id).describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new MigrationNotFoundError(id, this.namespace);
      throw error;
    }
  }

  /** The description of a running workflow; OperationRefusedError naming its state when it has ended. */
  /**
   * The workflow's description and its answer to `query`; when it cannot answer (no worker, or closed
   * past what queries reach), `orElse` decides from the description and the error.
   */
  protected async queried<T>(
    id: string,
    query: () => Promise<T>,
    orElse: (description: WorkflowExecutionDescription, error: unknown) => T | Promise<T>,
  ): Promise<{ description: WorkflowExecutionDescription; answer: T }> {
    const description = await this.describe(id);
    try {
      return { description, answer: await query() };
    } catch (error) {
      return { description, answer: await orElse(description, error) };
    }
  }

  protected async running(
    id: string,
    operation: 'approve' | 'cancel',
    what: 'migration' | 'batch',
  ): Promise<WorkflowExecutionDescription> {
    const description = await this.describe(id);
    if (description.status.name !== 'RUNNING')
      throw new OperationRefusedError(
        id,
        operation,
        `the ${what} is already ${description.status.name.toLowerCase()}`,
      );
    return description;
  }

  /** Turns a workflow's failure into MigrationFailedError or MigrationCancelledError; other errors pass. */
  protected async failureOf(id: string, error: unknown): Promise<unknown> {
    if (!(error instanceof WorkflowFailedError)) return error;
    let undone: string[] = [];
    try {
      undone = (await this.temporal.workflow.getHandle(id).query(progressQuery)).undone;
    } catch {
      // No worker to answer (or a plan): the failure's details still say what was undone.
    }
    return migrationFailureOf(id, error, undone);
  }
}
