/**
 * Warm migration: pre-copy rounds after the bulk copy (snapshot, copy the delta that snapshot froze
 * while the VM runs), a projection of the switchover after each, and the gate's `refresh` and `converge`
 * built on them. src/planner/precopy.ts holds the arithmetic.
 */
import { patched } from '@temporalio/workflow';
import type { PreparedMigration } from '../../activities/preflight';
import type { TargetLayout } from '../../planner/files';
import { frozenDiskFiles, planCopies, remainingFiles } from '../../planner/files';
import type { PrecopyRound, Projection } from '../../planner/precopy';
import {
  fixedOverheadMs,
  guestStopMs,
  judgeRound,
  projectAfterRound,
  projectSwitchover,
  roundOverheadMs,
  switchoverTargetMs,
  typicalTaskMs,
} from '../../planner/precopy';
import { step } from '../activity-options';
import type { PrecopyStatus } from '../definitions';
import { PRECOPY_HEADROOM, PRECOPY_SHUTDOWN, PRECOPY_TIGHTEN } from '../patches';
import type { GateDeps } from '../switchover-gate';
import type { Compensation } from './compensation';
import type { MigrationContext } from './context';
import { snapshotName } from './context';
import type { Copier } from './progress';

/**
 * The warm state of a migration and its pre-copy for the switchover gate. Call it where the workflow
 * always did (after the copy accounting, before the first step): it decides its patches then.
 */
export function warmMigration(
  prepared: PreparedMigration,
  ctx: MigrationContext,
  copies: Copier,
  compensations: Compensation[],
  layout: TargetLayout,
) {
  const { plan, source, target, request } = prepared;
  const { progress, enter, migrationId, control } = ctx;
  const src = { endpoint: source.endpoint, vm: source.vm };
  const { maxDowntimeMs, precopy: precopyOptions } = request.options;
  const warm = {
    enabled: plan.steps.includes('precopy'),
    /** Workflow time of the newest snapshot: the guest's writes since then are the next delta. */
    snapshotAt: 0,
    samples: { taskMs: [] as number[], listMs: [] as number[], copyOverheadMs: [] as number[] },
    // Rounds are capped in total (each adds a snapshot level to the source's chain); converge counts its own.
    maxRounds: precopyOptions?.maxRounds ?? 8,
    // Headroom under the budget, and the delta the guest still writes until the stop: workflows that
    // started their pre-copy before this projection existed keep judging as they did (deterministic replay).
    calibrated: maxDowntimeMs !== undefined && patched(PRECOPY_HEADROOM),
    // Once the projection fits, rounds go on while each cuts it by TIGHTEN (same replay rule).
    tighten: maxDowntimeMs !== undefined && patched(PRECOPY_TIGHTEN),
    // A Cold source's guest writes on while it shuts down; the switchover copies that too (same rule).
    guestStopMs:
      maxDowntimeMs !== undefined && plan.mode === 'cold' && patched(PRECOPY_SHUTDOWN)
        ? guestStopMs(plan.mode, plan.downtime)
        : 0,
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
    const throughputBps = copies.stats.ms > 0 ? (copies.stats.bytes * 1000) / copies.stats.ms : 0;
    const input = {
      writeRateBps,
      sinceSnapshotMs: Date.now() - warm.snapshotAt,
      untilStopMs: (warm.calibrated ? typicalTaskMs(warm.samples) : 0) + warm.guestStopMs,
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
    const frozen = frozenDiskFiles(now.files, now.disks).filter((f) => !copies.copied.has(f.name));
    const bytes = frozen.reduce((sum, f) => sum + f.size, 0);
    if (frozen.length > 0) {
      const throughput = copies.stats.ms > 0 ? copies.stats.bytes / copies.stats.ms : 0;
      const copyStart = Date.now();
      await copies.copy(planCopies(frozen, now.files, now.disks, layout, target.datastoreUrls));
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
    const configBytes = remainingFiles(now.files, copies.copied).reduce((sum, f) => sum + f.size, 0);
    const { projection, afterRound } = project(configBytes);
    round.projectedMs = projection.ms;
    return { round, projection, afterRound };
  };
  /** The gate's pre-copy: enters the precopy phase (call it only when the gate will get it). */
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
  return { state: warm, precopyDeps };
}
