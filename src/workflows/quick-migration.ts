/**
 * The `quickMigration` workflow: one VM, from preflight to a running target. vMotion / Storage vMotion
 * when the planner allows it, otherwise Quick Migration (SmartSwitch or Cold):
 *
 *   preflight → config (target folders) → bulk copy (snapshot; copy the frozen disks while the VM runs)
 *   → switchover (suspend or stop; copy what changed; register; resume or start) → finalize.
 *
 * Every step pushes its compensation right after it succeeds. Any failure or cancellation before the
 * target runs undoes them in reverse, in a non-cancellable scope: the source gets its power state
 * back and the target's files, registration and the migration's snapshot go. After the target runs,
 * finalize steps are retried and reported, never rolled back: from then on the target is the VM.
 */
import type { ActivityOptions, Duration } from '@temporalio/common';
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createDatastoreActivities } from '../activities/datastore';
// A plain list of names from a module without I/O; the activities themselves are imported as types only.
import { PERMANENT_ERROR_TYPES } from '../activities/errors';
import type { createPreflightActivities, PreparedMigration } from '../activities/preflight';
import type { createSwitchoverActivities } from '../activities/switchover';
import type { createTransferActivities } from '../activities/transfer';
import type { createVmActivities } from '../activities/vm';
import type { FileCopyPlan } from '../planner/files';
import { frozenDiskFiles, layoutFolders, layoutOf, planCopies, remainingFiles } from '../planner/files';
import type { PrecopyRound, Projection } from '../planner/precopy';
import {
  fixedOverheadMs,
  judgeRound,
  projectAfterRound,
  projectSwitchover,
  roundOverheadMs,
  switchoverTargetMs,
  typicalTaskMs,
} from '../planner/precopy';
import type { VmxEdit } from '../planner/vmx';
import type { MigrationRequestInput } from '../request/request';
import type { MigrationProgress, MigrationResult, Phase, PrecopyStatus, VerifiedFile } from './definitions';
import { approveSwitchoverUpdate, progressQuery } from './definitions';
import { METHOD_ATTRIBUTE, MODE_ATTRIBUTE, PHASE_ATTRIBUTE, VM_ATTRIBUTE } from './search-attributes';
import type { GateDeps } from './switchover-gate';
import { waitForSwitchover } from './switchover-gate';
import { switchoverSteps } from './switchover-steps';

type ControlActivities = ReturnType<typeof createPreflightActivities> &
  ReturnType<typeof createVmActivities> &
  ReturnType<typeof createDatastoreActivities> &
  ReturnType<typeof createSwitchoverActivities>;
type TransferActivities = ReturnType<typeof createTransferActivities>;

/** Error names that fail an activity at once; everything else is retried. */
export const NON_RETRYABLE = [...PERMANENT_ERROR_TYPES];

const retry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  nonRetryableErrorTypes: NON_RETRYABLE,
};

/**
 * Short vSphere calls: a few seconds each, retried on transient faults (10 attempts, backoff 1 s to
 * 30 s). `scheduleToCloseTimeout` bounds a step with its retries (default 15 minutes), so a fault that
 * looks transient but persists (a VM locked by another task, a host that stays disconnected) fails the
 * migration and rolls it back instead of retrying for hours, while a blip of a few minutes is ridden out.
 * RELIABILITY.md explains the numbers.
 */
function controlActivities(options: QuickMigrationOptions) {
  return proxyActivities<ControlActivities>({
    startToCloseTimeout: options.controlStepTimeout ?? '10m',
    scheduleToCloseTimeout: options.controlRetryTimeout ?? '15m',
    // The activities heartbeat every 5 s while they wait (src/activities/index.ts): a dead worker is
    // noticed in 30 s, not after the step's whole timeout.
    heartbeatTimeout: '30s',
    retry: { ...retry, maximumAttempts: 10 },
  });
}

/** Long vSphere tasks that heartbeat (relocation, waiting for the guest). */
const longControl = proxyActivities<ControlActivities>({
  startToCloseTimeout: '12h',
  heartbeatTimeout: '2m',
  retry: { ...retry, maximumAttempts: 5 },
});

/** An activity proxy that takes call-site options (all of proxyActivities' functions do). */
interface Summarizable<A extends unknown[], R> {
  executeWithOptions(options: ActivityOptions, args: A): Promise<R>;
}

/** Runs an activity with a one-line summary, which the Temporal UI shows in the event history. */
function step<A extends unknown[], R>(activity: Summarizable<A, R>, summary: string, ...args: A): Promise<R> {
  return activity.executeWithOptions({ summary }, args);
}

/** Options of the workflow beyond the request. */
export interface QuickMigrationOptions {
  /** Task queue of the data-mover activities, e.g. one served by workers near the storage. Default: the workflow's own. */
  dataMoverTaskQueue?: string;
  /** How long `source: delete` waits for the target's guest heartbeat. Default 10 minutes. */
  heartbeatTimeoutMs?: number;
  /**
   * How long a copy may go without a heartbeat before Temporal retries it (on another worker, say).
   * Default 1 minute; the copy heartbeats every 2 s while bytes move.
   */
  transferHeartbeatTimeout?: Duration;
  /**
   * How long one attempt of a control step (a vSphere call) may run before Temporal presumes its worker
   * lost and retries it elsewhere. Default 10 minutes (a consolidation can take that long).
   */
  controlStepTimeout?: Duration;
  /** How long a control step may take with all its retries before the migration fails and rolls back. Default 15 minutes. */
  controlRetryTimeout?: Duration;
}

/** The snapshot name a migration uses on its source, so a retry finds it and nothing else is touched. */
export const snapshotName = (migrationId: string) => `quickmig-${migrationId}`;

/** Migrates one VM as its request says; see the file comment for the phases and guarantees. */
export async function quickMigration(
  request: MigrationRequestInput,
  options: QuickMigrationOptions = {},
): Promise<MigrationResult> {
  const migrationId = workflowInfo().workflowId;
  const control = controlActivities(options);
  const transfer = proxyActivities<TransferActivities>({
    taskQueue: options.dataMoverTaskQueue ?? workflowInfo().taskQueue,
    startToCloseTimeout: '24h',
    heartbeatTimeout: options.transferHeartbeatTimeout ?? '1m',
    retry: { ...retry, maximumAttempts: 20 },
  });

  const progress: MigrationProgress = {
    migrationId,
    vm: `${request.source?.endpoint}/${request.source?.name ?? request.source?.moref ?? request.source?.inventoryPath ?? request.source?.instanceUuid}`,
    phase: 'preflight',
    step: 'preflight',
    plan: null,
    bytesDone: 0,
    bytesTotal: 0,
    sourceStoppedAt: null,
    downtimeMs: null,
    awaitingApproval: false,
    waitingFor: null,
    precopy: null,
    undone: [],
    error: null,
  };
  const phases: Partial<Record<Phase, number>> = {};
  let phaseStart = Date.now();
  const enter = (phase: Phase, step: string = phase) => {
    phases[progress.phase] = (phases[progress.phase] ?? 0) + (Date.now() - phaseStart);
    phaseStart = Date.now();
    progress.phase = phase;
    progress.step = step;
    upsertSearchAttributes([{ key: PHASE_ATTRIBUTE, value: phase }]);
  };
  let approved = false;
  setHandler(progressQuery, () => progress);
  setHandler(
    approveSwitchoverUpdate,
    () => {
      approved = true;
      return { approvedAt: Date.now() };
    },
    {
      validator: () => {
        const steps = progress.plan?.steps ?? [];
        // A policy that holds the switchover (onBudgetMiss / window.onMiss wait-approval) asks as it waits.
        if (!progress.awaitingApproval && !steps.includes('await-switchover'))
          throw new Error('this migration switches over automatically; nothing to approve');
        if (approved) throw new Error('the switchover is already approved');
        if (['switchover', 'finalize', 'done', 'rolling-back', 'rolled-back'].includes(progress.phase))
          throw new Error(`too late to approve: the migration is in phase ${progress.phase}`);
      },
    },
  );
  upsertSearchAttributes([
    { key: VM_ATTRIBUTE, value: progress.vm },
    { key: PHASE_ATTRIBUTE, value: 'preflight' },
  ]);

  const prepared = await step(
    control.preflight,
    `Preflight: validate, resolve and plan ${progress.vm}`,
    request,
    migrationId,
  );
  const { plan } = prepared;
  progress.plan = plan;
  progress.vm = `${prepared.source.endpoint}/${prepared.source.name}`;
  upsertSearchAttributes([
    { key: VM_ATTRIBUTE, value: progress.vm },
    { key: METHOD_ATTRIBUTE, value: plan.method },
    ...(plan.mode ? [{ key: MODE_ATTRIBUTE, value: plan.mode }] : []),
  ]);
  upsertMemo({ plan });

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
      await condition(() => approved);
      progress.awaitingApproval = false;
      return;
    }
    await waitForSwitchover({
      window,
      manual,
      isApproved: () => approved,
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
  const warnings = plan.findings.filter((f) => f.severity === 'warning').map((f) => f.message);
  const finish = (
    result: Omit<
      MigrationResult,
      'migrationId' | 'method' | 'mode' | 'relocation' | 'reasons' | 'warnings' | 'phases' | 'precopy'
    >,
  ): MigrationResult => {
    enter('done');
    const { precopy } = progress;
    return {
      migrationId,
      method: plan.method,
      mode: plan.mode,
      relocation: plan.relocation,
      reasons: plan.reasons,
      warnings: [...warnings, ...policyWarnings],
      phases,
      ...result,
      precopy: precopy && {
        ...precopy,
        budgetMet:
          precopy.budgetMs === null || result.downtimeMs === null
            ? null
            : result.downtimeMs <= precopy.budgetMs,
      },
    };
  };

  if (plan.method === 'vmotion') {
    await awaitSwitchover();
    enter('relocate', 'relocate');
    const src = { endpoint: prepared.source.endpoint, vm: prepared.source.vm };
    try {
      await step(longControl.relocateVm, `RelocateVM_Task (${plan.relocation}) of ${prepared.source.name}`, {
        ...src,
        ...(plan.relocation?.includes('host')
          ? { host: prepared.target.host, pool: prepared.target.pool }
          : {}),
        ...(plan.relocation?.includes('datastore')
          ? {
              datastore: prepared.target.datastore,
              disks: prepared.target.diskDatastores.map(({ diskKey, datastore }) => ({ diskKey, datastore })),
            }
          : {}),
      });
    } catch (error) {
      if (isCancellation(error)) throw error;
      // vSphere keeps the VM running where it was when a relocation fails: there is nothing to undo.
      throw ApplicationFailure.create({
        type: 'MigrationFailed',
        nonRetryable: true,
        message: `vMotion of ${prepared.source.name} failed at step relocate: ${causeOf(error)}. vSphere left the VM on its source host and datastores; nothing to undo.`,
        details: [{ step: 'relocate', undone: [] }],
        cause: error instanceof Error ? error : undefined,
      });
    }
    enter('finalize', 'finalize-ir');
    const instantRecovery = await finalizeInstantRecovery(prepared, control);
    const target = await step(control.describeVm, `Read ${prepared.source.name} after the relocation`, src);
    return finish({
      downtimeMs: null,
      bytesCopied: 0,
      verified: [],
      target: {
        endpoint: src.endpoint,
        moref: target.moref,
        name: target.name,
        host: target.host,
        datastores: target.datastores,
        powerState: target.powerState,
        snapshots: target.snapshots,
      },
      source: {
        endpoint: src.endpoint,
        name: target.name,
        action: 'relocated',
        detail: `relocated (${plan.relocation}) by vSphere`,
      },
      instantRecovery,
    });
  }

  return quickMigrationSteps(prepared, {
    migrationId,
    progress,
    enter,
    awaitSwitchover,
    transfer,
    control,
    finish,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 600_000,
  });
}

interface StepContext {
  migrationId: string;
  progress: MigrationProgress;
  enter(phase: Phase, step?: string): void;
  awaitSwitchover(precopy?: GateDeps['precopy']): Promise<void>;
  transfer: ActivityInterfaceFor<TransferActivities>;
  control: ActivityInterfaceFor<ControlActivities>;
  finish(
    result: Omit<
      MigrationResult,
      'migrationId' | 'method' | 'mode' | 'relocation' | 'reasons' | 'warnings' | 'phases' | 'precopy'
    >,
  ): MigrationResult;
  heartbeatTimeoutMs: number;
}

async function quickMigrationSteps(prepared: PreparedMigration, ctx: StepContext): Promise<MigrationResult> {
  const { plan, source, target, request } = prepared;
  const { progress, enter, migrationId, control } = ctx;
  const src = { endpoint: source.endpoint, vm: source.vm };
  const layout = layoutOf(plan);
  const folders = layoutFolders(layout);
  const running = source.powerState === 'poweredOn';
  const verified: VerifiedFile[] = [];
  const copied = new Set<string>();
  const compensations: { what: string; undo: () => Promise<unknown> }[] = [];
  const sw = switchoverSteps({
    prepared,
    progress,
    control,
    longControl,
    run: step,
    compensate: (what, undo) => compensations.push({ what, undo }),
  });

  // Copy throughput over this migration's copies: what a warm switchover's projection divides by.
  const copyStats = { bytes: 0, ms: 0 };
  const copy = async (copies: FileCopyPlan[]) => {
    const copyStart = Date.now();
    progress.bytesTotal += copies.reduce((sum, c) => sum + c.size, 0);
    const result = await step(
      ctx.transfer.copyFiles,
      `Copy ${copies.length} file(s), ${mib(copies.reduce((n, c) => n + c.size, 0))} to ${target.endpoint}`,
      {
        sourceEndpoint: source.endpoint,
        targetEndpoint: target.endpoint,
        verify: request.options.verify,
        // The listed sizes: the copy need not search the datastore for each file.
        files: copies.map((c) => ({
          source: c.source,
          target: c.target,
          size: c.size,
          ...transformOf(c, sw.vmxFor(c)),
        })),
      },
    );
    for (const f of result.files) {
      verified.push({
        source: f.source,
        target: f.target,
        size: f.size,
        sha256Source: f.sha256Source,
        sha256Target: f.sha256Target,
        skipped: f.skipped,
      });
      copied.add(f.source);
      progress.bytesDone += f.size;
    }
    copyStats.bytes += result.files.reduce((sum, f) => sum + (f.skipped ? 0 : f.size), 0);
    copyStats.ms += Date.now() - copyStart;
  };

  // Warm migration: pre-copy rounds after the bulk copy (see src/planner/precopy.ts for the arithmetic).
  const { maxDowntimeMs, precopy: precopyOptions } = request.options;
  const warm = {
    enabled: plan.steps.includes('precopy'),
    snapshotAt: 0,
    samples: { taskMs: [] as number[], listMs: [] as number[], copyOverheadMs: [] as number[] },
    // Rounds are capped in total (each adds a snapshot level to the source's chain); converge counts its own.
    maxRounds: precopyOptions?.maxRounds ?? 8,
    // Headroom under the budget, and the delta the guest still writes until the stop: workflows that
    // started their pre-copy before this projection existed keep judging as they did (deterministic replay).
    calibrated: maxDowntimeMs !== undefined && patched('precopy-headroom'),
    // Once the projection fits, rounds go on while each cuts it by TIGHTEN (same replay rule).
    tighten: maxDowntimeMs !== undefined && patched('precopy-tighten'),
  };
  const headroom = warm.calibrated ? (precopyOptions?.headroom ?? 0.2) : 0;
  const precopyStatus = (): PrecopyStatus => {
    progress.precopy ??= {
      budgetMs: maxDowntimeMs ?? null,
      targetMs: maxDowntimeMs === undefined ? null : switchoverTargetMs({ maxDowntimeMs, headroom }),
      rounds: [],
      projection: null,
      verdict: null,
    };
    return progress.precopy;
  };
  const roundSnapshot = (n: number) => `${snapshotName(migrationId)}-r${n}`;
  const project = (configBytes: number) => {
    const status = precopyStatus();
    const last = status.rounds.at(-1);
    const writeRateBps = last && last.writeWindowMs > 0 ? (last.bytes * 1000) / last.writeWindowMs : 0;
    const throughputBps = copyStats.ms > 0 ? (copyStats.bytes * 1000) / copyStats.ms : 0;
    const input = {
      writeRateBps,
      sinceSnapshotMs: Date.now() - warm.snapshotAt,
      untilStopMs: warm.calibrated ? typicalTaskMs(warm.samples) : 0,
      stateBytes: plan.mode === 'smartswitch' ? source.memoryMiB * 2 ** 20 : 0,
      configBytes,
      throughputBps,
      fixedMs: fixedOverheadMs(warm.samples),
    };
    const afterRound = warm.tighten ? projectAfterRound(input, roundOverheadMs(warm.samples)) : undefined;
    const projection = {
      ...projectSwitchover(input),
      afterRoundMs: afterRound?.ms ?? null,
      writeRateBps: Math.round(writeRateBps),
      throughputBps: Math.round(throughputBps),
    };
    status.projection = projection;
    return { projection, afterRound };
  };
  /** One pre-copy round: snapshot, then copy the delta that snapshot froze while the VM runs. */
  const precopyRound = async (): Promise<{
    round: PrecopyRound;
    projection: NonNullable<PrecopyStatus['projection']>;
    afterRound: Projection | undefined;
  }> => {
    const status = precopyStatus();
    const n = status.rounds.length + 1;
    const name = roundSnapshot(n);
    if (progress.phase === 'precopy') progress.step = 'precopy';
    else enter('precopy', 'precopy');
    const start = Date.now();
    await step(
      control.snapshotVm,
      `Pre-copy round ${n}: snapshot ${source.name} to freeze its newest delta`,
      {
        ...src,
        name,
      },
    );
    compensations.push({
      what: `removed the pre-copy snapshot ${name} from the source`,
      undo: () =>
        step(control.removeSnapshot, `Rollback: remove ${name} of ${source.name}`, { ...src, name }),
    });
    const snapshotAt = Date.now();
    warm.samples.taskMs.push(snapshotAt - start);
    const now = await step(
      control.vmFiles,
      `Pre-copy round ${n}: list the frozen delta of ${source.name}`,
      src,
    );
    warm.samples.listMs.push(Date.now() - snapshotAt);
    const frozen = frozenDiskFiles(now.files, now.disks).filter((f) => !copied.has(f.name));
    const bytes = frozen.reduce((sum, f) => sum + f.size, 0);
    if (frozen.length > 0) {
      const throughput = copyStats.ms > 0 ? copyStats.bytes / copyStats.ms : 0;
      const copyStart = Date.now();
      await copy(planCopies(frozen, now.files, now.disks, layout, target.datastoreUrls));
      const expected = throughput > 0 ? bytes / throughput : 0;
      warm.samples.copyOverheadMs.push(Math.max(0, Date.now() - copyStart - expected));
    }
    const round: PrecopyRound = {
      round: n,
      snapshot: name,
      bytes,
      writeWindowMs: snapshotAt - warm.snapshotAt,
      ms: Date.now() - start,
      projectedMs: 0,
    };
    warm.snapshotAt = snapshotAt;
    status.rounds.push(round);
    const configBytes = remainingFiles(now.files, copied).reduce((sum, f) => sum + f.size, 0);
    const { projection, afterRound } = project(configBytes);
    round.projectedMs = projection.ms;
    return { round, projection, afterRound };
  };
  const precopyDeps = (): GateDeps['precopy'] => {
    enter('precopy', 'precopy');
    precopyStatus();
    return {
      // Keeps one round for the final convergence; says whether another refresh may run.
      refresh: async () => {
        if (precopyStatus().rounds.length >= warm.maxRounds - 1) return false;
        await precopyRound();
        return precopyStatus().rounds.length < warm.maxRounds - 1;
      },
      ...(maxDowntimeMs !== undefined
        ? {
            converge: async () => {
              const status = precopyStatus();
              const first = status.rounds.length;
              for (;;) {
                if (status.rounds.length >= warm.maxRounds) {
                  status.verdict = `no pre-copy round left (options.precopy.maxRounds ${warm.maxRounds})`;
                  return { fits: false as const, reason: status.verdict };
                }
                const { projection, afterRound } = await precopyRound();
                const verdict = judgeRound(
                  status.rounds.slice(first),
                  projection,
                  { maxDowntimeMs, maxRounds: warm.maxRounds - first, headroom },
                  projection,
                  afterRound,
                );
                if (verdict.kind === 'fits') {
                  status.verdict = 'fits';
                  return { fits: true as const };
                }
                if (verdict.kind === 'not-converging') {
                  status.verdict = verdict.reason;
                  return { fits: false as const, reason: verdict.reason };
                }
              }
            },
          }
        : {}),
      onBudgetMiss: precopyOptions?.onBudgetMiss ?? 'wait-approval',
      refreshIntervalMs: precopyOptions?.refreshIntervalMs ?? 30_000,
    };
  };

  let targetVm: PreparedMigration['source']['vm'] | undefined;
  let stoppedAt: number | null = null;
  let startedAt: number | null = null;
  try {
    enter('config', 'copy-config');
    await step(control.makeFolders, `Create ${folders.join(', ')} on ${target.endpoint}`, {
      endpoint: target.endpoint,
      folders,
      migrationId,
    });
    compensations.push({
      what: `deleted the target folders ${folders.join(', ')}`,
      undo: () =>
        step(control.deleteFolders, `Rollback: delete ${folders.join(', ')} on ${target.endpoint}`, {
          endpoint: target.endpoint,
          folders,
          migrationId,
        }),
    });

    enter('bulk-copy', running ? 'snapshot' : 'bulk-copy');
    if (running) {
      const snapshotStart = Date.now();
      await step(control.snapshotVm, `Snapshot ${source.name} to freeze its disks`, {
        ...src,
        name: snapshotName(migrationId),
      });
      warm.snapshotAt = Date.now();
      warm.samples.taskMs.push(warm.snapshotAt - snapshotStart);
      compensations.push({
        what: 'removed the migration snapshot from the source',
        undo: () =>
          step(control.removeSnapshot, `Rollback: remove the migration snapshot of ${source.name}`, {
            ...src,
            name: snapshotName(migrationId),
          }),
      });
      const frozen = await step(control.vmFiles, `List the frozen files of ${source.name}`, src);
      warm.samples.listMs.push(Date.now() - warm.snapshotAt);
      progress.step = 'bulk-copy';
      await copy(
        planCopies(
          frozenDiskFiles(frozen.files, frozen.disks),
          frozen.files,
          frozen.disks,
          layout,
          target.datastoreUrls,
        ),
      );
    }

    await ctx.awaitSwitchover(running && warm.enabled ? precopyDeps() : undefined);
    enter('switchover', running ? (plan.mode === 'smartswitch' ? 'suspend' : 'stop') : 'delta-copy');
    if (running && sw.enabled) {
      stoppedAt = await sw.stop();
      progress.sourceStoppedAt = stoppedAt;
    } else if (running) {
      // If a retry finds the source already stopped (a worker died after stopping it), the real stop
      // happened before this step was scheduled: count from then, so downtime is never under-reported.
      const stopRequestedAt = Date.now();
      const stopped = await step(
        control.setPowerState,
        `${plan.mode === 'smartswitch' ? 'Suspend' : 'Power off'} ${source.name}: downtime starts`,
        {
          ...src,
          state: plan.mode === 'smartswitch' ? 'suspended' : 'poweredOff',
        },
      );
      stoppedAt = stopped.changed ? stopped.at : stopRequestedAt;
      progress.sourceStoppedAt = stoppedAt;
      compensations.push({
        what: 'restored the source to poweredOn',
        undo: () =>
          step(control.setPowerState, `Rollback: power ${source.name} on again`, {
            ...src,
            state: 'poweredOn',
          }),
      });
    }
    progress.step = 'delta-copy';
    const now = await step(control.vmFiles, `List what changed on ${source.name}`, src);
    const atSwitchover = planCopies(
      remainingFiles(now.files, copied),
      now.files,
      now.disks,
      layout,
      target.datastoreUrls,
    );
    sw.countSwitchoverBytes(atSwitchover.reduce((sum, c) => sum + c.size, 0));
    await copy(atSwitchover);

    progress.step = 'register-target';
    targetVm = await step(
      control.registerVm,
      `Register ${target.vmxPath} on ${target.hostName} as ${target.temporaryName}`,
      {
        endpoint: target.endpoint,
        vmxPath: target.vmxPath,
        name: target.temporaryName,
        folder: target.folder,
        pool: target.pool,
        host: target.host,
      },
    );
    compensations.push({
      what: `unregistered the target VM ${target.temporaryName}`,
      undo: () =>
        step(control.unregisterVmx, `Rollback: unregister ${target.temporaryName}`, {
          endpoint: target.endpoint,
          vmxPath: target.vmxPath,
        }),
    });

    await sw.beforeStart(targetVm);
    if (running && sw.enabled) {
      progress.step = plan.mode === 'smartswitch' ? 'resume' : 'start';
      startedAt = await sw.start(targetVm);
      progress.downtimeMs = stoppedAt === null ? null : startedAt - stoppedAt;
    } else if (running) {
      progress.step = plan.mode === 'smartswitch' ? 'resume' : 'start';
      startedAt = (
        await step(
          control.setPowerState,
          `${plan.mode === 'smartswitch' ? 'Resume' : 'Start'} ${target.temporaryName} on ${target.hostName}: downtime ends`,
          { endpoint: target.endpoint, vm: targetVm, state: 'poweredOn' },
        )
      ).at;
      progress.downtimeMs = stoppedAt === null ? null : startedAt - stoppedAt;
    }
  } catch (error) {
    const failedStep = progress.step;
    await rollback(compensations, progress, enter);
    const cancelled = isCancellation(error);
    const cause = causeOf(error);
    progress.error = cause;
    if (cancelled) throw error;
    throw ApplicationFailure.create({
      type: 'MigrationFailed',
      nonRetryable: true,
      message: `${plan.method} of ${source.name} failed at step ${failedStep}: ${cause}. Rolled back: ${progress.undone.join('; ') || 'nothing to undo'}. The source is ${source.powerState} as before.`,
      details: [{ step: failedStep, undone: progress.undone }],
      cause: error instanceof Error ? error : undefined,
    });
  }

  // The target runs (or holds the VM, for a powered-off or suspended source): from here on, no rollback.
  // A cancellation now would leave the VM half finalized (the source renamed, not unregistered, ...):
  // finalize runs to its end, and the migration completes as the CLI's `cancel` promises.
  return CancellationScope.nonCancellable(async () => {
    enter('finalize', 'consolidate');
    const tgt = { endpoint: target.endpoint, vm: targetVm };
    // The guest boots while finalize runs; its first heartbeat ends the service downtime.
    const service = running && targetVm ? sw.waitForService(targetVm, ctx.heartbeatTimeoutMs) : undefined;
    await step(control.consolidateVm, `Consolidate the disks of ${target.temporaryName}`, tgt);

    progress.step = 'finalize-source';
    let sourceOutcome: MigrationResult['source'];
    if (request.options.source === 'delete') {
      if (plan.targetPowerState === 'poweredOn') {
        await step(
          longControl.waitForGuestHeartbeat,
          `Wait for the guest heartbeat of ${target.temporaryName}`,
          { ...tgt, timeoutMs: ctx.heartbeatTimeoutMs },
        );
      }
      await step(control.destroyVm, `Delete the source ${source.name} and its files`, src);
      sourceOutcome = {
        endpoint: source.endpoint,
        name: source.name,
        action: 'deleted',
        detail: 'deleted with its files after the target reported a guest heartbeat',
      };
    } else {
      const keptName = `${source.name}_migrated`;
      await step(control.setPowerState, `Power off the source ${source.name}`, {
        ...src,
        state: 'poweredOff',
      });
      for (const round of [...(progress.precopy?.rounds ?? [])].reverse()) {
        await step(
          control.removeSnapshot,
          `Remove the pre-copy snapshot ${round.snapshot} of ${source.name}`,
          {
            ...src,
            name: round.snapshot,
          },
        );
      }
      await step(control.removeSnapshot, `Remove the migration snapshot of ${source.name}`, {
        ...src,
        name: snapshotName(migrationId),
      });
      await step(control.renameVm, `Rename the source to ${keptName}`, { ...src, name: keptName });
      await step(control.unregisterVm, `Unregister the source ${keptName}`, src);
      sourceOutcome = {
        endpoint: source.endpoint,
        name: keptName,
        action: 'kept',
        detail: `renamed ${keptName}, powered off and unregistered; its files stay in ${source.vmxPath.replace(/\/[^/]*$/, '')}`,
      };
    }
    await step(control.renameVm, `Rename the target to ${target.finalName}`, {
      ...tgt,
      name: target.finalName,
    });

    progress.step = 'finalize-ir';
    const instantRecovery = plan.steps.includes('finalize-ir')
      ? await finalizeInstantRecovery(prepared, control)
      : null;
    const described = await step(control.describeVm, `Read ${target.finalName} for the report`, tgt);
    await service;
    return ctx.finish({
      downtimeMs: progress.downtimeMs,
      ...sw.finish({ downtimeMs: progress.downtimeMs, copyBytes: copyStats.bytes, copyMs: copyStats.ms }),
      bytesCopied: verified.filter((v) => !v.skipped).reduce((sum, v) => sum + v.size, 0),
      verified,
      target: {
        endpoint: target.endpoint,
        moref: described.moref,
        name: described.name,
        host: described.host,
        datastores: described.datastores,
        powerState: described.powerState,
        snapshots: described.snapshots,
      },
      source: sourceOutcome,
      instantRecovery,
    });
  });
}

/** The copy's text transform: the path replacements and, for the .vmx, the switchover's edits. */
function transformOf(c: FileCopyPlan, vmx: VmxEdit | undefined) {
  if (!c.rewrite && !vmx) return {};
  return { transform: { kind: 'replace' as const, pairs: c.rewrite ?? [], ...(vmx ? { vmx } : {}) } };
}

/** The innermost useful message of an activity failure (the activity's own error, not the wrapper). */
function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? error.cause.message : error.message;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Runs the compensations in reverse, even when the workflow is being cancelled. */
async function rollback(
  compensations: { what: string; undo: () => Promise<unknown> }[],
  progress: MigrationProgress,
  enter: (phase: Phase, step?: string) => void,
): Promise<void> {
  progress.awaitingApproval = false;
  enter('rolling-back', 'rollback');
  await CancellationScope.nonCancellable(async () => {
    for (const { what, undo } of [...compensations].reverse()) {
      await undo();
      progress.undone.push(what);
    }
  });
  enter('rolled-back', 'rollback');
}

async function finalizeInstantRecovery(
  prepared: PreparedMigration,
  activities: ActivityInterfaceFor<ControlActivities>,
): Promise<MigrationResult['instantRecovery']> {
  const ir = prepared.source.instantRecoveryDatastore;
  if (!prepared.request.options.finalizeInstantRecovery || !ir) return null;
  const outcome = await step(activities.unmountIfUnused, `Unmount ${ir.name} where no VM uses it`, {
    endpoint: prepared.source.endpoint,
    datastore: ir.ref,
    datastoreSystems: ir.datastoreSystems,
  });
  return { datastore: ir.name, ...outcome };
}
