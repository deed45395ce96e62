/**
 * The migration's progress as the `progress` query shows it: phases and their durations, the
 * approval update, the bytes of the copies and their verification, and the result built from them.
 * Workflow code: Temporal's clock only.
 */
import type { ActivityOptions } from '@temporalio/common';
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import { ApplicationFailure, log, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { PreparedMigration } from '../../activities/preflight';
import type { CopyFilesInput } from '../../activities/transfer';
import type { FileCopyPlan } from '../../planner/files';
import type { MigrationPlan } from '../../planner/plan';
import type { VmxEdit } from '../../planner/vmx';
import { FAILURE_TYPES } from '../../request/contract';
import type { MigrationRequestInput } from '../../request/request';
import type { TransferActivities } from '../activity-options';
import { stepWith } from '../activity-options';
import type { MigrationProgress, MigrationResult, Phase, VerifiedFile } from '../definitions';
import { approveSwitchoverUpdate, progressQuery } from '../definitions';
import { PHASE_ATTRIBUTE } from '../search-attributes';
import type { ResultFields } from './context';

/** The progress of a migration that has not started: phase preflight, nothing copied. */
export function initialProgress(migrationId: string, request: MigrationRequestInput): MigrationProgress {
  return {
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
}

/**
 * Tracks the phases: `enter` moves the progress to a phase and step, adds the time spent in the phase
 * it leaves to `phases`, and upserts the phase search attribute.
 */
export function phaseTracker(progress: MigrationProgress) {
  const phases: Partial<Record<Phase, number>> = {};
  let phaseStart = Date.now();
  const enter = (phase: Phase, step: string = phase) => {
    phases[progress.phase] = (phases[progress.phase] ?? 0) + (Date.now() - phaseStart);
    phaseStart = Date.now();
    // One structured line per phase change (the SDK does not log while replaying); 'done' is logged as
    // the migration's completion by src/telemetry/workflow-metrics, 'rolled-back' with what was undone.
    if (phase !== progress.phase && phase !== 'done' && phase !== 'rolled-back')
      log.info(`phase ${phase}`, { event: 'phase-changed', phase, from: progress.phase, step });
    progress.phase = phase;
    progress.step = step;
    upsertSearchAttributes([{ key: PHASE_ATTRIBUTE, value: phase }]);
  };
  return { phases, enter };
}

/** A refused approval: non-retryable, typed FAILURE_TYPES.approvalRefused, the reason as its message. */
function refusal(reason: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FAILURE_TYPES.approvalRefused,
    nonRetryable: true,
    message: reason,
  });
}

/**
 * Answers the progress query and the switchover approval, which is refused unless the migration waits
 * for one (or will), and once the switchover has begun.
 */
export function handleQueries(progress: MigrationProgress): { isApproved: () => boolean } {
  let approved = false;
  setHandler(progressQuery, () => progress);
  setHandler(
    approveSwitchoverUpdate,
    () => {
      approved = true;
      return { approvedAt: new Date().toISOString() };
    },
    {
      // A refusal is a typed, non-retryable failure: asking again cannot change the answer.
      validator: () => {
        // Before the plan, whether a switchover will wait is not known yet: not "nothing to approve".
        if (progress.plan === null && progress.phase === 'preflight')
          throw refusal(
            'the migration is still in preflight; approve it once it has a plan (quickmig status ID)',
          );
        const steps = progress.plan?.steps ?? [];
        // A policy that holds the switchover (onBudgetMiss / window.onMiss wait-approval) asks as it waits.
        if (!progress.awaitingApproval && !steps.includes('await-switchover'))
          throw refusal('this migration switches over automatically; nothing to approve');
        if (approved) throw refusal('the switchover is already approved');
        if (
          ['switchover', 'finalize', 'done', 'rolling-back', 'rolled-back', 'refused'].includes(
            progress.phase,
          )
        )
          throw refusal(`too late to approve: the migration is in phase ${progress.phase}`);
      },
    },
  );
  return { isApproved: () => approved };
}

/**
 * Builds the result: the plan's decisions, its warnings and the policies' (`policyWarnings`, filled as
 * the migration goes), the phases, and whether pre-copy met its budget.
 */
export function resultBuilder(
  migrationId: string,
  plan: MigrationPlan,
  progress: MigrationProgress,
  tracker: ReturnType<typeof phaseTracker>,
  policyWarnings: readonly string[],
): (result: ResultFields) => MigrationResult {
  const warnings = plan.findings.filter((f) => f.severity === 'warning').map((f) => f.message);
  return (result) => {
    tracker.enter('done');
    const { precopy } = progress;
    return {
      migrationId,
      method: plan.method,
      mode: plan.mode,
      relocation: plan.relocation,
      reasons: plan.reasons,
      warnings: [...warnings, ...policyWarnings],
      phases: tracker.phases,
      ...result,
      ...(progress.disks !== undefined ? { disks: progress.disks } : {}),
      precopy: precopy && {
        ...precopy,
        budgetMet:
          precopy.budgetMs === null || result.downtimeMs === null
            ? null
            : result.downtimeMs <= precopy.budgetMs,
      },
    };
  };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * Copy accounting: runs copies, records each verified file and the bytes in the progress, remembers
 * which source files are on the target (`copied`), and measures the copy throughput over this
 * migration's copies (`stats`: what a warm switchover's projection divides by).
 */
export function copier(
  prepared: PreparedMigration,
  progress: MigrationProgress,
  transfer: ActivityInterfaceFor<TransferActivities>,
  /** The switchover's .vmx edit for a copy (identity, media); default none. */
  vmxFor: (copy: FileCopyPlan) => VmxEdit | undefined = () => undefined,
  /** Files copied at once (QuickMigrationOptions.copyConcurrency); default: copyFiles' own. */
  concurrency?: number,
) {
  const { source, target, request } = prepared;
  const verified: VerifiedFile[] = [];
  const copied = new Set<string>();
  const stats = { bytes: 0, ms: 0 };
  /**
   * Copies files; `options` (call-site activity options) bound the copy's retries when given;
   * `sourceStopped`: the switchover's copy of a stopped source, which must stay stopped meanwhile.
   */
  const copy = async (
    copies: FileCopyPlan[],
    options: Partial<ActivityOptions> = {},
    sourceStopped?: CopyFilesInput['sourceStopped'],
  ) => {
    const copyStart = Date.now();
    progress.bytesTotal += copies.reduce((sum, c) => sum + c.size, 0);
    const result = await stepWith(
      transfer.copyFiles,
      options,
      `Copy ${copies.length} file(s), ${mib(copies.reduce((n, c) => n + c.size, 0))} to ${target.endpoint}`,
      {
        sourceEndpoint: source.endpoint,
        targetEndpoint: target.endpoint,
        verify: request.options.verify,
        diskType: request.options.diskType,
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(sourceStopped ? { sourceStopped } : {}),
        // The listed sizes: the copy need not search the datastore for each file.
        files: copies.map((c) => ({
          source: c.source,
          target: c.target,
          size: c.size,
          ...transformOf(c, vmxFor(c)),
          ...(c.disk
            ? {
                disk: {
                  vm: source.vm,
                  snapshot: c.disk.snapshot,
                  diskKey: c.disk.key,
                  ...(c.disk.reuse ? { reuse: c.disk.reuse } : {}),
                },
              }
            : {}),
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
    if (result.disks !== undefined && result.disks.length > 0) {
      progress.disks = [
        ...(progress.disks ?? []).filter((d) => !result.disks?.some((n) => n.target === d.target)),
        ...result.disks,
      ];
    }
    stats.bytes += result.files.reduce((sum, f) => sum + (f.skipped ? 0 : f.size), 0);
    stats.ms += Date.now() - copyStart;
  };
  return { verified, copied, stats, copy };
}

/** The copy's text transform: the path replacements and, for the .vmx, the switchover's edits. */
function transformOf(c: FileCopyPlan, vmx: VmxEdit | undefined) {
  if (!c.rewrite && !vmx) return {};
  return { transform: { kind: 'replace' as const, pairs: c.rewrite ?? [], ...(vmx ? { vmx } : {}) } };
}

/** What `copier` returns. */
export type Copier = ReturnType<typeof copier>;
