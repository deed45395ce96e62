/**
 * The typed client API: plan, start, progress, approve, cancel, result and list, over a Temporal
 * client (batches: ./batches). It validates requests before they leave (RequestValidationError names
 * each field and the fix) and turns Temporal's failures into the ones in ./failures.
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
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  WorkflowExecutionDescription,
  WorkflowExecutionInfo,
  WorkflowExecutionStatusName,
  WorkflowHandle,
} from '@temporalio/client';
import {
  Client,
  Connection,
  isGrpcServiceError,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { dataConverterFor } from '../codec/codec';
import type { MigrationPlan } from '../planner/plan';
import { WORKFLOW_TYPES } from '../request/contract';
import type { MigrationRequestInput } from '../request/request';
import { normalizeRequest } from '../request/request';
import type { MigrationResult, Phase } from '../workflows/definitions';
import { approveSwitchoverUpdate, progressQuery } from '../workflows/definitions';
import type { planMigration } from '../workflows/plan-migration';
import type { quickMigration } from '../workflows/quick-migration';
import {
  DRY_RUN_ATTRIBUTE,
  METHOD_ATTRIBUTE,
  MODE_ATTRIBUTE,
  PHASE_ATTRIBUTE,
  VM_ATTRIBUTE,
} from '../workflows/search-attributes';
import { CommitWindowClient } from './commit-window';
import type { ConnectOptions } from './connection';
import { resolveConnection } from './connection';
import { MigrationAlreadyRunningError, OperationRefusedError, rootMessage } from './failures';
import { describeRequest, migrationIdOf, planIdOf, vmOf } from './ids';
import type { EndpointField } from './operator';
import type { LiveProgress } from './progress';
import { fallbackProgress, liveProgressOf, transferOf } from './progress';

/** Phases after which cancelling no longer rolls back: the target runs and is the VM. */
const TOO_LATE_TO_CANCEL: readonly Phase[] = ['finalize', 'done', 'rolling-back', 'rolled-back'];

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

/** What kind of quickmig workflow an id names. */
export type WorkflowKind = 'migration' | 'batch' | 'plan' | 'other';

/** The client API. Build it with {@link QuickmigClient.connect} or over an existing Temporal Client. */
/** Options of {@link QuickmigClient.watch}. */
export interface WatchOptions {
  /** Time between two reads of the progress, in ms. Default 1000. */
  intervalMs?: number;
  /** Ends the iteration early, without an error. Default: none (it ends with the migration). */
  signal?: AbortSignal;
}

export class QuickmigClient extends CommitWindowClient {
  private ownedConnection: Connection | undefined;

  /** Connects as {@link resolveConnection} describes; `close()` closes the connection. */
  static async connect(options: ConnectOptions & { uiUrl?: string } = {}): Promise<QuickmigClient> {
    const resolved = resolveConnection(options);
    const connection = await Connection.connect(resolved.connectionOptions);
    const dataConverter = dataConverterFor(resolved.encryptionKeyFile);
    const temporal = new Client({
      connection,
      namespace: resolved.namespace,
      ...(dataConverter ? { dataConverter } : {}),
    });
    const uiUrl = options.uiUrl ?? resolved.uiUrl;
    const client = new QuickmigClient(temporal, {
      taskQueue: resolved.taskQueue,
      address: resolved.address,
      ...(uiUrl ? { uiUrl } : {}),
    });
    client.ownedConnection = connection;
    return client;
  }

  /** Closes the connection if `connect` opened it. */
  async close(): Promise<void> {
    await this.ownedConnection?.close();
  }

  /**
   * Plans a migration without changing anything: the worker gathers the facts and returns the plan,
   * blocking findings included (`plan.blocked`). Throws RequestValidationError for an invalid request,
   * NoWorkerError without a worker, MigrationFailedError when the worker rejects the request.
   */
  async plan(
    request: MigrationRequestInput,
    options: { pickupTimeoutMs?: number } = {},
  ): Promise<MigrationPlan> {
    const normalized = normalizeRequest(request);
    await this.checkEndpointNames(endpointFieldsOf(normalized));
    await this.waitForWorker();
    const id = planIdOf(normalized, randomUUID().slice(0, 8));
    const startOptions = {
      taskQueue: this.taskQueue,
      workflowId: id,
      args: [request] as [MigrationRequestInput],
      workflowExecutionTimeout: '10m',
      staticSummary: `Plan (dry run): ${describeRequest(normalized)}`,
    };
    // A dry run is found by its VM like the migrations, and marked so that a saved view of migrations
    // (QuickmigVm IS NOT NULL AND QuickmigDryRun IS NULL) leaves it out.
    const marks = [
      { key: VM_ATTRIBUTE, value: vmOf(normalized) },
      { key: DRY_RUN_ATTRIBUTE, value: true },
    ];
    const handle = await this.temporal.workflow
      .start<typeof planMigration>(WORKFLOW_TYPES.planMigration, {
        ...startOptions,
        typedSearchAttributes: marks,
      })
      .catch((error: unknown) => {
        // A server set up before QuickmigDryRun existed: the dry run still runs, unmarked.
        if (error instanceof ServiceError && /search attribute/i.test(String(error.cause)))
          return this.temporal.workflow.start<typeof planMigration>(
            WORKFLOW_TYPES.planMigration,
            startOptions,
          );
        throw error;
      });
    try {
      // The server lists a worker that stopped a moment ago as a poller: a dry run nobody takes would
      // wait its whole timeout. It changes nothing, so it is ended and the caller told at once.
      await this.waitForPickup(id, handle.firstExecutionRunId, options.pickupTimeoutMs ?? 10_000);
    } catch (error) {
      await handle.terminate('no worker took the dry run').catch(() => undefined);
      throw error;
    }
    try {
      return await handle.result();
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
    await this.checkEndpointNames(endpointFieldsOf(normalized));
    if (options.requireWorker) await this.waitForWorker();
    const id = options.id ?? migrationIdOf(normalized);
    try {
      const handle = await this.temporal.workflow.start<typeof quickMigration>(
        WORKFLOW_TYPES.quickMigration,
        {
          taskQueue: this.taskQueue,
          workflowId: id,
          args: [
            request,
            options.dataMoverTaskQueue ? { dataMoverTaskQueue: options.dataMoverTaskQueue } : {},
          ],
          workflowIdConflictPolicy: 'FAIL',
          workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          staticSummary: describeRequest(normalized),
          staticDetails: `Request:\n\n\`\`\`json\n${JSON.stringify(request, null, 2)}\n\`\`\``,
        },
      );
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

  /**
   * The migration's progress. Phase, step, plan, bytes of finished copy steps and downtime come from
   * the workflow's `progress` query; the in-flight bytes, rate and ETA from the pending `copyFiles`
   * activity's heartbeat details, read through DescribeWorkflowExecution (./progress says why).
   */
  async progress(id: string): Promise<LiveProgress> {
    const { description, answer: progress } = await this.queried(
      id,
      () => this.handle(id).query(progressQuery),
      (described, error) => fallbackProgress(id, described, error),
    );
    const transfer = await transferOf(this.temporal.options.loadedDataConverter, description);
    return liveProgressOf(id, description, progress, transfer);
  }

  /**
   * Follows a migration as an async iterator: yields its progress (as {@link progress} reads it) each
   * time its status, phase, step, bytes, downtime or wait changes, polling every `intervalMs`, and ends
   * after the first progress whose status is no longer RUNNING. Throws MigrationNotFoundError for an
   * unknown id. The report, or the failure with what the rollback undid, is then `result(id)`:
   *
   * ```ts
   * for await (const p of quickmig.watch(id)) console.log(p.phase, p.bytes.done, p.downtimeSoFarMs);
   * const report = await quickmig.result(id);
   * ```
   */
  async *watch(id: string, options: WatchOptions = {}): AsyncGenerator<LiveProgress, void, undefined> {
    const intervalMs = options.intervalMs ?? 1000;
    let last = '';
    while (!options.signal?.aborted) {
      const p = await this.progress(id);
      const seen = JSON.stringify([
        p.status,
        p.phase,
        p.step,
        p.bytes.done,
        p.downtimeMs,
        p.downtimeSoFarMs === null,
        p.awaitingApproval,
        p.waitingFor,
      ]);
      if (seen !== last) {
        last = seen;
        yield p;
      }
      if (p.status !== 'RUNNING') return;
      try {
        await sleep(intervalMs, undefined, options.signal ? { signal: options.signal } : {});
      } catch (error) {
        if (options.signal?.aborted) return;
        throw error;
      }
    }
  }

  /**
   * Approves a manual switchover; `approvedAt` is an ISO 8601 time. Throws OperationRefusedError with
   * the workflow's reason when refused.
   */
  async approve(id: string): Promise<{ approvedAt: string }> {
    await this.running(id, 'approve', 'migration');
    try {
      const { approvedAt } = await this.handle(id).executeUpdate(approveSwitchoverUpdate);
      // Workflows started before the update answered ISO 8601 answered epoch milliseconds.
      const at = approvedAt as string | number;
      return { approvedAt: typeof at === 'number' ? new Date(at).toISOString() : at };
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
    if (phase === 'committing')
      throw new OperationRefusedError(
        id,
        'cancel',
        `the migration is in its commit window (the target runs, the source is kept off): revert it with 'quickmig revert ${id}' or commit it with 'quickmig commit ${id}'`,
      );
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
    const clauses = [`WorkflowType = '${WORKFLOW_TYPES.quickMigration}'`];
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

  /** Whether an id names a migration, a batch or a plan (dry run); throws MigrationNotFoundError when none. */
  async kindOf(id: string): Promise<WorkflowKind> {
    const type = (await this.describe(id)).type;
    if (type === WORKFLOW_TYPES.quickMigration) return 'migration';
    if (type === WORKFLOW_TYPES.migrationBatch) return 'batch';
    if (type === WORKFLOW_TYPES.planMigration) return 'plan';
    return 'other';
  }
}

/** The endpoint fields of a request, for the directory check; `prefix` places them in a batch. */
export function endpointFieldsOf(
  request: { source: { endpoint: string }; target: { endpoint: string } },
  prefix = '',
): EndpointField[] {
  return [
    { path: `${prefix}source.endpoint`, endpoint: request.source.endpoint },
    { path: `${prefix}target.endpoint`, endpoint: request.target.endpoint },
  ];
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

/** `list --status` words (`running`, `cancelled`, `timed-out`) as Temporal's ExecutionStatus values. */
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
