/**
 * What the parts of the quickMigration workflow share: the activities, the progress and its phase
 * tracker, the switchover gate and the result builder, made once in index.ts and handed down.
 */
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import type { ControlActivities, TransferActivities } from '../activity-options';
import type { MigrationProgress, MigrationResult, Phase, QuickMigrationOptions } from '../definitions';
import type { GateDeps } from '../switchover-gate';
import type { CommitWindowControl } from './commit-window';

/** The snapshot name a migration uses on its source, so a retry finds it and nothing else is touched. */
export const snapshotName = (migrationId: string) => `quickmig-${migrationId}`;

/** What a path of the workflow reports; the plan's fields, warnings, phases and pre-copy are added by `finish`. */
export type ResultFields = Omit<
  MigrationResult,
  'migrationId' | 'method' | 'mode' | 'relocation' | 'reasons' | 'warnings' | 'phases' | 'precopy'
>;

/** The workflow's state and tools, shared by its vMotion and Quick Migration paths. */
export interface MigrationContext {
  migrationId: string;
  progress: MigrationProgress;
  /** Enters a phase (and step), accounting the time of the phase it leaves. */
  enter(phase: Phase, step?: string): void;
  /** Waits until the switchover may start: window, approval, and with pre-copy the downtime budget. */
  awaitSwitchover(precopy?: GateDeps['precopy']): Promise<void>;
  transfer: ActivityInterfaceFor<TransferActivities>;
  control: ActivityInterfaceFor<ControlActivities>;
  longControl: ActivityInterfaceFor<ControlActivities>;
  /** Completes the phase accounting and builds the result. */
  finish(result: ResultFields): MigrationResult;
  /** How long `source: delete` waits for the target's guest heartbeat, ms. */
  heartbeatTimeoutMs: number;
  /** The revert and commit updates' decision, shared with the commit window. */
  commitWindow: CommitWindowControl;
  /** The workflow's options (retry budgets of the switchover and its rollback). */
  options?: QuickMigrationOptions;
}
