/** The steps of a plan, in the order the workflow runs them. */
import type { Context } from './context';
import type { MigrationPlan, StepId } from './model';

/** The ordered steps for the workflow. */
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
    steps.push('copy-config', 'register-target', 'snapshot', 'bulk-copy');
    if (maxDowntimeMs !== undefined || window) steps.push('precopy');
    if (window) steps.push('await-window');
    if (manual) steps.push('await-switchover');
    steps.push(
      smart ? 'suspend' : 'stop',
      'delta-copy',
      smart ? 'resume' : 'start',
      'consolidate',
      'finalize-source',
    );
  } else {
    // The disks do not change: one copy, no snapshot of our own; existing snapshots still get consolidated.
    steps.push('copy-config', 'register-target', 'bulk-copy');
    if (vm.snapshotCount > 0) steps.push('consolidate');
    steps.push('finalize-source');
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
