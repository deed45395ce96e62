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
    // The disks do not change: no switchover. A snapshot of our own still pays where change tracking can
    // then give the disks' allocated areas (a thin disk moves only its data and lands thin, and
    // options.diskType is honoured); otherwise one copy of every file. The target is consolidated all
    // the same (a no-op without snapshots; the source's own snapshots arrive as a chain).
    if (snapshotAtRest(ctx)) steps.push('make-folders', 'snapshot', 'bulk-copy', 'delta-copy');
    else steps.push('make-folders', 'bulk-copy');
    steps.push('register-target', 'consolidate', 'finalize-source');
    if (manual) {
      ctx.warn(
        'switchover-not-applicable',
        `${vm.name} is ${vm.powerState}: there is no switchover to approve`,
        'options.switchover',
      );
    }
  }
  // The commit window sits between the target's consolidation and what finalize does to the source.
  if (quick && (ctx.request.options.commit?.afterMs ?? 0) > 0)
    steps.splice(steps.indexOf('finalize-source'), 0, 'commit-window');
  if (finalizeIr) steps.push('finalize-ir');
  return steps;
}

/**
 * True when a VM that is not running is still worth a snapshot of our own: it is powered off (a suspended
 * VM's state belongs to its current disks), has no snapshots (vSphere switches change tracking on only
 * then), no independent disk (those cannot be snapshotted), and a disk that is thin (by its backing, or
 * its allocated bytes under its capacity) or whose provisioning options.diskType changes. Otherwise every file is copied whole.
 */
export function snapshotAtRest(ctx: Context): boolean {
  const { vm } = ctx.facts;
  if (vm.powerState !== 'poweredOff' || vm.snapshotCount > 0 || vm.disks.length === 0) return false;
  if (vm.disks.some((d) => d.diskMode.startsWith('independent') || d.rdm !== undefined)) return false;
  return (
    ctx.request.options.diskType !== 'same' ||
    vm.disks.some((d) => d.thin === true || d.committedBytes < d.capacityBytes)
  );
}
