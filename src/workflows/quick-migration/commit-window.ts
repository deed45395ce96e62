/**
 * The commit window (options.commit.afterMs, patch COMMIT_WINDOW): after the switchover the target runs
 * under its final name and the source is kept powered off, its snapshots removed, renamed
 * `<name>_migrated` and still registered (so a revert keeps its moref, folder, pool and permissions).
 * The migration waits in phase `committing` until the window ends or an operator decides:
 *
 * - `revert` (update): stop the target, unregister it, delete its folders (as a rollback does), rename
 *   the source back and give it its power state from before the migration; the workflow then fails as
 *   FAILURE_TYPES.migrationReverted. The target's changes since the switchover are lost: its disks are
 *   consolidated copies without change tracking from the switchover on, so there is no delta to bring
 *   back (keepTargetChanges is refused and says so).
 * - `commit` (update) or the window's end: options.source happens now (keep: unregister the source;
 *   delete: after the target's guest heartbeat, delete it with its files), and finalize goes on.
 *
 * The handlers are registered when the workflow starts, so an early or a late call is refused with its
 * reason rather than left without a handler. Workflow code: Temporal's clock only.
 */
import { ApplicationFailure, allHandlersFinished, condition, setHandler } from '@temporalio/workflow';
import type { PreparedMigration } from '../../activities/preflight';
import { FAILURE_TYPES } from '../../request/contract';
import { step } from '../activity-options';
import type {
  CommitOutcome,
  CommitWindowStatus,
  MigrationProgress,
  MigrationResult,
  RevertOutcome,
} from '../definitions';
import { commitUpdate, revertUpdate } from '../definitions';
import { causeOf } from './compensation';
import type { MigrationContext } from './context';

type MoRef = PreparedMigration['source']['vm'];

/** Why --keep-target-changes is refused (README "Commit window"). */
export const KEEP_TARGET_CHANGES_REFUSED =
  "keepTargetChanges is not supported: the target's disks are full copies consolidated at the switchover, with no change tracking from the switchover on, so the target's changes since cannot be found as a delta and copied back; revert without it to restore the source as it was at the switchover (the target's changes are then lost), or commit and migrate the VM back (a new migration with source and target swapped) to keep them";

/** How carrying out a decision ended: what its update answers (or the failure it raises). */
type Outcome = { revert: RevertOutcome } | { commit: CommitOutcome } | { failed: string };

/** What the handlers and the window share: the operator's decision and how carrying it out ended. */
export interface CommitWindowControl {
  /** The decision being carried out, numbered; null while the window waits. */
  decision: { kind: 'revert' | 'commit'; n: number } | null;
  /** Decisions asked so far (a revert the window could not carry out leaves it open for another). */
  asked: number;
  /** The outcome of each decision, by its number, once carried out. */
  outcomes: Record<number, Outcome>;
}

/** Answers the decision being carried out, if there is one (the window's end has no update to answer). */
function answer(ctl: CommitWindowControl, outcome: Outcome): void {
  if (ctl.decision) ctl.outcomes[ctl.decision.n] = outcome;
}

function refusal(reason: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: FAILURE_TYPES.commitWindowRefused,
    nonRetryable: true,
    message: reason,
  });
}

/** The reason a revert or a commit is refused now, or null when it may go ahead. */
function refusedNow(what: 'revert' | 'commit', progress: MigrationProgress, ctl: CommitWindowControl) {
  const w = progress.commitWindow;
  if (progress.plan === null && progress.phase === 'preflight')
    return `the migration is still in preflight; a ${what} is possible within its commit window, once the target runs`;
  if (!w)
    return `this migration has no commit window (options.commit.afterMs is 0 or unset): it ${progress.phase === 'done' ? 'committed' : 'commits'} at once after the switchover${what === 'revert' ? '; to undo it, migrate the VM back' : ''}`;
  if (w.state === 'reverting' || w.state === 'reverted')
    return `the migration is ${w.state === 'reverting' ? 'being reverted' : 'reverted'} already (at ${w.endedAt})`;
  if (w.state === 'committing' || w.state === 'committed')
    return `too late to ${what}: the commit window ended at ${w.endedAt} (${w.endedBy === 'commit' ? 'by the commit update' : "at the window's end"}) and the migration committed`;
  if (progress.phase === 'rolling-back' || progress.phase === 'rolled-back')
    return `the migration failed before its commit window and ${progress.phase === 'rolled-back' ? 'was rolled back' : 'rolls back'}: the source runs as before`;
  if (w.state === 'pending' || w.endsAt === null)
    return ['switchover', 'finalize'].includes(progress.phase)
      ? `the commit window has not opened yet: the migration is in phase ${progress.phase} and opens it once the target runs and the source is kept off; ask again in a moment`
      : `the commit window has not opened yet: the migration is in phase ${progress.phase} (it opens after the switchover); to stop it before then, quickmig cancel rolls it back`;
  if (Date.now() >= Date.parse(w.endsAt))
    return `too late to ${what}: the commit window closed at ${w.endsAt} and the migration commits`;
  if (ctl.decision !== null) return `a ${ctl.decision.kind} is under way already`;
  return null;
}

/**
 * Registers the revert and commit updates (refused, with the reason, outside the window) and returns
 * the state they share with the window. Not a command: registering changes no history.
 */
export function handleCommitWindow(progress: MigrationProgress): CommitWindowControl {
  const ctl: CommitWindowControl = { decision: null, asked: 0, outcomes: {} };
  const decide = async (kind: 'revert' | 'commit'): Promise<Outcome> => {
    const n = ++ctl.asked;
    ctl.decision = { kind, n };
    await condition(() => ctl.outcomes[n] !== undefined);
    const outcome = ctl.outcomes[n] as Outcome;
    if ('failed' in outcome) throw ApplicationFailure.create({ nonRetryable: true, message: outcome.failed });
    return outcome;
  };
  setHandler(revertUpdate, async () => ((await decide('revert')) as { revert: RevertOutcome }).revert, {
    validator: (options) => {
      const reason = refusedNow('revert', progress, ctl);
      if (reason) throw refusal(reason);
      if (options?.keepTargetChanges) throw refusal(KEEP_TARGET_CHANGES_REFUSED);
    },
  });
  setHandler(commitUpdate, async () => ((await decide('commit')) as { commit: CommitOutcome }).commit, {
    validator: () => {
      const reason = refusedNow('commit', progress, ctl);
      if (reason) throw refusal(reason);
    },
  });
  return ctl;
}

/** The window's status before it opens, for the progress of a migration that has one. */
export function pendingWindow(afterMs: number, sourceName: string): CommitWindowStatus {
  return {
    afterMs,
    openedAt: null,
    endsAt: null,
    sourceKeptAs: `${sourceName}_migrated`,
    state: 'pending',
    endedBy: null,
    endedAt: null,
  };
}

/** What the window needs from finalize. */
export interface WindowDeps {
  prepared: PreparedMigration;
  ctx: MigrationContext;
  targetVm: MoRef | undefined;
  /** The target's folders, which a revert deletes (as a rollback does). */
  folders: readonly string[];
  /** options.source at commit: keep unregisters the source, delete deletes it after the heartbeat. */
  commitSource: () => Promise<MigrationResult['source']>;
}

/**
 * Waits in phase `committing` (the source already off and renamed, the target renamed), then commits
 * or reverts. Returns the source's outcome after a commit; after a revert throws the workflow's
 * MigrationReverted failure. Runs in finalize's non-cancellable scope.
 */
export async function runCommitWindow(deps: WindowDeps): Promise<MigrationResult['source']> {
  const { ctx } = deps;
  const { progress } = ctx;
  const ctl = ctx.commitWindow;
  const window = progress.commitWindow as CommitWindowStatus;
  const openedAt = Date.now();
  setWindow(progress, {
    state: 'open',
    openedAt: new Date(openedAt).toISOString(),
    endsAt: new Date(openedAt + window.afterMs).toISOString(),
  });
  const endsAt = openedAt + window.afterMs;
  for (;;) {
    ctx.enter('committing', 'commit-window');
    progress.waitingFor = `the commit window ends at ${progress.commitWindow?.endsAt}: revert (quickmig revert ${ctx.migrationId}) or commit now (quickmig commit ${ctx.migrationId})`;
    const left = endsAt - Date.now();
    if (left > 0) await condition(() => ctl.decision !== null, left);
    progress.waitingFor = null;
    if (ctl.decision?.kind !== 'revert') break;
    // Nothing of the target is touched before the source is known to be there to come back to.
    const missing = await sourceMissing(deps);
    if (missing === null) {
      markEnded(progress, 'revert');
      return revert(deps);
    }
    answer(ctl, { failed: missing });
    ctl.decision = null;
  }
  const endedBy = ctl.decision?.kind ?? 'window-end';
  markEnded(progress, endedBy);

  ctx.enter('finalize', 'finalize-source');
  let source: MigrationResult['source'];
  try {
    source = await deps.commitSource();
  } catch (error) {
    answer(ctl, { failed: `the commit failed: ${causeOf(error)}` });
    await condition(allHandlersFinished);
    throw error;
  }
  setWindow(progress, { state: 'committed' });
  answer(ctl, { commit: { committedAt: new Date().toISOString(), source } });
  return source;
}

/** Stops and removes the target, brings the source back; ends the workflow as MigrationReverted. */
async function revert(deps: WindowDeps): Promise<never> {
  const { prepared, ctx, targetVm, folders } = deps;
  const { source, target } = prepared;
  const { control, progress } = ctx;
  const ctl = ctx.commitWindow;
  const src = { endpoint: source.endpoint, vm: source.vm };
  const done: string[] = [];
  ctx.enter('committing', 'revert');
  try {
    if (targetVm) {
      await step(control.setPowerState, `Revert: stop the target ${target.finalName}`, {
        endpoint: target.endpoint,
        vm: targetVm,
        state: 'poweredOff',
      });
      done.push(`stopped the target ${target.finalName}`);
    }
    await step(control.unregisterVmx, `Revert: unregister the target ${target.finalName}`, {
      endpoint: target.endpoint,
      vmxPath: target.vmxPath,
    });
    done.push(`unregistered the target VM ${target.finalName}`);
    await step(control.deleteFolders, `Revert: delete ${folders.join(', ')} on ${target.endpoint}`, {
      endpoint: target.endpoint,
      folders: [...folders],
      migrationId: ctx.migrationId,
    });
    done.push(`deleted the target folders ${folders.join(', ')}`);
    await step(control.renameVm, `Revert: rename the source back to ${source.name}`, {
      ...src,
      name: source.name,
    });
    done.push(`renamed the source back to ${source.name}`);
    if (source.powerState === 'poweredOn') {
      // Started as a target is: a question vSphere asks on the way is answered too.
      await step(control.startTarget, `Revert: power ${source.name} on`, src);
      done.push(`powered the source ${source.name} on`);
    }
  } catch (error) {
    const message = `the revert failed after: ${done.join('; ') || 'nothing'}: ${causeOf(error)}`;
    answer(ctl, { failed: message });
    progress.error = message;
    await condition(allHandlersFinished);
    throw error;
  }
  const described = await step(control.describeVm, `Read ${source.name} after the revert`, src);
  const warnings = [
    `the target's changes since the switchover (at ${new Date(progress.sourceStoppedAt ?? Date.now()).toISOString()}) are lost: ${source.name} runs from its disks as they were at the switchover`,
    ...(source.powerState === 'suspended'
      ? [
          `${source.name} was suspended before the migration; it was powered off at the switchover and stays off`,
        ]
      : []),
  ];
  progress.undone = done;
  setWindow(progress, { state: 'reverted' });
  ctx.enter('reverted', 'revert');
  answer(ctl, {
    revert: {
      revertedAt: new Date().toISOString(),
      source: {
        endpoint: source.endpoint,
        name: described.name,
        moref: described.moref,
        powerState: described.powerState,
      },
      steps: done,
      warnings,
    },
  });
  // The update answers before the workflow ends.
  await condition(allHandlersFinished);
  throw ApplicationFailure.create({
    type: FAILURE_TYPES.migrationReverted,
    nonRetryable: true,
    message: `migration of ${source.name} reverted within its commit window: ${done.join('; ')}. ${warnings.join('. ')}`,
    details: [{ step: 'revert', undone: done }],
  });
}

/** The window ends: what ended it and when. */
function markEnded(progress: MigrationProgress, endedBy: 'window-end' | 'commit' | 'revert'): void {
  setWindow(progress, {
    state: endedBy === 'revert' ? 'reverting' : 'committing',
    endedBy,
    endedAt: new Date().toISOString(),
  });
}

/**
 * Why the source cannot be brought back (it is no longer registered: someone removed it during the
 * window), or null when it is there. The target then stays as it is and the window stays open.
 */
async function sourceMissing({ prepared, ctx }: WindowDeps): Promise<string | null> {
  const { source } = prepared;
  try {
    await step(ctx.control.describeVm, `Revert: find the kept source ${source.name}_migrated`, {
      endpoint: source.endpoint,
      vm: source.vm,
    });
    return null;
  } catch (error) {
    return `the kept source ${source.name}_migrated (${source.vm.value}) cannot be read on ${source.endpoint}, so the target was left running and the window stays open: ${causeOf(error)}`;
  }
}

/** Updates the window's status as one assignment, so the UI's Current Details follow. */
function setWindow(progress: MigrationProgress, patch: Partial<CommitWindowStatus>): void {
  progress.commitWindow = { ...(progress.commitWindow as CommitWindowStatus), ...patch };
}
