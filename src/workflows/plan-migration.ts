/**
 * The `planMigration` workflow: a dry run. It gathers the facts through the worker (which alone holds
 * the credentials) and returns the plan with its reasons and findings; nothing is changed.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createPreflightActivities } from '../activities/preflight';
import type { MigrationPlan } from '../planner/plan';
import type { MigrationRequestInput } from '../request/request';
import { NON_RETRYABLE } from './quick-migration';

const { planOnly } = proxyActivities<ReturnType<typeof createPreflightActivities>>({
  startToCloseTimeout: '5m',
  retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Plans a migration without changing anything; blocking findings are in the plan, not an error. */
export async function planMigration(request: MigrationRequestInput): Promise<MigrationPlan> {
  return planOnly(request);
}
