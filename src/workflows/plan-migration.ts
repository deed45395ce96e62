/**
 * The `planMigration` workflow: a dry run. It gathers the facts through the worker (which alone holds
 * the credentials) and returns the plan with its reasons and findings; nothing is changed.
 */
import type { MigrationPlan } from '../planner/plan';
import type { MigrationRequestInput } from '../request/request';
import { planningActivities } from './activity-options';

/** Plans a migration without changing anything; blocking findings are in the plan, not an error. */
export async function planMigration(request: MigrationRequestInput): Promise<MigrationPlan> {
  return planningActivities().planOnly(request);
}
