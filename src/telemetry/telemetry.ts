/**
 * The worker's telemetry: the Temporal runtime's logger (text or JSON lines carrying the migration id, with
 * errors spelled out and task tokens and secrets left out) and its Prometheus endpoint, which serves the
 * SDK's metrics and quickmig's own (./metrics declares them all): bytes copied as they move (the copy
 * activity), copies in progress (this module's activity interceptor), migrations by outcome and their
 * downtime (./workflow-metrics). The exporter follows the Prometheus conventions for the SDK's metrics too:
 * `_total` on counters, seconds for durations.
 *
 * The runtime is process-wide and can be installed once, before the first connection.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptors, InjectedSinks, LogEntry, LogLevel } from '@temporalio/worker';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { packagePath } from '../package-root';
import {
  COPIED_BYTES,
  COPIES_IN_PROGRESS,
  DOWNTIME,
  DOWNTIME_BUCKETS_SECONDS,
  DOWNTIME_OVER_BUDGET,
  ENDPOINT_UP,
  MIGRATIONS,
  SERVICE_DOWNTIME,
} from './metrics';
import type { MigrationMetricsSinks } from './workflow-metrics';

/** The workflow interceptor module that records downtime (a file the bundler reads). */
export const WORKFLOW_METRICS_MODULE = packagePath('src', 'telemetry', 'workflow-metrics.ts');

/** Options of {@link installTelemetry}. */
export interface TelemetryOptions {
  /** `host:port` to serve Prometheus metrics on (`/metrics`). Default: no metrics endpoint. */
  metricsBindAddress?: string;
  /** `text` (the SDK's default lines) or `json` (one object per line). Default `text`. */
  logFormat?: 'text' | 'json';
  /** Lowest level logged. Default `INFO`. */
  logLevel?: LogLevel;
  /** Where log lines go. Default: stderr. */
  write?: (line: string) => void;
}

/** Keys never written to a log line: task tokens (they complete activities) and anything secret. */
const REDACTED_KEY = /token|password|secret|api_?key|authorization|cookie/i;

/** An error as a log line shows it: its type, message and cause chain, not `{}` and not its stack. */
function errorFields(error: Error): Record<string, unknown> {
  const typed = error as Error & { type?: unknown; cause?: unknown };
  return {
    name: error.name,
    ...(typeof typed.type === 'string' ? { type: typed.type } : {}),
    message: error.message,
    ...(typed.cause instanceof Error ? { cause: errorFields(typed.cause) } : {}),
  };
}

/**
 * One JSON log line: time, level, message, `migrationId` (the workflow id) and the SDK's metadata, with
 * errors as { name, type, message, cause } and task tokens and secret-looking keys dropped.
 */
export function jsonLogLine(entry: LogEntry): string {
  const meta = (entry.meta ?? {}) as Record<string, unknown>;
  const line = {
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level,
    message: entry.message,
    ...(typeof meta.workflowId === 'string' ? { migrationId: meta.workflowId } : {}),
    ...meta,
  };
  return JSON.stringify(line, (key, value) => {
    if (key !== '' && REDACTED_KEY.test(key)) return undefined;
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) return errorFields(value);
    return value;
  });
}

/**
 * Installs the Temporal runtime with the logger and the metrics endpoint. Throws when a runtime is
 * already installed (the SDK allows one per process, created by the first connection or worker).
 */
export function installTelemetry(options: TelemetryOptions): void {
  if (Runtime._instance) {
    throw new Error(
      'the Temporal runtime is already installed in this process; install telemetry before the first connection',
    );
  }
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const level = options.logLevel ?? 'INFO';
  const logger =
    options.logFormat === 'json'
      ? new DefaultLogger(level, (entry) => write(jsonLogLine(entry)))
      : new DefaultLogger(level);
  Runtime.install({
    logger,
    ...(options.metricsBindAddress
      ? {
          telemetryOptions: {
            metrics: {
              prometheus: {
                bindAddress: options.metricsBindAddress,
                // Prometheus conventions for every metric, the SDK's included: counters end in _total,
                // durations are seconds and histograms carry their unit (quickmig_downtime_seconds).
                countersTotalSuffix: true,
                useSecondsForDurations: true,
                unitSuffix: true,
                histogramBucketOverrides: {
                  [DOWNTIME.meterName]: [...DOWNTIME_BUCKETS_SECONDS],
                  [SERVICE_DOWNTIME.meterName]: [...DOWNTIME_BUCKETS_SECONDS],
                },
              },
            },
          },
        }
      : {}),
  });
}

/*
 * quickmig's metrics are recorded on the runtime's own meter with labels named here, not through an
 * activity's or a workflow's meter: those add the SDK's camelCase tags (taskQueue, workflowType), which
 * Prometheus convention (and the SDK's own series, task_queue) name in snake_case.
 */

/** Where a copy's bytes went (the copy activity's route). */
export interface CopiedBytesRoute {
  readonly sourceEndpoint: string;
  readonly targetEndpoint: string;
  readonly namespace: string;
  readonly taskQueue: string;
}

/** Counts the bytes a copy moves in {@link COPIED_BYTES}: the data movers' `bytesMoved`. */
export function countCopiedBytes(bytes: number, route: CopiedBytesRoute): void {
  Runtime.instance()
    .metricMeter.createCounter(COPIED_BYTES.meterName, COPIED_BYTES.unit, COPIED_BYTES.help)
    .add(bytes, {
      namespace: route.namespace,
      task_queue: route.taskQueue,
      source_endpoint: route.sourceEndpoint,
      target_endpoint: route.targetEndpoint,
    });
}

/** Sets {@link ENDPOINT_UP} for one endpoint of the worker's configuration. */
export function recordEndpointUp(endpoint: string, up: boolean): void {
  Runtime.instance()
    .metricMeter.createGauge(ENDPOINT_UP.meterName, 'int', ENDPOINT_UP.unit, ENDPOINT_UP.help)
    .set(up ? 1 : 0, { endpoint });
}

/** Copies running in this process, per namespace and task queue, behind {@link COPIES_IN_PROGRESS}. */
const copiesInProgress = new Map<string, number>();

/**
 * Activity interceptor: keeps {@link COPIES_IN_PROGRESS} at the number of `copyFiles` activities running in
 * this worker per task queue (the copy itself counts its bytes as they move).
 */
export function copiesInProgressInterceptor(ctx: Context): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        if (ctx.info.activityType !== 'copyFiles') return next(input);
        const labels = { namespace: ctx.info.namespace, task_queue: ctx.info.taskQueue };
        const key = `${labels.namespace}/${labels.task_queue}`;
        const gauge = Runtime.instance().metricMeter.createGauge(
          COPIES_IN_PROGRESS.meterName,
          'int',
          COPIES_IN_PROGRESS.unit,
          COPIES_IN_PROGRESS.help,
        );
        const change = (by: number) => {
          const running = (copiesInProgress.get(key) ?? 0) + by;
          copiesInProgress.set(key, running);
          gauge.set(running, labels);
        };
        change(1);
        try {
          return await next(input);
        } finally {
          change(-1);
        }
      },
    },
  };
}

/**
 * The sink behind src/telemetry/workflow-metrics: records each finished migration in {@link MIGRATIONS},
 * {@link DOWNTIME} and {@link DOWNTIME_OVER_BUDGET}. Not called while a history replays (the SDK's default
 * for sinks), so a replayed migration never counts twice.
 */
export function migrationMetricsSinks(): InjectedSinks<MigrationMetricsSinks> {
  return {
    quickmigMetrics: {
      migrationFinished: {
        fn(info, event) {
          const meter = Runtime.instance().metricMeter;
          const labels = {
            namespace: info.namespace,
            task_queue: info.taskQueue,
            workflow_type: info.workflowType,
            method: event.method,
            mode: event.mode,
          };
          meter
            .createCounter(MIGRATIONS.meterName, MIGRATIONS.unit, MIGRATIONS.help)
            .add(1, { ...labels, outcome: event.outcome });
          if (event.downtimeSeconds !== null)
            meter
              .createHistogram(DOWNTIME.meterName, 'float', DOWNTIME.unit, DOWNTIME.help)
              .record(event.downtimeSeconds, labels);
          if (event.serviceDowntimeSeconds !== null)
            meter
              .createHistogram(
                SERVICE_DOWNTIME.meterName,
                'float',
                SERVICE_DOWNTIME.unit,
                SERVICE_DOWNTIME.help,
              )
              .record(event.serviceDowntimeSeconds, labels);
          if (event.overBudget)
            meter
              .createCounter(
                DOWNTIME_OVER_BUDGET.meterName,
                DOWNTIME_OVER_BUDGET.unit,
                DOWNTIME_OVER_BUDGET.help,
              )
              .add(1, labels);
        },
      },
    },
  };
}
