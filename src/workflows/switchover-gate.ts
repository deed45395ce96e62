/**
 * When a migration may switch over: after its window opens, after an approval when one is asked for,
 * and, with a downtime budget, once pre-copy rounds brought the projected switchover under it. While
 * it waits, pre-copy rounds keep the target fresh, so the switchover stays short whenever it comes.
 * Workflow code: Temporal's clock and timers only.
 */
import { ApplicationFailure, condition, sleep } from '@temporalio/workflow';
import { FAILURE_TYPES } from '../request/contract';
import type { MissPolicy, SwitchoverWindow } from '../request/request';

/** What the gate needs from the migration. */
export interface GateDeps {
  readonly window: SwitchoverWindow | undefined;
  /** options.switchover is manual. */
  readonly manual: boolean;
  readonly isApproved: () => boolean;
  /** Shows what the migration waits for (null when it stops waiting), in the progress query. */
  readonly setWaiting: (what: { reason: string; approval: boolean } | null) => void;
  /** Records a policy decision that let the switchover go on (it becomes a warning of the result). */
  readonly warn: (message: string) => void;
  /**
   * Pre-copy, for a running VM copied warm; absent otherwise (then waits are plain timers).
   * `refresh` runs one round and says whether another may run (the snapshot chain is bounded);
   * `converge` runs rounds until the projection fits the budget, then while a round still cuts it by a
   * tenth (absent without a budget).
   */
  readonly precopy?: {
    readonly refresh: () => Promise<boolean>;
    readonly converge?: () => Promise<{ fits: true } | { fits: false; reason: string }>;
    readonly onBudgetMiss: MissPolicy;
    readonly refreshIntervalMs: number;
  };
}

/** Returns when the switchover may start; throws a non-retryable failure when a policy says abort. */
export async function waitForSwitchover(deps: GateDeps): Promise<void> {
  const { window, precopy } = deps;
  const notBefore = window?.notBefore === undefined ? undefined : Date.parse(window.notBefore);
  const notAfter = window?.notAfter === undefined ? undefined : Date.parse(window.notAfter);
  let canRefresh = precopy !== undefined;
  // Once handled, a missed window is not handled again ('wait-approval' then waits without a deadline).
  let windowMissHandled = false;
  const refresh = async () => {
    if (precopy && canRefresh) canRefresh = await precopy.refresh();
  };

  const windowMissed = async (): Promise<void> => {
    windowMissHandled = true;
    const reason = `the switchover window closed at ${window?.notAfter} before the switchover could start`;
    await applyPolicy(
      window?.onMiss ?? 'abort',
      FAILURE_TYPES.switchoverWindowMissed,
      reason,
      'options.window.onMiss',
    );
  };

  // Waits for an approval; with pre-copy, a round every refresh interval. Watches the window's end.
  const awaitApproval = async (reason: string): Promise<void> => {
    deps.setWaiting({ reason, approval: true });
    while (!deps.isApproved()) {
      const untilClose =
        notAfter !== undefined && !windowMissHandled ? Math.max(1, notAfter - Date.now()) : undefined;
      const interval = precopy && canRefresh ? precopy.refreshIntervalMs : undefined;
      const timeout = minDefined(untilClose, interval);
      if (timeout === undefined) {
        await condition(deps.isApproved);
        break;
      }
      if (await condition(deps.isApproved, timeout)) break;
      if (notAfter !== undefined && !windowMissHandled && Date.now() >= notAfter) {
        deps.setWaiting(null);
        await windowMissed();
        // 'switchover' lets it go now; 'wait-approval' keeps waiting (abort has thrown).
        if ((window?.onMiss ?? 'abort') === 'switchover') return;
        deps.setWaiting({ reason: `${reason}; the window has closed`, approval: true });
        continue;
      }
      await refresh();
      deps.setWaiting({ reason, approval: true });
    }
    deps.setWaiting(null);
  };

  const applyPolicy = async (policy: MissPolicy, type: string, reason: string, field: string) => {
    if (policy === 'abort') {
      throw ApplicationFailure.create({ type, nonRetryable: true, message: `${reason}; ${field} is abort` });
    }
    if (policy === 'switchover') {
      deps.warn(`${reason}; switched over anyway (${field} is switchover)`);
      return;
    }
    if (deps.isApproved()) {
      deps.warn(`${reason}; switched over on the approval given earlier (${field} is wait-approval)`);
      return;
    }
    await awaitApproval(`${reason}; approve to switch over anyway (${field} is wait-approval)`);
    // Without an approval the wait ended by a window that closed with onMiss switchover, which said so.
    if (deps.isApproved()) deps.warn(`${reason}; switched over on approval (${field} is wait-approval)`);
  };
  const budgetMissed = (policy: MissPolicy, reason: string) =>
    applyPolicy(policy, FAILURE_TYPES.downtimeBudgetMissed, reason, 'options.precopy.onBudgetMiss');
  const closedYet = () => notAfter !== undefined && !windowMissHandled && Date.now() >= notAfter;

  // 1. Converge once the bulk copy is done; a miss waits for its policy until no other wait is ahead.
  let fresh = false;
  const waitsAhead = deps.manual || (notBefore !== undefined && Date.now() < notBefore);
  if (precopy?.converge) {
    const first = await precopy.converge();
    fresh = true;
    if (!first.fits && !waitsAhead) {
      await budgetMissed(precopy.onBudgetMiss, first.reason);
      if (closedYet()) await windowMissed();
      return;
    }
  }

  // 2. The window opens: sleep until one refresh interval before it, refresh, then sleep to the start.
  if (notBefore !== undefined && Date.now() < notBefore) {
    const opens = { reason: `the switchover window opens at ${window?.notBefore}`, approval: false };
    deps.setWaiting(opens);
    while (Date.now() < notBefore) {
      const left = notBefore - Date.now();
      if (precopy && canRefresh && left > precopy.refreshIntervalMs) {
        await sleep(left - precopy.refreshIntervalMs);
        await refresh();
        deps.setWaiting(opens);
      } else {
        await sleep(left);
      }
    }
    fresh = false;
    deps.setWaiting(null);
  }

  // 3. A manual switchover waits for its approval.
  if (deps.manual && !deps.isApproved()) {
    await awaitApproval('the switchover waits for approval (options.switchover is manual)');
    fresh = false;
  }
  if (closedYet()) {
    await windowMissed();
    if ((window?.onMiss ?? 'abort') === 'switchover') return;
  }

  // 4. After a wait, converge again: the guest kept writing.
  if (precopy?.converge && !fresh) {
    const last = await precopy.converge();
    if (!last.fits) await budgetMissed(precopy.onBudgetMiss, last.reason);
  }
  if (closedYet()) await windowMissed();
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
