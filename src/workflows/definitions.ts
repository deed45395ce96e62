/**
 * The migration workflow's public contract: its progress query, its switchover approval update and
 * the shape of its progress and result. Clients, the CLI and the workflow share these constants.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { MigrationPlan } from '../planner/plan';

/** Phases in order (ARCHITECTURE.md "Quick Migration phases"); the last two are end states. */
export type Phase =
  | 'preflight'
  | 'config'
  | 'bulk-copy'
  | 'awaiting-approval'
  | 'switchover'
  | 'relocate'
  | 'finalize'
  | 'done'
  | 'rolling-back'
  | 'rolled-back';

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
  downtimeMs: number | null;
  awaitingApproval: boolean;
  /** What rollback undid, when it ran. */
  undone: string[];
  error: string | null;
}

/** The workflow's result. */
export interface MigrationResult {
  migrationId: string;
  method: MigrationPlan['method'];
  mode: MigrationPlan['mode'];
  relocation: MigrationPlan['relocation'];
  reasons: MigrationPlan['reasons'];
  warnings: string[];
  /** From the source stopping until the target ran; null when the VM never stopped (powered-off, suspended, vMotion). */
  downtimeMs: number | null;
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
}

/** The migration's progress, any time. */
export const progressQuery = defineQuery<MigrationProgress>('progress');

/** Approves a manual switchover; refused unless the migration is waiting for it. */
export const approveSwitchoverUpdate = defineUpdate<{ approvedAt: number }>('approveSwitchover');
