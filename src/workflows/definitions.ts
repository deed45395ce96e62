/**
 * The migration workflow's public contract: its progress query, its switchover approval update and
 * the shape of its progress and result. Clients, the CLI and the workflow share these constants.
 */
import type { Duration } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { DiskCopyReport } from '../activities/thin-disks';
import type { DowntimeComparison, ModeProjection } from '../planner/downtime';
import type { MigrationPlan } from '../planner/plan';
import type { PrecopyRound, Projection } from '../planner/precopy';
import type { TestCopyMarker } from '../planner/test-copy';

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
  /**
   * How long each switchover step on the stopped source (listing what changed, copying it) may take
   * with all its retries, e.g. while the source host does not answer, before the migration rolls back.
   * Default: the steps' own budgets (listing: 10 attempts within `controlRetryTimeout`; the copy: 20
   * attempts, about 7.5 minutes of backoff once the host stops answering).
   */
  switchoverRetryTimeout?: Duration;
  /**
   * How long a rollback after the source was stopped keeps trying to power the source on again while
   * its host does not answer (every 10 s). Default 24 hours: the migration, and so an owner of the
   * stopped VM, stays until the source runs again.
   */
  sourceReturnTimeout?: Duration;
  /**
   * Files a copy moves at once (each a stream through the source host and one through the target
   * host). Default: copyFiles' own, 4. A batch sets it to what the copy streams it admitted allow.
   */
  copyConcurrency?: number;
  /**
   * Set by a batch whose plan limits suspendsPerHost: the migration asks the batch (`ledger`, its
   * workflow id) for a suspend slot before it suspends its source, and gives it back once the target
   * runs (quick-migration/switchover-slot.ts). Default: none (no asking).
   */
  switchoverAdmission?: { ledger: string };
}

/** Phases in order (ARCHITECTURE.md "Quick Migration phases"); the last two are end states. */
export type Phase =
  | 'preflight'
  | 'config'
  | 'bulk-copy'
  | 'precopy'
  | 'awaiting-window'
  | 'awaiting-approval'
  | 'switchover'
  | 'relocate'
  | 'finalize'
  /** options.commit: the target runs, the source is kept off; a revert or a commit ends it. */
  | 'committing'
  /** options.test: the test VM is registered on the target, booting or running isolated, then removed. */
  | 'testing'
  | 'done'
  | 'rolling-back'
  | 'rolled-back'
  /** End state: preflight refused the migration or failed; nothing was changed (`error` says why). */
  | 'refused'
  /** End state: reverted within the commit window; the source runs as before, the target is gone. */
  | 'reverted';

/** One verified file: its size and SHA-256 on both sides. */
export interface VerifiedFile {
  source: string;
  target: string;
  size: number;
  sha256Source: string | null;
  sha256Target: string | null;
  /** Already complete on the target from an earlier attempt: not copied again. */
  skipped: boolean;
}

/** Warm migration: the downtime budget, the pre-copy rounds so far and the latest projection. */
export interface PrecopyStatus {
  /** options.maxDowntimeMs; null when rounds only keep the target fresh during a wait. */
  budgetMs: number | null;
  /** What the projection must fit to switch over: budgetMs less options.precopy.headroom; null without a budget. */
  targetMs: number | null;
  rounds: PrecopyRound[];
  /** The latest switchover projection and what it was made of; null before the first round. */
  projection:
    | (Projection & {
        /** What the projection would be right after one more round, ms; null when not judged so. */
        afterRoundMs: number | null;
        /** Guest write rate measured from the last frozen delta, bytes/s. */
        writeRateBps: number;
        /** Copy throughput measured over this migration's copies, bytes/s. */
        throughputBps: number;
      })
    | null;
  /** How pre-copy ended: null while it runs, 'fits', or why the budget could not be met. */
  verdict: string | null;
}

/** What the progress query answers. Bytes of the copy under way are in the activity's heartbeat. */
export interface MigrationProgress {
  migrationId: string;
  vm: string;
  phase: Phase;
  /** The step under way, as named in `plan.steps`. */
  step: string;
  plan: MigrationPlan | null;
  /** Bytes of completed copy steps. */
  bytesDone: number;
  /** Bytes all copy steps planned so far will move. */
  bytesTotal: number;
  /** Epoch ms when the source stopped running (suspend or power-off); null before. */
  sourceStoppedAt: number | null;
  /** The VM's downtime: source stopped or suspended → target running; null until the target runs. */
  downtimeMs: number | null;
  /**
   * The service's downtime: the source guest's last heartbeat → the target guest's heartbeat green;
   * null until that heartbeat (and when either guest has none). Absent in older workflows.
   */
  serviceDowntimeMs?: number | null;
  awaitingApproval: boolean;
  /** What the migration waits for (a window, an approval and why); null when it does not wait. */
  waitingFor: string | null;
  /** Warm migration figures; null when the migration copies in one pass. */
  precopy: PrecopyStatus | null;
  /** What rollback undid, when it ran. */
  undone: string[];
  error: string | null;
  /**
   * Per copied disk: logical and allocated size, bytes on the wire, bytes re-sent after a resume, the
   * transport (allocated areas or whole file) and its rate. Absent before the first disk copy.
   */
  disks?: DiskCopyReport[];
  /** The commit window (options.commit.afterMs); absent without one. */
  commitWindow?: CommitWindowStatus;
  /** A test migration's report once its VM booted (cleanup and cleanedAt once removed); absent otherwise. */
  test?: Omit<TestReport, 'cleanup' | 'cleanedAt'> & Partial<Pick<TestReport, 'cleanup' | 'cleanedAt'>>;
}

/** The commit window of a migration: when it ends, what the source is meanwhile, how it ended. */
export interface CommitWindowStatus {
  afterMs: number;
  /** When the window opened (the target runs, the source is kept off), ISO 8601; null before. */
  openedAt: string | null;
  /** When it ends and the migration commits by itself, ISO 8601; null before it opens. */
  endsAt: string | null;
  /** The name the source is kept under during the window (`<name>_migrated`, still registered). */
  sourceKeptAs: string;
  /** open while it waits; then committed (by the window's end or the commit update) or reverted. */
  state: 'pending' | 'open' | 'committing' | 'committed' | 'reverting' | 'reverted';
  /** What ended it: 'window-end', 'commit' (the update) or 'revert'; null while open. */
  endedBy: 'window-end' | 'commit' | 'revert' | null;
  /** When it ended, ISO 8601; null while open. */
  endedAt: string | null;
}

/** What the revert update answers once the source runs again and the target is gone. */
export interface RevertOutcome {
  revertedAt: string;
  /** The source as it is now: name, moref, power state. */
  source: { endpoint: string; name: string; moref: string; powerState: string };
  /** What the revert did, in order. */
  steps: string[];
  /** What the user must know: the target's changes since the switchover are lost. */
  warnings: string[];
}

/** What the commit update answers once the source was dealt with as options.source says. */
export interface CommitOutcome {
  committedAt: string;
  source: MigrationResult['source'];
}

/** How the switchover went: the stop, the questions answered, the hardware, the downtime against its projection. */
export interface SwitchoverReport {
  /**
   * How the source stopped: suspend (SmartSwitch), guest-shutdown (through VMware Tools), power-off
   * (hard, as options.shutdown.mode asked) or power-off-after-timeout (the guest did not stop within
   * options.shutdown.timeoutMs and onTimeout said power-off); null when it was not running.
   */
  stop: 'suspend' | 'guest-shutdown' | 'power-off' | 'power-off-after-timeout' | null;
  /** Questions vSphere asked when the target started, and the answer given. */
  answered: { text: string; messageIds: string[]; choice: string }[];
  /** options.targetVm.upgradeHardware: what happened; null when not asked (or not possible). */
  hardware: { upgraded: boolean; detail: string } | null;
  /** The measured downtimes beside the plan's projection and the same sums at the switchover; null without a projection. */
  projection: DowntimeComparison | null;
}

/** The workflow's result. */
export interface MigrationResult {
  migrationId: string;
  method: MigrationPlan['method'];
  mode: MigrationPlan['mode'];
  relocation: MigrationPlan['relocation'];
  reasons: MigrationPlan['reasons'];
  warnings: string[];
  /**
   * The VM's downtime, from the source stopping (a suspend's start, a hard power-off, or the guest
   * reaching poweredOff after its shutdown) until the target VM ran; null when the VM never stopped
   * (powered-off, suspended, vMotion). options.maxDowntimeMs bounds this one.
   */
  downtimeMs: number | null;
  /**
   * The service's downtime, from the source guest's last green heartbeat until the target guest's first;
   * includes a Cold migration's guest shutdown and boot. Null when not measured (no heartbeat on either
   * side, or from a workflow older than this field).
   */
  serviceDowntimeMs?: number | null;
  /** How the switchover went; null for vMotion and in older workflows. */
  switchover?: SwitchoverReport | null;
  bytesCopied: number;
  verified: VerifiedFile[];
  target: {
    endpoint: string;
    moref: string;
    name: string;
    host: string;
    datastores: string[];
    powerState: string;
    snapshots: number;
  };
  source: { endpoint: string; name: string; action: 'kept' | 'deleted' | 'relocated'; detail: string };
  instantRecovery: { datastore: string; unmounted: boolean; usedBy: string[] } | null;
  /** Milliseconds per phase. */
  phases: Partial<Record<Phase, number>>;
  /**
   * Warm migration: rounds, the last projection, and whether the measured downtime met the budget
   * (`budgetMet`, null without a budget or a downtime). Null when the migration copied in one pass.
   */
  precopy: (PrecopyStatus & { budgetMet: boolean | null }) | null;
  /** Per copied disk, as in the progress (absent for vMotion and for a VM whose disks were not copied). */
  disks?: DiskCopyReport[];
  /** The commit window and how it ended; absent without options.commit. */
  commitWindow?: CommitWindowStatus;
  /** A test migration's report (options.test); absent for a real migration. */
  test?: TestReport;
}

/** What a test migration (options.test) found: how the copy booted, and what the real run would cost. */
export interface TestReport {
  /** The test VM's name (`<name>-test`) and moref while it existed. */
  vm: { name: string; moref: string };
  /** Power-on of the test VM → its guest heartbeat green, ms; null when no heartbeat came within the wait. */
  bootMs: number | null;
  /** When the power-on returned and when the heartbeat was first green, ISO 8601 (heartbeat null if none). */
  startedAt: string;
  heartbeatAt: string | null;
  /**
   * adapters-disconnected: the network adapters were set not to connect at power-on
   * (ethernetN.startConnected FALSE); test-network: they were moved onto options.test.network and
   * connected there.
   */
  isolated: 'adapters-disconnected' | 'test-network';
  /** test-network: the port group and the adapters moved onto it (label and MAC address). Absent otherwise. */
  network?: { name: string; adapters: { label: string; macAddress: string }[] };
  /** The plan's projected downtime of the real run in the mode it chose (ms); null without a projection. */
  projectedDowntimeMs: number | null;
  projectedServiceDowntimeMs: number | null;
  /** The plan's mode for the real run. */
  mode: 'smartswitch' | 'cold' | null;
  /**
   * The same projection with what the test measured: its copy rate and, for Cold, its boot until the
   * heartbeat (the terms say which figure came from where); null without a plan projection.
   */
  afterTest: ModeProjection | null;
  /** options.test.keep: the VM ran until the cleanup update. */
  kept: boolean;
  /** What the cleanup did, in order. */
  cleanup: string[];
  /** When the test VM was removed, ISO 8601. */
  cleanedAt: string;
  /**
   * options.test.keepDisks: the marker the cleanup left with the copied disks (quickmig-test.json), for a
   * later real migration; null when no disk could be kept (no changeId at the snapshot). Absent without.
   */
  keptDisks?: TestCopyMarker | null;
}

/**
 * Removes a kept test VM (options.test.keep) now: power off, unregister, delete its files (the copied
 * disks stay for the real run unless options.test.keepDisks is false). Refused
 * unless the migration is a test that keeps its VM; answers once the VM is gone.
 */
export const cleanupTestUpdate = defineUpdate<{ cleanedAt: string; cleanup: string[] }>('cleanupTest');

/**
 * Reverts the migration within its commit window (options.commit): stops and removes the target, brings
 * the source back under its name and power state. Refused outside the window, with the reason, and
 * with keepTargetChanges (README "Commit window" says why). The workflow then fails as
 * FAILURE_TYPES.migrationReverted.
 */
export const revertUpdate = defineUpdate<RevertOutcome, [{ keepTargetChanges?: boolean }]>('revert');

/** Commits the migration before its commit window ends (options.source then happens). */
export const commitUpdate = defineUpdate<CommitOutcome>('commit');

/** The migration's progress, any time. */
export const progressQuery = defineQuery<MigrationProgress>('progress');

/**
 * Approves the switchover: a manual one, or one a policy holds (a missed downtime budget or window with
 * onBudgetMiss / onMiss wait-approval). Refused unless the migration waits for it or will.
 */
export const approveSwitchoverUpdate = defineUpdate<{
  /** When the approval was accepted, ISO 8601 (epoch milliseconds from workflows started before this). */
  approvedAt: string;
}>('approveSwitchover');
