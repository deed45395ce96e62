/**
 * The plan's public shape: what `decidePlan` returns, the steps, rules, reasons and findings it speaks of.
 * Plain data, so a plan travels through Temporal, into a memo and to the CLI.
 */
import type { DowntimeProjection, StatedRate } from './downtime';

/** What a vMotion relocates (for Quick Migration it only describes what changes). */
export type Relocation = 'host' | 'datastore' | 'host+datastore';

/**
 * The steps a workflow runs, listed here in the order it runs them (a plan holds the ones that apply):
 * - `preflight`: validate, resolve every object, gather the facts and plan; changes nothing.
 * - `make-folders`: create the VM's folders on the target datastores (files come with the copies).
 * - `snapshot`: snapshot the source, so its base disks stop changing (a running VM), or so change
 *   tracking can report their allocated areas (a powered-off VM whose disks are thin or change type).
 * - `bulk-copy`: copy the frozen base disks (by their allocated areas where change tracking gives them);
 *   for a VM that is not running and not snapshotted, every file.
 * - `precopy`: warm rounds: snapshot again and copy the newest delta, until the switchover fits.
 * - `await-window`, `await-switchover`: wait for the switchover window, or for an approval.
 * - `suspend` / `stop`: suspend (SmartSwitch) or power off (Cold) the source: downtime starts.
 * - `delta-copy`: copy what changed since the snapshot, and every file not copied yet: deltas,
 *   configuration, nvram, suspend state.
 * - `register-target`: register the copied .vmx on the target host under a temporary name.
 * - `resume` / `start`: resume or power on the target: downtime ends.
 * - `consolidate`: consolidate the target's disks into one file each.
 * - `commit-window`: with options.commit.afterMs, the source off and renamed (still registered), the
 *   target renamed, then the wait for a commit or a revert (README "Commit window").
 * - `finalize-source`: delete the source, or keep it off, renamed and unregistered; rename the target.
 * - `relocate`: vMotion / Storage vMotion, one RelocateVM_Task (instead of the copy steps).
 * - `finalize-ir`: unmount the instant-recovery datastore where no VM uses it any more.
 *
 * A test migration (options.test; ./test-run.ts) runs `preflight`, `make-folders`, `snapshot`,
 * `bulk-copy` (the frozen base disks, then the .vmx pointed at them and the nvram), then:
 * - `remove-snapshot`: remove the migration snapshot from the source, which ran all along.
 * - `register-test`: register the copy as `<name>-test`, its network adapters not connected at power-on
 *   (options.test.network: moved onto that port group instead, connected at power-on).
 * - `boot-test`: snapshot the test VM (its writes go to a delta; the copied disks stay as copied), power
 *   it on and wait for its guest heartbeat: the boot time.
 * - `keep-test`: options.test.keep: the test VM runs until `quickmig cleanup ID`.
 * - `cleanup-test`: power the test VM off and unregister it; delete its own files and keep the copied
 *   base disks with quickmig-test.json for the real run (options.test.keepDisks, default), or delete the folders.
 */
export type StepId =
  | 'preflight'
  | 'make-folders'
  | 'snapshot'
  | 'bulk-copy'
  | 'precopy'
  | 'await-window'
  | 'await-switchover'
  | 'suspend'
  | 'stop'
  | 'delta-copy'
  | 'register-target'
  | 'resume'
  | 'start'
  | 'consolidate'
  | 'commit-window'
  | 'finalize-source'
  | 'relocate'
  | 'finalize-ir'
  | 'remove-snapshot'
  | 'register-test'
  | 'boot-test'
  | 'keep-test'
  | 'cleanup-test';

/** The rules a plan cites; see ARCHITECTURE.md "Choosing the method". */
export type RuleId =
  | 'R1-vmotion-available'
  | 'R2-method-requested'
  | 'R3-smartswitch'
  | 'R4-cold-cpu-incompatible'
  | 'R5-cold-memory'
  | 'R6-mode-requested'
  | 'R7-powered-off'
  | 'R8-suspended'
  | 'R9-relocation'
  | 'R10-source-handling'
  | 'R11-instant-recovery'
  | 'R12-mode-fastest';

/** A fact value as a reason quotes it. */
export type FactValue = string | number | boolean | null | string[];

/** Why one decision was taken: the rule, the decision in words, and the facts it used. */
export interface Reason {
  rule: RuleId;
  decision: string;
  facts: Record<string, FactValue>;
}

/** A preflight problem. Any `error` blocks the migration; a `warning` is worth reading first. */
export interface Finding {
  severity: 'error' | 'warning';
  /** Stable identifier for scripts and tests, e.g. `datastore-space`. */
  code: string;
  /** Request JSON path when the fix is in the request, e.g. `target.datastore`. */
  field?: string;
  /** What is wrong, with the numbers, and the fix. */
  message: string;
}

/** Where one disk goes. */
export interface DiskPlacementPlan {
  key: number;
  label: string;
  from: string;
  to: string;
}

/** What a migration needs on one target datastore: disks (by options.diskType), configuration, swap. */
export interface SpaceNeed {
  datastore: string;
  neededBytes: number;
  /** The datastore's free space when planned; null when the target has no such datastore. */
  freeBytes: number | null;
}

/** What a migration will copy and how long the copy takes at a stated rate (./estimate.ts). */
export interface CopyEstimate {
  /** Bytes the migration copies (Quick Migration) or vSphere moves (vMotion). */
  bytes: number;
  /** What the bytes are, in words. */
  basis: string;
  /** The rate the duration assumes, and where it comes from. */
  rate: StatedRate;
  /** bytes ÷ rate, ms: the copy alone (the switchover's downtime is projected per mode apart). */
  copyMs: number;
  /** Space needed per target datastore (a batch's dry run adds them up). */
  space: SpaceNeed[];
}

/** The outcome of planning: a dry run that changes nothing. */
export interface MigrationPlan {
  vm: string;
  /** The ESXi host the VM runs on now (a batch counts its per-host limit by it). */
  sourceHost: string;
  /**
   * The ESXi host the target lands on (for a cluster, the one preflight picked); a batch counts the
   * target's copy streams on it. Absent in plans made before it existed.
   */
  targetHost?: string;
  method: 'vmotion' | 'quick-migration';
  /** What changes; null when nothing does (then `nothing-to-do` blocks the plan). */
  relocation: Relocation | null;
  /** Quick Migration mode; null for vMotion. */
  mode: 'smartswitch' | 'cold' | null;
  /** Power state the VM ends in on the target. */
  targetPowerState: 'poweredOn' | 'poweredOff' | 'suspended';
  /** Final name on the target. */
  targetName: string;
  configDatastore: string;
  disks: DiskPlacementPlan[];
  steps: StepId[];
  reasons: Reason[];
  findings: Finding[];
  /** True when any finding is an error: the workflow must not start. */
  blocked: boolean;
  /**
   * Projected downtimes of each mode the rules allow, and how each was computed (./downtime.ts); null
   * for vMotion and for a VM that is not running. Absent in plans made before projections existed.
   */
  downtime?: DowntimeProjection | null;
  /** Bytes to copy and the copy's duration at a stated rate (./estimate.ts). Absent in plans made before estimates existed. */
  estimate?: CopyEstimate;
}
