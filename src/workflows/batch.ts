/**
 * The `migrationBatch` workflow: many VMs from a plan, each migrated by a child `quickMigration`
 * workflow, within concurrency limits (global, per source host, per target datastore) and, since the
 * patch RESOURCE_ADMISSION, within what the hosts and datastores can bear: copy streams per host and
 * migration snapshots per source datastore (./batch-admission.ts, src/planner/admission.ts).
 *
 *   resolve (planOnly: the VM's source host and target datastores, bad input found here)
 *   → queue → start what the limits allow, in plan order → collect each child's result.
 *
 * A VM whose plan cannot be resolved, or whose migration fails, is reported failed with its cause;
 * the others go on. Children have ids derived from the batch id (`<batchId>-<endpoint>-<vm>`) and are
 * never started twice: a replayed batch finds them in its history, and a second run of the same batch
 * id is refused by the server (REJECT_DUPLICATE) and by the child's own preflight (the VM has left
 * its source, or carries the first run's snapshot). Cancelling the batch cancels the running
 * children, which roll back themselves, waits for them, and starts nothing more.
 *
 * Workflow code: no Node builtins, no clocks but Temporal's; activities and the child are types only.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  defineQuery,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { ResourceKind } from '../planner/admission';
import type { MigrationPlan } from '../planner/plan';
import type { BatchLimits, MigrationBatchInput } from '../request/batch-plan';
import { FAILURE_TYPES, WORKFLOW_TYPES } from '../request/contract';
import type { MigrationRequestInput } from '../request/request';
import { planningActivities } from './activity-options';
import { releaseSwitchoverSlot, requestSwitchoverSlot, switchoverSlotGranted } from './admission-signals';
import type { MaxHeld } from './batch-admission';
import { resourceAdmission, slotAdmission } from './batch-admission';
import type { MigrationResult, QuickMigrationOptions } from './definitions';
import { RESOURCE_ADMISSION } from './patches';
import type { quickMigration } from './quick-migration';
import { BATCH_ATTRIBUTE } from './search-attributes';

export type { BatchLimits, MigrationBatchInput };

/**
 * Where one VM of a batch is. `resolving`: its plan is being made; `queued`: resolved, waiting for a
 * slot; `running`: its child migration runs; then `succeeded`, `failed` or `cancelled` (never started,
 * or cancelled and rolled back).
 */
export type BatchVmState = 'resolving' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** One VM of a batch, as the progress query and the result show it. */
export interface BatchVm {
  /** Position in the plan's `migrations`. */
  index: number;
  /** `<endpoint>/<name | moref | path | uuid>` as the plan names it. */
  vm: string;
  /** Workflow id of the child migration (whether or not it was started). */
  migrationId: string;
  state: BatchVmState;
  /** The source host the limits count it against, `<endpoint>/<host>`; null until resolved. */
  sourceHost: string | null;
  /** The target datastores it writes to, `<endpoint>/<datastore>`; empty until resolved. */
  targetDatastores: string[];
  method: MigrationPlan['method'] | null;
  mode: MigrationPlan['mode'];
  /**
   * While queued: the resource it waits on, in words (`copy streams through host vc1/esx-a: 8 of 8 in
   * use, needs 4`), and as kind and key; null otherwise, and in batches without resource admission.
   */
  waitingOn: string | null;
  waitingFor: { kind: ResourceKind; key: string } | null;
  /** Epoch ms (workflow time) when the batch started its migration, and when it saw it end. */
  startedAt: number | null;
  closedAt: number | null;
  /** What the migration achieved, when it succeeded. */
  result: {
    downtimeMs: number | null;
    bytesCopied: number;
    target: Pick<MigrationResult['target'], 'endpoint' | 'name' | 'host' | 'datastores' | 'powerState'>;
  } | null;
  /** Why it failed or was cancelled: the cause's message, the step it failed at, what rollback undid. */
  error: { type: string; message: string; step: string | null; undone: string[] } | null;
}

/** How many VMs are in each state; `pending` is resolving plus queued. */
export interface BatchCounts {
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  /**
   * VMs waiting for a resource, by its kind (`host-streams`, `datastore-snapshots`, `host-suspends`):
   * queued ones, and running ones waiting for their switchover's. Absent when none waits.
   */
  waitingOn?: Partial<Record<ResourceKind, number>>;
}

/** What the `batchProgress` query answers, and the batch's result. */
export interface BatchProgress {
  batchId: string;
  name: string | null;
  limits: BatchLimits;
  counts: BatchCounts;
  /**
   * The most migrations the batch itself ever had running at once, overall and per source host and
   * target datastore. A migration counts from the moment the batch asks Temporal to start it until the
   * batch has seen it close, so Temporal's own start and close times lie within that span. With
   * resource admission also the most copy streams per host and snapshots per datastore it held.
   */
  maxRunning: MaxHeld;
  /** True once the batch was asked to cancel: nothing more starts. */
  cancelRequested: boolean;
  vms: BatchVm[];
}

/** The batch's result: its progress at the end. */
export type BatchResult = BatchProgress;

/** The batch's progress, any time. */
export const batchProgressQuery = defineQuery<BatchProgress>('batchProgress');

/** Workflow type name of the batch, as clients start it (WORKFLOW_TYPES.migrationBatch). */
export const MIGRATION_BATCH = WORKFLOW_TYPES.migrationBatch;

/** How many VMs are resolved at once (each is a few reads on its endpoints). */
const RESOLVE_CONCURRENCY = 4;

/** The VM a request names, as `<endpoint>/<name | moref | path | uuid>`. */
export function batchVmOf(request: MigrationRequestInput): string {
  const s = request.source ?? ({} as Partial<MigrationRequestInput['source']>);
  return `${s.endpoint}/${s.name ?? s.moref ?? s.inventoryPath ?? s.instanceUuid}`;
}

/**
 * The workflow id of a VM's migration in a batch: `<batchId>-<endpoint>-<vm>`, sanitised to letters,
 * digits, `.`, `_` and `-`. Deterministic, so a batch run again never starts a VM under another id.
 */
export function childIdOf(batchId: string, request: MigrationRequestInput): string {
  const vm = batchVmOf(request)
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `${batchId}-${vm}`;
}

/** Migrates the plan's VMs as child workflows within the limits; see the file comment. */
export async function migrationBatch(input: MigrationBatchInput): Promise<BatchResult> {
  const batchId = workflowInfo().workflowId;
  const byResources = patched(RESOURCE_ADMISSION);
  const admission = byResources
    ? resourceAdmission(checkLimits(input.limits ?? {}))
    : slotAdmission(checkLimits(input.limits ?? {}));
  const limits = admission.limits;
  const { planOnly } = planningActivities();
  const childOptions: QuickMigrationOptions = input.dataMoverTaskQueue
    ? { dataMoverTaskQueue: input.dataMoverTaskQueue }
    : {};

  const vms: BatchVm[] = input.migrations.map((request, index) => ({
    index,
    vm: batchVmOf(request),
    migrationId: childIdOf(batchId, request),
    state: 'resolving',
    sourceHost: null,
    targetDatastores: [],
    method: null,
    mode: null,
    waitingOn: null,
    waitingFor: null,
    startedAt: null,
    closedAt: null,
    result: null,
    error: null,
  }));
  let cancelRequested = false;
  const fail = (vm: BatchVm, error: BatchVm['error'], state: 'failed' | 'cancelled' = 'failed') => {
    vm.state = state;
    vm.error = error;
    vm.waitingOn = null;
    vm.waitingFor = null;
    vm.closedAt = vm.startedAt === null ? null : Date.now();
  };
  // Two entries for one VM would share a child id; the client refuses such plans, this catches other starters.
  const firstOf = new Map<string, number>();
  for (const vm of vms) {
    const first = firstOf.get(vm.migrationId);
    if (first === undefined) firstOf.set(vm.migrationId, vm.index);
    else
      fail(vm, {
        type: FAILURE_TYPES.requestInvalid,
        message: `${vm.vm} is already migrated by migrations[${first}] of this batch; a VM appears once per plan`,
        step: 'preflight',
        undone: [],
      });
  }

  const progress = (): BatchProgress => {
    const count = (...states: BatchVmState[]) => vms.filter((v) => states.includes(v.state)).length;
    const waitingOn: Partial<Record<ResourceKind, number>> = {};
    for (const v of vms)
      if ((v.state === 'queued' || v.state === 'running') && v.waitingFor)
        waitingOn[v.waitingFor.kind] = (waitingOn[v.waitingFor.kind] ?? 0) + 1;
    return {
      batchId,
      name: input.name ?? null,
      limits,
      counts: {
        total: vms.length,
        pending: count('resolving', 'queued'),
        running: count('running'),
        succeeded: count('succeeded'),
        failed: count('failed'),
        cancelled: count('cancelled'),
        ...(Object.keys(waitingOn).length > 0 ? { waitingOn } : {}),
      },
      maxRunning: admission.maxHeld(),
      cancelRequested,
      vms,
    };
  };
  setHandler(batchProgressQuery, progress);

  // Every resolution and every child's end bumps `changes`, which wakes the scheduler.
  let changes = 0;
  let inFlight = 0;

  // Migrations that asked for their switchover's resources (a suspend slot), in the order they asked.
  const askingSwitchover: BatchVm[] = [];
  const byId = new Map(vms.map((v) => [v.migrationId, v]));
  setHandler(requestSwitchoverSlot, ({ holder }) => {
    const vm = byId.get(holder);
    if (vm && vm.state === 'running' && !askingSwitchover.includes(vm)) askingSwitchover.push(vm);
    changes++;
  });
  setHandler(releaseSwitchoverSlot, ({ holder }) => {
    const vm = byId.get(holder);
    if (vm) admission.releaseSwitchover(vm);
    changes++;
  });
  const grantSwitchovers = () => {
    for (const vm of admission.scheduleSwitchovers(askingSwitchover)) {
      askingSwitchover.splice(askingSwitchover.indexOf(vm), 1);
      // A migration that ended meanwhile cannot be told; the batch releases its holds at its end.
      getExternalWorkflowHandle(vm.migrationId)
        .signal(switchoverSlotGranted)
        .catch(() => undefined);
    }
  };

  const resolve = async (vm: BatchVm): Promise<void> => {
    const request = input.migrations[vm.index] as MigrationRequestInput;
    try {
      const plan = await planOnly.executeWithOptions({ summary: `Resolve ${vm.vm} (batch planning)` }, [
        request,
      ]);
      vm.method = plan.method;
      vm.mode = plan.mode;
      if (plan.blocked) {
        const errors = plan.findings.filter((f) => f.severity === 'error');
        fail(vm, {
          type: FAILURE_TYPES.preflightBlocked,
          message: `preflight refused the migration: ${errors.map((f) => `${f.field ? `${f.field}: ` : ''}${f.message}`).join('; ')}`,
          step: 'preflight',
          undone: [],
        });
        return;
      }
      const where = placementOf(plan, request);
      vm.sourceHost = where.sourceHost;
      vm.targetDatastores = where.targetDatastores;
      admission.resolved(vm, plan, request);
      if (cancelRequested) fail(vm, cancelledError('before it started'), 'cancelled');
      else vm.state = 'queued';
    } catch (error) {
      if (isCancellation(error)) fail(vm, cancelledError('before it started'), 'cancelled');
      else fail(vm, { ...failureOf(error), step: 'preflight' });
    } finally {
      changes++;
    }
  };

  const launch = (vm: BatchVm): void => {
    const request = input.migrations[vm.index] as MigrationRequestInput;
    const concurrency = admission.copyConcurrency(vm);
    const options: QuickMigrationOptions = {
      ...childOptions,
      ...(concurrency === undefined ? {} : { copyConcurrency: concurrency }),
      ...(admission.asksForSwitchover(vm) ? { switchoverAdmission: { ledger: batchId } } : {}),
    };
    inFlight++;
    vm.state = 'running';
    vm.startedAt = Date.now();
    const run = async () => {
      try {
        const child = await startChild<typeof quickMigration>(WORKFLOW_TYPES.quickMigration, {
          workflowId: vm.migrationId,
          args: [request, options],
          // A batch run again must not migrate a VM a former run already migrated.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          // Cancelling the batch cancels the child and waits for its rollback (the default, stated).
          cancellationType: 'WAIT_CANCELLATION_COMPLETED',
          // A terminated batch leaves its running migrations to finish (or be cancelled) on their own.
          parentClosePolicy: 'ABANDON',
          staticSummary: `Migrate ${vm.vm} (batch ${batchId})`,
          // `QuickmigBatch = '<batch id>'` lists the batch's migrations in the UI (with their QuickmigPhase).
          ...(byResources ? { typedSearchAttributes: [{ key: BATCH_ATTRIBUTE, value: batchId }] } : {}),
        });
        const result = await child.result();
        vm.state = 'succeeded';
        vm.closedAt = Date.now();
        vm.method = result.method;
        vm.mode = result.mode;
        vm.result = {
          downtimeMs: result.downtimeMs,
          bytesCopied: result.bytesCopied,
          target: {
            endpoint: result.target.endpoint,
            name: result.target.name,
            host: result.target.host,
            datastores: result.target.datastores,
            powerState: result.target.powerState,
          },
        };
      } catch (error) {
        if (isCancellation(error)) fail(vm, cancelledError('and rolled back'), 'cancelled');
        else fail(vm, failureOf(error));
      } finally {
        admission.released(vm);
        if (askingSwitchover.includes(vm)) askingSwitchover.splice(askingSwitchover.indexOf(vm), 1);
        inFlight--;
        changes++;
      }
    };
    void run();
  };

  // Resolution runs beside the scheduler, a few VMs at a time, so the first migrations start early.
  const toResolve = vms.filter((v) => v.state === 'resolving');
  const resolver = async () => {
    for (let vm = toResolve.shift(); vm; vm = toResolve.shift()) {
      if (cancelRequested) fail(vm, cancelledError('before it started'), 'cancelled');
      else await resolve(vm);
    }
  };
  const resolvers = Array.from({ length: Math.min(RESOLVE_CONCURRENCY, toResolve.length) }, resolver);

  try {
    for (;;) {
      for (const vm of admission.schedule(vms.filter((v) => v.state === 'queued'))) launch(vm);
      grantSwitchovers();
      if (inFlight === 0 && vms.every((v) => v.state !== 'resolving' && v.state !== 'queued')) break;
      const seen = changes;
      await condition(() => changes !== seen);
    }
    await Promise.all(resolvers);
  } catch (error) {
    if (!isCancellation(error)) throw error;
    // Start nothing more; the running children were asked to cancel with this scope and roll back.
    cancelRequested = true;
    for (const vm of vms)
      if (vm.state === 'queued') fail(vm, cancelledError('before it started'), 'cancelled');
    await CancellationScope.nonCancellable(async () => {
      await condition(() => inFlight === 0 && vms.every((v) => v.state !== 'resolving'));
      await Promise.allSettled(resolvers);
    });
    for (const vm of vms)
      if (vm.state === 'queued') fail(vm, cancelledError('before it started'), 'cancelled');
    throw error;
  }
  return progress();
}

/** Rejects limits that are not whole numbers of at least 1 (the client validates; other starters may not). */
function checkLimits(limits: BatchLimits): BatchLimits {
  for (const key of [
    'global',
    'perSourceHost',
    'perTargetDatastore',
    'streamsPerHost',
    'snapshotsPerDatastore',
    'suspendsPerHost',
  ] as const) {
    const value = limits[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= 1))
      throw ApplicationFailure.create({
        type: FAILURE_TYPES.requestInvalid,
        nonRetryable: true,
        message: `limits.${key}: must be a whole number >= 1 (got ${JSON.stringify(value)}); leave it out for no limit`,
      });
  }
  return limits;
}

/**
 * The source host and the target datastores a plan names, as limit keys; the datastores are the config
 * datastore and every disk's, all on the target endpoint.
 */
function placementOf(
  plan: MigrationPlan,
  request: MigrationRequestInput,
): { sourceHost: string; targetDatastores: string[] } {
  // Plans recorded before `sourceHost` existed carry the host in their relocation reason (R9).
  const host = plan.sourceHost ?? plan.reasons.find((r) => r.rule === 'R9-relocation')?.facts.sourceHost;
  const source = request.source.endpoint;
  const target = request.target.endpoint;
  return {
    // Without a host name the endpoint stands for it: stricter, never looser.
    sourceHost: typeof host === 'string' && host ? `${source}/${host}` : source,
    targetDatastores: [...new Set([plan.configDatastore, ...plan.disks.map((d) => d.to)])].map(
      (ds) => `${target}/${ds}`,
    ),
  };
}

function cancelledError(how: string): NonNullable<BatchVm['error']> {
  return { type: FAILURE_TYPES.cancelled, message: `the batch was cancelled ${how}`, step: null, undone: [] };
}

/**
 * The cause of a failed resolution or child: the innermost failure's type and message, and the step
 * and rollback the child recorded in its failure's details (FAILURE_TYPES.migrationFailed), else the failed activity.
 */
function failureOf(error: unknown): NonNullable<BatchVm['error']> {
  let current: unknown = error;
  let activity: string | null = null;
  while (current instanceof ChildWorkflowFailure || current instanceof ActivityFailure) {
    if (current instanceof ActivityFailure) activity = current.activityType;
    if (!(current.cause instanceof Error)) break;
    current = current.cause;
  }
  if (current instanceof ApplicationFailure) {
    const details = current.details?.[0] as { step?: string; undone?: string[] } | undefined;
    return {
      type: current.type ?? 'Error',
      message: current.message,
      step: details?.step ?? activity,
      undone: details?.undone ?? [],
    };
  }
  const e = current instanceof Error ? current : new Error(String(current));
  return { type: e.name, message: e.message, step: activity, undone: [] };
}
