/**
 * Names shared by the callers and the worker: Temporal knows workflows, task queues and failures by
 * these strings, so each is declared once here, in the bottom layer, and imported by both sides.
 */

/** The task queue the worker polls and the client starts workflows on. Default of every `taskQueue` option. */
export const DEFAULT_TASK_QUEUE = 'quickmig';

/** Workflow types (the names of the exported workflow functions in src/workflows/index.ts). */
export const WORKFLOW_TYPES = {
  /** One VM's migration. */
  quickMigration: 'quickMigration',
  /** A dry run: the plan of one request, nothing changed. */
  planMigration: 'planMigration',
  /** Many migrations from one plan file, with limits. */
  migrationBatch: 'migrationBatch',
  /** `quickmig endpoints`: each endpoint's reachability, certificate, login and API version. */
  endpointsCheck: 'endpointsCheck',
  /** `quickmig inventory`: VMs, hosts, datastores or networks with sizes and states. */
  inventoryListing: 'inventoryListing',
  /** Holds, in its memo, the endpoint names the workers of a task queue serve (endpointDirectoryId). */
  endpointDirectory: 'endpointDirectory',
} as const;

/**
 * The workflow id of a task queue's endpoint directory: the worker starts it (replacing the previous
 * run) with its endpoint names in the memo, and clients describe it to refuse an unknown endpoint.
 */
export function endpointDirectoryId(taskQueue: string): string {
  return `quickmig-endpoints-${taskQueue}`;
}

/** The memo key of the directory's contents. */
export const ENDPOINT_DIRECTORY_MEMO = 'directory';

/**
 * Failure types a workflow ends with (the `type` of its ApplicationFailure), which the client turns
 * back into its error classes.
 */
export const FAILURE_TYPES = {
  /** A migration failed after its compensations ran; details carry the step and what was undone. */
  migrationFailed: 'MigrationFailed',
  /** A batch entry that never ran because the batch was cancelled. */
  cancelled: 'Cancelled',
  /** The request did not validate (field paths and fixes in the details). */
  requestInvalid: 'RequestValidationError',
  /** Preflight found a blocking problem; nothing was changed. */
  preflightBlocked: 'PreflightBlockedError',
  /** The request names an endpoint the worker does not have. */
  unknownEndpoint: 'UnknownEndpointError',
  /** The approveSwitchover update was refused (nothing to approve, already approved, too late). */
  approvalRefused: 'ApprovalRefused',
  /** `options.precopy.onBudgetMiss: abort`: the projected switchover did not fit `maxDowntimeMs`; the source runs on. */
  downtimeBudgetMissed: 'DowntimeBudgetMissed',
  /** `options.window.onMiss: abort`: the switchover window closed before the switchover could start. */
  switchoverWindowMissed: 'SwitchoverWindowMissed',
  /** The revert or commit update was refused (no commit window, not yet, closed, decided already). */
  commitWindowRefused: 'CommitWindowRefused',
  /** The migration was reverted within its commit window: the source runs as before, the target is gone. */
  migrationReverted: 'MigrationReverted',
} as const;

/**
 * The typed search attributes every migration upserts, so `temporal workflow list --query` and the
 * Temporal UI can filter migrations on their own. Declared here as data (name and Temporal type) because
 * the workflows define their keys from it (src/workflows/search-attributes.ts) and the lab registers
 * them with its server, and the lab sits beside the workflows, not above them.
 */
export const SEARCH_ATTRIBUTES = {
  /** `<endpoint>/<vm name>` of the source VM. */
  vm: { name: 'QuickmigVm', type: 'KEYWORD' },
  /** The migration's current phase (preflight, config, bulk-copy, switchover, finalize, done, rolled-back). */
  phase: { name: 'QuickmigPhase', type: 'KEYWORD' },
  /** The method chosen by the planner (vmotion, quick-migration). */
  method: { name: 'QuickmigMethod', type: 'KEYWORD' },
  /** The Quick Migration mode (smartswitch, cold), when there is one. */
  mode: { name: 'QuickmigMode', type: 'KEYWORD' },
  /**
   * True on dry runs (`quickmig plan`, set when the client starts one), absent on migrations: the saved
   * view `QuickmigDryRun IS NULL` lists migrations without the dry runs between them.
   */
  dryRun: { name: 'QuickmigDryRun', type: 'BOOL' },
  /**
   * The batch id, on the migrations a batch started (with resource admission, patch
   * `resource-admission`): `QuickmigBatch = '<batch id>'` lists a batch's migrations with their phase.
   */
  batch: { name: 'QuickmigBatch', type: 'KEYWORD' },
} as const;
