/**
 * The worker's Prometheus metrics, declared once: quickmig's own (recorded by src/telemetry and the copy
 * activity) and the Temporal SDK's that the dashboard and alerts under deploy/observability use. Names,
 * types, units and labels follow the Prometheus conventions: counters end in `_total`, durations are
 * `_seconds`, sizes `_bytes`, labels are snake_case with bounded values (endpoint names from the worker's
 * configuration, methods, modes, outcomes; never a VM name or a migration id).
 *
 * Imports nothing, so workflow code (the sandbox), activities and tests can all read it.
 */

/** A metric as Prometheus shows it. */
export interface MetricDefinition {
  /** The name given to the SDK's meter; the exporter adds `_total` to counters and the unit to histograms. */
  readonly meterName: string;
  /** The name on /metrics (a histogram also has `_bucket`, `_sum` and `_count` series). */
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** The unit given to the meter: `bytes`, `seconds`, or '' for a count. */
  readonly unit: '' | 'bytes' | 'seconds';
  readonly help: string;
  /** Every label a series carries (besides the exporter's `service_name`), all snake_case. */
  readonly labels: readonly string[];
}

/** Where a copy ran: the labels of the metrics recorded for an activity. */
const ACTIVITY_CONTEXT = ['namespace', 'task_queue'] as const;
/** Which workflows: the labels of the metrics recorded for a migration (as the SDK's own series name them). */
const WORKFLOW_CONTEXT = ['namespace', 'task_queue', 'workflow_type'] as const;

/** Bytes uploaded to target datastores, counted as they move (not when a copy ends), per endpoint pair. */
export const COPIED_BYTES = {
  meterName: 'quickmig_copied_bytes',
  name: 'quickmig_copied_bytes_total',
  type: 'counter',
  unit: 'bytes',
  help: 'Bytes uploaded to target datastores by the data movers, counted as they move',
  labels: [...ACTIVITY_CONTEXT, 'source_endpoint', 'target_endpoint'],
} as const satisfies MetricDefinition;

/** Copies (`copyFiles` activities) running in this worker now, per task queue. */
export const COPIES_IN_PROGRESS = {
  meterName: 'quickmig_copies_in_progress',
  name: 'quickmig_copies_in_progress',
  type: 'gauge',
  unit: '',
  help: 'Copies (copyFiles activities) running in this worker, per task queue',
  labels: ACTIVITY_CONTEXT,
} as const satisfies MetricDefinition;

/** Finished migrations by outcome; a failed or cancelled one carries the method and mode it had planned. */
export const MIGRATIONS = {
  meterName: 'quickmig_migrations',
  name: 'quickmig_migrations_total',
  type: 'counter',
  unit: '',
  help: 'Finished migrations by outcome (completed, failed, cancelled), method and mode',
  labels: [...WORKFLOW_CONTEXT, 'outcome', 'method', 'mode'],
} as const satisfies MetricDefinition;

/** Switchover downtime (source stopped to target running) of completed migrations. */
export const DOWNTIME = {
  meterName: 'quickmig_downtime',
  name: 'quickmig_downtime_seconds',
  type: 'histogram',
  unit: 'seconds',
  help: 'Switchover downtime of a migration: source stopped to target running',
  labels: [...WORKFLOW_CONTEXT, 'method', 'mode'],
} as const satisfies MetricDefinition;

/**
 * Service downtime of completed migrations: the source guest's last heartbeat before the stop to the
 * target guest's heartbeat green (a Cold migration's guest shutdown and boot included).
 */
export const SERVICE_DOWNTIME = {
  meterName: 'quickmig_service_downtime',
  name: 'quickmig_service_downtime_seconds',
  type: 'histogram',
  unit: 'seconds',
  help: "Service downtime of a migration: source guest's last heartbeat to target guest's heartbeat",
  labels: [...WORKFLOW_CONTEXT, 'method', 'mode'],
} as const satisfies MetricDefinition;

/** Completed migrations whose measured downtime exceeded the budget the request set (maxDowntimeMs). */
export const DOWNTIME_OVER_BUDGET = {
  meterName: 'quickmig_downtime_over_budget',
  name: 'quickmig_downtime_over_budget_total',
  type: 'counter',
  unit: '',
  help: 'Completed migrations whose downtime exceeded the requested budget (maxDowntimeMs)',
  labels: [...WORKFLOW_CONTEXT, 'method', 'mode'],
} as const satisfies MetricDefinition;

/**
 * 1 while the worker can use a vSphere endpoint of its configuration (it answers, its certificate is
 * trusted, the login works), else 0; checked at start and every few minutes after. A worker whose every
 * endpoint is 0 runs no migration step that touches vSphere.
 */
export const ENDPOINT_UP = {
  meterName: 'quickmig_endpoint_up',
  name: 'quickmig_endpoint_up',
  type: 'gauge',
  unit: '',
  help: 'Whether the worker can use the vSphere endpoint (1: answers, trusted, login ok; 0: not)',
  labels: ['endpoint'],
} as const satisfies MetricDefinition;

/** Bucket bounds of {@link DOWNTIME}, in seconds: tens of milliseconds (warm SmartSwitch) to minutes (cold). */
export const DOWNTIME_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;

/** quickmig's own metrics. */
export const QUICKMIG_METRICS: readonly MetricDefinition[] = [
  COPIED_BYTES,
  COPIES_IN_PROGRESS,
  MIGRATIONS,
  DOWNTIME,
  SERVICE_DOWNTIME,
  DOWNTIME_OVER_BUDGET,
  ENDPOINT_UP,
];

/**
 * Metrics of the Temporal SDK's worker runtime used by deploy/observability, as the worker exports them
 * (src/telemetry: `_total` on counters, seconds for durations, `temporal_` prefix). test/telemetry checks
 * that a worker in the lab serves each of them.
 */
export const SDK_METRICS: readonly Pick<MetricDefinition, 'name' | 'type' | 'labels'>[] = [
  { name: 'temporal_num_pollers', type: 'gauge', labels: ['namespace', 'poller_type', 'task_queue'] },
  {
    name: 'temporal_activity_execution_failed_total',
    type: 'counter',
    labels: ['activity_type', 'namespace', 'task_queue', 'workflow_type'],
  },
  {
    name: 'temporal_activity_execution_latency_seconds',
    type: 'histogram',
    labels: ['activity_type', 'namespace', 'task_queue', 'workflow_type'],
  },
  {
    name: 'temporal_workflow_completed_total',
    type: 'counter',
    labels: ['namespace', 'task_queue', 'workflow_type'],
  },
];

/** Values of the `outcome` label of {@link MIGRATIONS}. */
export type MigrationOutcome = 'completed' | 'failed' | 'cancelled';

/** The `method`/`mode` label of a migration that failed before it had a plan. */
export const UNPLANNED = 'unplanned';
/** The `mode` label of a method without modes (vMotion). */
export const NO_MODE = 'none';
