/**
 * The typed client API: plan, start, progress, approve, cancel, result and list, over a Temporal
 * client. It validates requests before they leave (RequestValidationError names each field and the
 * fix) and turns Temporal's failures into the ones in ./failures.
 *
 * ```ts
 * import { QuickmigClient } from 'quickmig';
 * const quickmig = await QuickmigClient.connect();            // TEMPORAL_ADDRESS, profiles, or the lab
 * const { id } = await quickmig.start({ source: { endpoint: 'esx-a', name: 'app01' },
 *                                        target: { endpoint: 'esx-b', datastore: 'LocalDS_0' } });
 * console.log(await quickmig.progress(id));
 * console.log(await quickmig.result(id));
 * ```
 */
import { randomUUID } from 'node:crypto';
import type {
  WorkflowExecutionDescription,
  WorkflowExecutionInfo,
  WorkflowExecutionStatusName,
  WorkflowHandle,
} from '@temporalio/client';
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  Client,
  Connection,
  isGrpcServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow/index.js';
import type { CopyFilesHeartbeat, HeartbeatFile } from '../activities/transfer';
import { dataConverterFor } from '../codec/codec';
import type { MigrationPlan } from '../planner/plan';
import type { BatchPlan, BatchPlanInput } from '../request/batch-plan';
import { batchIdOf, normalizePlan } from '../request/batch-plan';
import type { MigrationRequest, MigrationRequestInput } from '../request/request';
import { normalizeRequest } from '../request/request';
import type { BatchProgress, BatchResult, MigrationBatchInput, migrationBatch } from '../workflows/batch';
import { batchProgressQuery, MIGRATION_BATCH } from '../workflows/batch';
import type { MigrationProgress, MigrationResult, Phase } from '../workflows/definitions';
import { approveSwitchoverUpdate, progressQuery } from '../workflows/definitions';
import type { planMigration } from '../workflows/plan-migration';
import type { quickMigration } from '../workflows/quick-migration';
import {
  METHOD_ATTRIBUTE,
  MODE_ATTRIBUTE,
  PHASE_ATTRIBUTE,
  VM_ATTRIBUTE,
} from '../workflows/search-attributes';
import type { ConnectOptions, ResolvedConnection } from './connection';
import { resolveConnection } from './connection';
import {
  BatchAlreadyStartedError,
  MigrationAlreadyRunningError,
  MigrationCancelledError,
  MigrationFailedError,
  MigrationNotFoundError,
  NoWorkerError,
  OperationRefusedError,
} from './failures';

/** Workflow type names (the worker registers src/workflows/index.ts). */
const QUICK_MIGRATION = 'quickMigration';
const PLAN_MIGRATION = 'planMigration';

/** Phases after which cancelling no longer rolls back: the target runs and is the VM. */
const TOO_LATE_TO_CANCEL: readonly Phase[] = ['finalize', 'done', 'rolling-back', 'rolled-back'];

/** The VM a request names, as `<endpoint>/<name | moref | path | uuid>`. */
export function vmOf(request: MigrationRequestInput | MigrationRequest): string {
  const s = request.source;
  return `${s.endpoint}/${s.name ?? s.moref ?? s.inventoryPath ?? s.instanceUuid}`;
}

/**
 * The workflow id of a request's migration, `quickmig-<endpoint>-<vm identity>`, sanitised to
 * letters, digits, `.`, `_` and `-`. One id per VM means one VM cannot be migrated twice at once:
 * `start` uses the conflict policy FAIL while a migration runs, and allows a new run once it closed.
 */
export function migrationIdOf(request: MigrationRequestInput | MigrationRequest): string {
  const sanitised = vmOf(request)
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `quickmig-${sanitised}`;
}

/** The in-flight copy, from the pending `copyFiles` activity's last heartbeat. */
export interface TransferProgress {
  /** Bytes of this copy step done so far (files complete plus the ones in flight). */
  bytesDone: number;
  bytesTotal: number;
  rateBytesPerSec: number;
  /** Files in flight. */
  current: HeartbeatFile[];
  /** Attempt of the activity (1 unless it was retried). */
  attempt: number;
  lastHeartbeatAt: Date | null;
}

/**
 * One answer to "how far is it?": the workflow's progress query merged with the in-flight bytes of the
 * pending copy (heartbeat details), plus the execution's status and times.
 */
export interface LiveProgress extends MigrationProgress {
  id: string;
  runId: string;
  /** Temporal's status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ... */
  status: WorkflowExecutionStatusName;
  startedAt: Date;
  closedAt: Date | null;
  /** The copy under way, when one is. */
  transfer: TransferProgress | null;
  /** Bytes over every copy step so far: finished steps plus the in-flight one. */
  bytes: { done: number; total: number };
  /** Current copy rate, bytes/s; null while nothing is being copied. */
  rateBytesPerSec: number | null;
  /** Seconds until the planned bytes are copied at the current rate; null while unknown. */
  etaSeconds: number | null;
  /** While the source is stopped and the target not yet running: how long so far, in ms. */
  downtimeSoFarMs: number | null;
}

/** A migration as `list` shows it. */
export interface MigrationSummary {
  id: string;
  runId: string;
  status: WorkflowExecutionStatusName;
  vm: string | null;
  phase: string | null;
  method: string | null;
  mode: string | null;
  startedAt: Date;
  closedAt: Date | null;
}

/** Filters of `list`; all optional, combined with AND. */
export interface ListFilter {
  /** `<endpoint>/<vm name>`, e.g. `esx-a/app01`. */
  vm?: string;
  /** A phase, e.g. `awaiting-approval`, `done`, `rolled-back`. */
  phase?: string;
  /** Temporal status, e.g. `Running`, `Completed`, `Failed`, `Canceled`. */
  status?: string;
  /** At most this many, newest first. Default 50. */
  limit?: number;
}

/** Options of `start`. */
export interface StartOptions {
  /** Workflow id. Default: {@link migrationIdOf}. */
  id?: string;
  /** Task queue of the data-mover activities (workers near the storage). Default: the worker's queue. */
  dataMoverTaskQueue?: string;
  /** Fail with NoWorkerError when no worker polls the task queue. Default false (the migration waits for one). */
  requireWorker?: boolean;
}

/** A started migration. */
export interface StartedMigration {
  id: string;
  runId: string;
  vm: string;
}

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

/** What kind of quickmig workflow an id names. */
export type WorkflowKind = 'migration' | 'batch' | 'plan' | 'other';

/** Options of the client. */
export interface QuickmigClientOptions {
  /** Task queue of the quickmig worker. Default `quickmig`. */
  taskQueue?: string;
  /** Temporal Web UI base URL, for links. Default: none (the lab's when connected through the lab). */
  uiUrl?: string;
  /** Shown in messages; default: the connection's address. */
  address?: string;
}

/** The client API. Build it with {@link QuickmigClient.connect} or over an existing Temporal Client. */
export class QuickmigClient {
  readonly taskQueue: string;
  readonly uiUrl: string | undefined;
  readonly address: string;
  private ownedConnection: Connection | undefined;

  constructor(
    /** The underlying Temporal client, for anything the API does not cover. */
    readonly temporal: Client,
    options: QuickmigClientOptions = {},
  ) {
    this.taskQueue = options.taskQueue ?? 'quickmig';
    this.uiUrl = options.uiUrl;
    this.address = options.address ?? 'Temporal';
  }

  /** Connects as {@link resolveConnection} describes; `close()` closes the connection. */
  static async connect(options: ConnectOptions & { uiUrl?: string } = {}): Promise<QuickmigClient> {
    const resolved: ResolvedConnection = resolveConnection(options);
    const connection = await Connection.connect(resolved.connectionOptions);
    const dataConverter = dataConverterFor(resolved.encryptionKeyFile);
    const temporal = new Client({
      connection,
      namespace: resolved.namespace,
      ...(dataConverter ? { dataConverter } : {}),
    });
    const client = new QuickmigClient(temporal, {
      taskQueue: resolved.taskQueue,
      address: resolved.address,
      ...((options.uiUrl ?? resolved.uiUrl) ? { uiUrl: options.uiUrl ?? resolved.uiUrl } : {}),
    });
    client.ownedConnection = connection;
    return client;
  }

  get namespace(): string {
    return this.temporal.options.namespace;
  }

  /** Closes the connection if `connect` opened it. */
  async close(): Promise<void> {
    await this.ownedConnection?.close();
  }

  /** How many workers poll the task queue for workflow tasks (0: nothing would run a request). */
  async workerCount(): Promise<number> {
    const response = await this.temporal.workflowService.describeTaskQueue({
      namespace: this.namespace,
      taskQueue: { name: this.taskQueue },
      taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
    });
    return response.pollers?.length ?? 0;
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

  private async requireWorker(): Promise<void> {
    await this.waitForWorker();
  }

  /**
   * Plans a migration without changing anything: the worker gathers the facts and returns the plan,
   * blocking findings included (`plan.blocked`). Throws RequestValidationError for an invalid request,
   * NoWorkerError without a worker, MigrationFailedError when the worker rejects the request.
   */
  async plan(request: MigrationRequestInput): Promise<MigrationPlan> {
    const normalized = normalizeRequest(request);
    await this.requireWorker();
    const id = `quickmig-plan-${migrationIdOf(normalized).slice('quickmig-'.length)}-${randomUUID().slice(0, 8)}`;
    try {
      return await this.temporal.workflow.execute<typeof planMigration>(PLAN_MIGRATION, {
        taskQueue: this.taskQueue,
        workflowId: id,
        args: [request],
        workflowExecutionTimeout: '10m',
        staticSummary: `Plan (dry run): ${describeRequest(normalized)}`,
      });
    } catch (error) {
      throw await this.failureOf(id, error);
    }
  }

  /**
   * Starts a migration and returns its id at once. Throws RequestValidationError for an invalid
   * request and MigrationAlreadyRunningError while the same VM is being migrated.
   */
  async start(request: MigrationRequestInput, options: StartOptions = {}): Promise<StartedMigration> {
    const normalized = normalizeRequest(request);
    if (options.requireWorker) await this.requireWorker();
    const id = options.id ?? migrationIdOf(normalized);
    try {
      const handle = await this.temporal.workflow.start<typeof quickMigration>(QUICK_MIGRATION, {
        taskQueue: this.taskQueue,
        workflowId: id,
        args: [request, options.dataMoverTaskQueue ? { dataMoverTaskQueue: options.dataMoverTaskQueue } : {}],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        staticSummary: describeRequest(normalized),
        staticDetails: `Request:\n\n\`\`\`json\n${JSON.stringify(request, null, 2)}\n\`\`\``,
      });
      return { id, runId: handle.firstExecutionRunId, vm: vmOf(normalized) };
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError)
        throw new MigrationAlreadyRunningError(id, vmOf(normalized), { cause: error });
      throw error;
    }
  }

  private handle(id: string): WorkflowHandle<typeof quickMigration> {
    return this.temporal.workflow.getHandle<typeof quickMigration>(id);
  }

  private async describe(id: string): Promise<WorkflowExecutionDescription> {
    try {
      return await this.handle(id).describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new MigrationNotFoundError(id, this.namespace);
      throw error;
    }
  }

  /**
   * The migration's progress. Phase, step, plan, bytes of finished copy steps and downtime come from
   * the workflow's `progress` query; the in-flight bytes, rate and ETA from the pending `copyFiles`
   * activity's heartbeat details, read through DescribeWorkflowExecution.
   *
   * Why not have the copy activity signal its progress to the workflow? Every signal is an event in
   * the workflow's history: a multi-hour copy heartbeating every two seconds would add thousands of
   * events (history is limited to 50k events / 50 MB, and replay cost grows with it). Heartbeat
   * details are kept by the server beside the pending activity and overwritten in place, which is
   * exactly what a progress bar needs.
   */
  async progress(id: string): Promise<LiveProgress> {
    const description = await this.describe(id);
    let progress: MigrationProgress;
    try {
      progress = await this.handle(id).query(progressQuery);
    } catch (error) {
      progress = fallbackProgress(id, description, error);
    }
    const transfer = await this.transferOf(description);
    const done = progress.bytesDone + (transfer?.bytesDone ?? 0);
    const total = Math.max(progress.bytesTotal, done);
    const rate = transfer && transfer.rateBytesPerSec > 0 ? transfer.rateBytesPerSec : null;
    const running = description.status.name === 'RUNNING';
    return {
      ...progress,
      // The workflow leaves the flag set when a cancellation ends the wait; the phase is authoritative.
      awaitingApproval: progress.awaitingApproval && progress.phase === 'awaiting-approval',
      id,
      runId: description.runId,
      status: description.status.name,
      startedAt: description.startTime,
      closedAt: description.closeTime ?? null,
      transfer,
      bytes: { done, total },
      rateBytesPerSec: rate,
      etaSeconds: rate && total > done ? Math.ceil((total - done) / rate) : null,
      downtimeSoFarMs:
        running && progress.sourceStoppedAt !== null && progress.downtimeMs === null
          ? Math.max(0, Date.now() - progress.sourceStoppedAt)
          : null,
    };
  }

  private async transferOf(description: WorkflowExecutionDescription): Promise<TransferProgress | null> {
    const pending = (description.raw.pendingActivities ?? []).find(
      (a) => a.activityType?.name === 'copyFiles',
    );
    if (!pending) return null;
    let details: Partial<CopyFilesHeartbeat> | undefined;
    try {
      details = await decodeFromPayloadsAtIndex<Partial<CopyFilesHeartbeat>>(
        this.temporal.options.loadedDataConverter,
        0,
        pending.heartbeatDetails?.payloads,
      );
    } catch {
      details = undefined;
    }
    const seconds = pending.lastHeartbeatTime?.seconds;
    return {
      bytesDone: details?.bytesDone ?? 0,
      bytesTotal: details?.bytesTotal ?? 0,
      rateBytesPerSec: details?.rateBytesPerSec ?? 0,
      current: details?.current ? [...details.current] : [],
      attempt: pending.attempt ?? 1,
      lastHeartbeatAt: seconds ? new Date(Number(seconds) * 1000) : null,
    };
  }

  /** Approves a manual switchover. Throws OperationRefusedError with the workflow's reason when refused. */
  async approve(id: string): Promise<{ approvedAt: number }> {
    await this.running(id, 'approve', 'migration');
    try {
      return await this.handle(id).executeUpdate(approveSwitchoverUpdate);
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError)
        throw new OperationRefusedError(id, 'approve', rootMessage(error), { cause: error });
      if (
        error instanceof WorkflowNotFoundError ||
        (isGrpcServiceError(error) && /completed|closed/i.test(error.details ?? ''))
      )
        throw new OperationRefusedError(id, 'approve', 'the migration has already finished', {
          cause: error,
        });
      throw error;
    }
  }

  /**
   * Requests cancellation: the workflow rolls back everything it did and returns the source to its
   * power state. Refused once the target runs (phase finalize or later), where the target is the VM.
   */
  async cancel(id: string): Promise<void> {
    const description = await this.running(id, 'cancel', 'migration');
    const phase = description.typedSearchAttributes.get(PHASE_ATTRIBUTE);
    if (phase && TOO_LATE_TO_CANCEL.includes(phase as Phase))
      throw new OperationRefusedError(
        id,
        'cancel',
        `too late to roll back: the migration is in phase ${phase} (the target already runs)`,
      );
    await this.handle(id).cancel();
  }

  /**
   * Waits for the migration's result. Throws MigrationFailedError (with what the rollback undid) or
   * MigrationCancelledError.
   */
  async result(id: string): Promise<MigrationResult> {
    await this.describe(id);
    try {
      return await this.handle(id).result();
    } catch (error) {
      throw await this.failureOf(id, error);
    }
  }

  /** One migration's status, times and search attributes (no worker needed). */
  async summary(id: string): Promise<MigrationSummary> {
    return summaryOf(await this.describe(id));
  }

  /** Migrations, newest first, filtered through the search attributes. */
  async list(filter: ListFilter = {}): Promise<MigrationSummary[]> {
    const quote = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    const clauses = [`WorkflowType = '${QUICK_MIGRATION}'`];
    if (filter.vm) clauses.push(`${VM_ATTRIBUTE.name} = ${quote(filter.vm)}`);
    if (filter.phase) clauses.push(`${PHASE_ATTRIBUTE.name} = ${quote(filter.phase)}`);
    if (filter.status) clauses.push(`ExecutionStatus = ${quote(normalizeStatus(filter.status))}`);
    const out: MigrationSummary[] = [];
    const limit = filter.limit ?? 50;
    for await (const wf of this.temporal.workflow.list({ query: clauses.join(' AND ') })) {
      out.push(summaryOf(wf));
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Starts a batch of migrations from a plan (parsed YAML/JSON, or a BatchPlan from parsePlan) and
   * returns its id at once. The plan is validated first: PlanValidationError lists every problem.
   * Throws BatchAlreadyStartedError when the id was used before (a batch id runs once).
   */
  async startBatch(plan: BatchPlanInput | BatchPlan, options: BatchStartOptions = {}): Promise<StartedBatch> {
    const normalized = normalizePlan(plan);
    if (options.requireWorker) await this.requireWorker();
    const id = options.id ?? batchIdOf(normalized, new Date(), randomUUID().slice(0, 6));
    const input: MigrationBatchInput = {
      migrations: normalized.migrations,
      limits: normalized.limits,
      ...(normalized.name ? { name: normalized.name } : {}),
      ...(options.dataMoverTaskQueue ? { dataMoverTaskQueue: options.dataMoverTaskQueue } : {}),
    };
    try {
      const handle = await this.temporal.workflow.start<typeof migrationBatch>(MIGRATION_BATCH, {
        taskQueue: this.taskQueue,
        workflowId: id,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: describeBatch(normalized),
        staticDetails: `Plan:\n\n\`\`\`json\n${JSON.stringify(normalized, null, 2)}\n\`\`\``,
      });
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
    const description = await this.describe(id);
    let progress: BatchProgress;
    try {
      progress = await this.batchHandle(id).query(batchProgressQuery);
    } catch (error) {
      if (description.status.name !== 'COMPLETED') throw error;
      progress = await this.batchHandle(id).result();
    }
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

  /** Whether an id names a migration, a batch or a plan (dry run); throws MigrationNotFoundError when none. */
  async kindOf(id: string): Promise<WorkflowKind> {
    const type = (await this.describe(id)).type;
    if (type === QUICK_MIGRATION) return 'migration';
    if (type === MIGRATION_BATCH) return 'batch';
    if (type === PLAN_MIGRATION) return 'plan';
    return 'other';
  }

  /** The Temporal Web UI page of a migration, when the UI's address is known. */
  uiLink(id: string, runId?: string): string | undefined {
    if (!this.uiUrl) return undefined;
    const base = `${this.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(this.namespace)}/workflows/${encodeURIComponent(id)}`;
    return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
  }

  /** The description of a running workflow; OperationRefusedError naming its state when it has ended. */
  private async running(
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

  /** Turns a workflow's failure into MigrationFailedError or MigrationCancelledError. */
  private async failureOf(id: string, error: unknown): Promise<unknown> {
    if (!(error instanceof WorkflowFailedError)) return error;
    let undone: string[] = [];
    try {
      undone = (await this.handle(id).query(progressQuery)).undone;
    } catch {
      // No worker to answer (or a plan): the failure's details still say what was undone.
    }
    if (error.cause instanceof CancelledFailure)
      return new MigrationCancelledError(id, undone, { cause: error });
    const root = rootFailure(error);
    const details =
      root instanceof ApplicationFailure
        ? (root.details?.[0] as { step?: string; undone?: string[] } | undefined)
        : undefined;
    return new MigrationFailedError(
      id,
      root instanceof ApplicationFailure ? (root.type ?? 'Error') : (root?.name ?? 'Error'),
      root?.message || error.cause?.message || error.message,
      details?.step ?? null,
      details?.undone ?? undone,
      { cause: error },
    );
  }
}

function summaryOf(wf: WorkflowExecutionInfo | WorkflowExecutionDescription): MigrationSummary {
  return {
    id: wf.workflowId,
    runId: wf.runId,
    status: wf.status.name,
    vm: wf.typedSearchAttributes.get(VM_ATTRIBUTE) ?? null,
    phase: wf.typedSearchAttributes.get(PHASE_ATTRIBUTE) ?? null,
    method: wf.typedSearchAttributes.get(METHOD_ATTRIBUTE) ?? null,
    mode: wf.typedSearchAttributes.get(MODE_ATTRIBUTE) ?? null,
    startedAt: wf.startTime,
    closedAt: wf.closeTime ?? null,
  };
}

/** A one-line description of a request for the UI's summary: `esx-a/app01 → esx-b datastore1 (cold)`. */
export function describeRequest(request: MigrationRequest): string {
  const where = [request.target.endpoint, request.target.host ?? request.target.cluster]
    .filter(Boolean)
    .join('/');
  const options = [
    request.options.method !== 'auto' ? request.options.method : '',
    request.options.mode !== 'auto' ? request.options.mode : '',
    request.options.switchover === 'manual' ? 'manual switchover' : '',
    request.options.finalizeInstantRecovery ? 'finalize Instant Recovery' : '',
  ].filter(Boolean);
  return `Migrate ${vmOf(request)} → ${where} datastore ${request.target.datastore}${options.length ? ` (${options.join(', ')})` : ''}`;
}

/** A one-line description of a batch for the UI's summary: `Batch wave-1: 12 migrations (global 4, ...)`. */
export function describeBatch(plan: BatchPlan): string {
  const { global, perSourceHost, perTargetDatastore } = plan.limits;
  const limits = [
    global ? `global ${global}` : '',
    perSourceHost ? `${perSourceHost} per source host` : '',
    perTargetDatastore ? `${perTargetDatastore} per target datastore` : '',
  ].filter(Boolean);
  return `Batch${plan.name ? ` ${plan.name}` : ''}: ${plan.migrations.length} migration(s), ${limits.length ? `at most ${limits.join(', ')}` : 'no limits'}`;
}

/** The innermost failure: an activity's ApplicationFailure rather than the ActivityFailure around it. */
function rootFailure(error: WorkflowFailedError): Error | undefined {
  let current: Error | undefined = error.cause;
  while (current instanceof ActivityFailure) current = current.cause;
  return current;
}

function rootMessage(error: Error): string {
  let current: Error = error;
  while (current.cause instanceof Error) current = current.cause;
  return current.message;
}

const STATUS_NAMES: Record<string, string> = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Canceled',
  canceled: 'Canceled',
  terminated: 'Terminated',
  'timed-out': 'TimedOut',
  timedout: 'TimedOut',
};

function normalizeStatus(status: string): string {
  return STATUS_NAMES[status.toLowerCase()] ?? status;
}

/** The progress of a migration whose worker cannot answer the query (e.g. none runs). */
function fallbackProgress(id: string, d: WorkflowExecutionDescription, error: unknown): MigrationProgress {
  const memoPlan = (d.memo?.plan as MigrationPlan | undefined) ?? null;
  const phase = (d.typedSearchAttributes.get(PHASE_ATTRIBUTE) ?? 'preflight') as Phase;
  return {
    migrationId: id,
    vm: d.typedSearchAttributes.get(VM_ATTRIBUTE) ?? '',
    phase,
    step: phase,
    plan: memoPlan,
    bytesDone: 0,
    bytesTotal: 0,
    sourceStoppedAt: null,
    downtimeMs: null,
    awaitingApproval: phase === 'awaiting-approval',
    waitingFor: null,
    precopy: null,
    undone: [],
    error: `progress query unanswered (${(error as Error).message}); is a worker running?`,
  };
}
