/**
 * Workflow interceptor module (runs inside the workflow sandbox, bundled by the worker): for every
 * migration, reports its outcome and downtime to the worker's metrics through a sink (src/telemetry
 * migrationMetricsSinks, the same Prometheus endpoint as the SDK's own metrics) and writes the business
 * events that bracket it as structured log lines (migration started, completed, failed, cancelled), each
 * carrying the migration id through the SDK's workflow logger. Neither sinks nor the logger run while a
 * history replays, so a replayed migration never counts or logs twice. Phase changes and the switchover
 * are logged by the workflow itself.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Sinks, WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { log, proxySinks, workflowInfo } from '@temporalio/workflow';
import { SEARCH_ATTRIBUTES, WORKFLOW_TYPES } from '../request/contract';
import type { MigrationOutcome } from './metrics';
import { NO_MODE, UNPLANNED } from './metrics';

/** The planned method and mode, as the migration upserts them (request/contract SEARCH_ATTRIBUTES). */
const METHOD_ATTRIBUTE = defineSearchAttributeKey(SEARCH_ATTRIBUTES.method.name, SearchAttributeType.KEYWORD);
const MODE_ATTRIBUTE = defineSearchAttributeKey(SEARCH_ATTRIBUTES.mode.name, SearchAttributeType.KEYWORD);

/** A finished migration, as the workflow reports it to the worker's metrics (src/telemetry). */
export interface MigrationFinished {
  outcome: MigrationOutcome;
  /** The planned method; `unplanned` when it failed before its plan. */
  method: string;
  /** The planned mode; `none` for a method without modes, `unplanned` before the plan. */
  mode: string;
  /** Source stopped to target running, in seconds; null without a switchover (or on failure). */
  downtimeSeconds: number | null;
  /** The measured downtime exceeded the budget the request set. */
  overBudget: boolean;
}

/** The sink the worker injects (src/telemetry migrationMetricsSinks). */
export interface MigrationMetricsSinks extends Sinks {
  quickmigMetrics: { migrationFinished(event: MigrationFinished): void };
}

const { quickmigMetrics } = proxySinks<MigrationMetricsSinks>();

interface ResultShape {
  method?: string;
  mode?: string | null;
  downtimeMs?: number | null;
  bytesCopied?: number;
  precopy?: { budgetMs?: number | null; budgetMet?: boolean | null } | null;
}

interface FailureShape {
  name?: string;
  message?: string;
  type?: string;
  details?: unknown[];
  cause?: FailureShape;
}

/** Method and mode as the migration upserted them once planned; `unplanned` before that. */
function plannedLabels(): { method: string; mode: string } {
  const attributes = workflowInfo().typedSearchAttributes;
  const method = attributes.get(METHOD_ATTRIBUTE);
  if (!method) return { method: UNPLANNED, mode: UNPLANNED };
  return { method, mode: attributes.get(MODE_ATTRIBUTE) ?? NO_MODE };
}

/** The source VM a request names, as `endpoint/name` (what operators search for), when it names one. */
function vmOf(args: readonly unknown[]): string | undefined {
  const source = (args[0] as { source?: Record<string, unknown> } | undefined)?.source;
  if (!source || typeof source.endpoint !== 'string') return undefined;
  const id = source.name ?? source.moref ?? source.inventoryPath ?? source.instanceUuid;
  return typeof id === 'string' ? `${source.endpoint}/${id}` : undefined;
}

/** What a failure says, without stack traces or payloads: its type, message and the step it failed at. */
function describeFailure(error: unknown): Record<string, unknown> {
  const failure = (error ?? {}) as FailureShape;
  const details = (failure.details?.[0] ?? {}) as { step?: unknown; undone?: unknown };
  return {
    errorType: failure.type ?? failure.name ?? 'Error',
    errorMessage: failure.message ?? String(error),
    ...(typeof details.step === 'string' ? { failedStep: details.step } : {}),
    ...(Array.isArray(details.undone) ? { undone: details.undone } : {}),
  };
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [
    {
      async execute(input, next) {
        if (workflowInfo().workflowType !== WORKFLOW_TYPES.quickMigration) return next(input);
        const vm = vmOf(input.args);
        log.info(`migration started${vm ? ` for ${vm}` : ''}`, {
          event: 'migration-started',
          ...(vm ? { vm } : {}),
        });
        try {
          const result = (await next(input)) as ResultShape;
          const labels = { method: result.method ?? UNPLANNED, mode: result.mode ?? NO_MODE };
          quickmigMetrics.migrationFinished({
            outcome: 'completed',
            ...labels,
            downtimeSeconds: typeof result.downtimeMs === 'number' ? result.downtimeMs / 1000 : null,
            overBudget: result.precopy?.budgetMet === false,
          });
          log.info(
            `migration completed: ${labels.method}${labels.mode === NO_MODE ? '' : ` (${labels.mode})`}${
              typeof result.downtimeMs === 'number' ? `, downtime ${result.downtimeMs} ms` : ''
            }`,
            {
              event: 'migration-completed',
              ...labels,
              downtimeMs: result.downtimeMs ?? null,
              bytesCopied: result.bytesCopied ?? 0,
              ...(result.precopy?.budgetMs != null
                ? { downtimeBudgetMs: result.precopy.budgetMs, budgetMet: result.precopy.budgetMet ?? null }
                : {}),
            },
          );
          return result;
        } catch (error) {
          const cancelled = (error as Error | undefined)?.name === 'CancelledFailure';
          const labels = plannedLabels();
          quickmigMetrics.migrationFinished({
            outcome: cancelled ? 'cancelled' : 'failed',
            ...labels,
            downtimeSeconds: null,
            overBudget: false,
          });
          const failure = describeFailure(error);
          if (cancelled)
            log.info('migration cancelled', { event: 'migration-cancelled', ...labels, ...failure });
          else
            log.error(`migration failed: ${failure.errorMessage}`, {
              event: 'migration-failed',
              ...labels,
              ...failure,
            });
          throw error;
        }
      },
    },
  ],
});
