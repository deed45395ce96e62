/**
 * The steps of a plan, in the order the workflow runs them and by the names its progress query shows
 * (src/workflows/quick-migration): the plan a user reads is the migration they get.
 */
import type { Context } from './context';
import type { MigrationPlan, StepId } from './model';

/** The ordered steps for the workflow; see StepId for what each does. */
export function buildSteps(
  ctx: Context,
  quick: boolean,
  mode: MigrationPlan['mode'],
  finalizeIr: boolean,
): StepId[] {
  const { vm } = ctx.facts;
  const manual = ctx.request.options.switchover === 'manual';
  const steps: StepId[] = ['preflight'];
  const { window, maxDowntimeMs } = ctx.request.options;
  if (!quick) {
    if (window) steps.push('await-window');
    if (manual) steps.push('await-switchover');
    steps.push('relocate');
  } else if (vm.powerState === 'poweredOn') {
    const smart = mode === 'smartswitch';
    steps.push('make-folders', 'snapshot', 'bulk-copy');
    if (maxDowntimeMs !== undefined || window) steps.push('precopy');
    if (window) steps.push('await-window');
    if (manual) steps.push('await-switchover');
    steps.push(
      smart ? 'suspend' : 'stop',
      'delta-copy',
      'register-target',
      smart ? 'resume' : 'start',
      'consolidate',
      'finalize-source',
    );
  } else {
    // The disks do not change: one copy of every file, no snapshot of our own. The target is consolidated
    // all the same (a no-op without snapshots; the source's own snapshots arrive as a chain).
    steps.push('make-folders', 'bulk-copy', 'register-target', 'consolidate', 'finalize-source');
    if (manual) {
      ctx.warn(
        'switchover-not-applicable',
        `${vm.name} is ${vm.powerState}: there is no switchover to approve`,
        'options.switchover',
      );
    }
  }
  if (finalizeIr) steps.push('finalize-ir');
  return steps;
}
