/**
 * The worker's telemetry: the Temporal runtime's logger (text or JSON lines carrying the migration id)
 * and its Prometheus endpoint, which serves the SDK's metrics and quickmig's own:
 *
 * - `quickmig_bytes_transferred` (counter, bytes): bytes uploaded by completed `copyFiles` activities;
 * - `quickmig_downtime_ms`, `quickmig_service_downtime_ms` (histograms, ms) and `quickmig_migrations`
 *   (counter): see ./workflow-metrics.
 *
 * The runtime is process-wide and can be installed once, before the first connection.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptors, LogEntry, LogLevel } from '@temporalio/worker';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { packagePath } from '../package-root';

/** Counter of bytes uploaded by the data movers. */
export const BYTES_METRIC = 'quickmig_bytes_transferred';

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

/** One JSON log line: time, level, message, `migrationId` (the workflow id) and the SDK's metadata. */
export function jsonLogLine(entry: LogEntry): string {
  const meta = (entry.meta ?? {}) as Record<string, unknown>;
  const line = {
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level,
    message: entry.message,
    ...(typeof meta.workflowId === 'string' ? { migrationId: meta.workflowId } : {}),
    ...meta,
  };
  return JSON.stringify(line, (_key, value) => (typeof value === 'bigint' ? value.toString() : value));
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
                histogramBucketOverrides: {
                  quickmig_downtime_ms: [
                    50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000,
                  ],
                  quickmig_service_downtime_ms: [
                    500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000,
                  ],
                },
              },
            },
          },
        }
      : {}),
  });
}

/** Activity interceptor: adds each completed copy's uploaded bytes to {@link BYTES_METRIC}. */
export function bytesTransferredInterceptor(ctx: Context): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const result = await next(input);
        if (ctx.info.activityType === 'copyFiles') {
          const bytes = (result as { bytesCopied?: unknown } | undefined)?.bytesCopied;
          if (typeof bytes === 'number' && bytes > 0) {
            ctx.metricMeter
              .createCounter(BYTES_METRIC, 'bytes', 'Bytes uploaded by the data movers')
              .add(bytes, {
                source_endpoint: endpointOf(input.args, 'sourceEndpoint'),
                target_endpoint: endpointOf(input.args, 'targetEndpoint'),
              });
          }
        }
        return result;
      },
    },
  };
}

function endpointOf(args: unknown[], key: 'sourceEndpoint' | 'targetEndpoint'): string {
  const value = (args[0] as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'string' ? value : '';
}
