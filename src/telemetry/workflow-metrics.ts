/**
 * Workflow interceptor module (runs inside the workflow sandbox, bundled by the worker): records each
 * finished migration's downtime and outcome through the workflow metric meter, so they reach the same
 * Prometheus endpoint as the SDK's own metrics. The SDK drops metrics while replaying, so a replayed
 * history never counts twice.
 */
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { metricMeter, workflowInfo } from '@temporalio/workflow';
import { WORKFLOW_TYPES } from '../request/contract';

/** Histogram of switchover downtime (source stopped → target running), in milliseconds. */
export const DOWNTIME_METRIC = 'quickmig_downtime_ms';
/** Histogram of service downtime (source guest's last heartbeat → target guest's heartbeat green), in milliseconds. */
export const SERVICE_DOWNTIME_METRIC = 'quickmig_service_downtime_ms';
/** Counter of finished migrations, tagged with outcome (completed, failed, cancelled), method and mode. */
export const MIGRATIONS_METRIC = 'quickmig_migrations';

interface ResultShape {
  method?: string;
  mode?: string | null;
  downtimeMs?: number | null;
  serviceDowntimeMs?: number | null;
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        if (workflowInfo().workflowType !== WORKFLOW_TYPES.quickMigration) return next(input);
        const migrations = metricMeter.createCounter(MIGRATIONS_METRIC, 'migrations', 'Finished migrations');
        try {
          const result = (await next(input)) as ResultShape;
          const tags = { outcome: 'completed', method: result.method ?? '', mode: result.mode ?? 'none' };
          migrations.add(1, tags);
          if (typeof result.downtimeMs === 'number') {
            metricMeter
              .createHistogram(DOWNTIME_METRIC, 'int', 'ms', 'Switchover downtime of a migration')
              .record(result.downtimeMs, { method: tags.method, mode: tags.mode });
          }
          if (typeof result.serviceDowntimeMs === 'number') {
            metricMeter
              .createHistogram(
                SERVICE_DOWNTIME_METRIC,
                'int',
                'ms',
                'Service downtime of a migration (heartbeat to heartbeat)',
              )
              .record(result.serviceDowntimeMs, { method: tags.method, mode: tags.mode });
          }
          return result;
        } catch (error) {
          const cancelled = (error as Error | undefined)?.name === 'CancelledFailure';
          migrations.add(1, { outcome: cancelled ? 'cancelled' : 'failed', method: '', mode: 'none' });
          throw error;
        }
      },
    },
  ],
});
