/**
 * The switchover's part of a plan: the downtime projection of every mode the rules allow, the choice
 * `mode: fastest` makes from it, and the findings about how the source will be stopped and what the
 * target VM gets (Tools for a guest shutdown, options that do not apply). Pure, like the rest of the planner.
 */
import type { MigrationRequest } from '../request/request';
import { cpuCompatibility } from './compat';
import type { Context } from './context';
import type { DowntimeInput, DowntimeProjection, ModeProjection } from './downtime';
import { copyRate, datastoreKind, datastoreRate, fastestMode, projectModes } from './downtime';
import type { MigrationFacts } from './facts';

/** layoutEx types of the disk data the bulk copy moves before the switchover (or never, for swap). */
const NOT_AT_SWITCHOVER = new Set(['diskDescriptor', 'diskExtent', 'swap', 'uwswap', 'snapshotData']);

/** A finding as the plan records it. */
export interface SwitchoverFinding {
  severity: 'error' | 'warning';
  code: string;
  field?: string;
  message: string;
}

/** What planning the switchover decided. */
export interface SwitchoverPlan {
  /** The projection per eligible mode; null for a VM that is not running (nothing stops). */
  projection: DowntimeProjection | null;
  /** The mode to use: the rules' choice, or with `mode: fastest` the eligible mode projected faster. */
  mode: 'smartswitch' | 'cold';
  /** Why, when `mode: fastest` decided; null otherwise. */
  fastestDecision: string | null;
  findings: SwitchoverFinding[];
}

/** The projection's input from the facts: sizes, and rates measured or by datastore kind. */
export function downtimeInput(request: MigrationRequest, facts: MigrationFacts): DowntimeInput {
  const { vm } = facts;
  const sw = facts.switchover;
  const ir = facts.instantRecovery;
  const sourceKind = datastoreKind(sw?.sourceHomeType ?? 'VMFS', ir?.datastore === vm.configDatastore);
  const targetType = facts.targetDatastores.find((d) => d.name === request.target.datastore)?.type ?? 'VMFS';
  const targetKind = datastoreKind(targetType, false);
  const switchoverBytes = vm.files
    .filter((f) => !NOT_AT_SWITCHOVER.has(f.type))
    .reduce((sum, f) => sum + f.size, 0);
  return {
    memoryBytes: vm.memoryMiB * 2 ** 20,
    switchoverBytes,
    switchoverBytesSource:
      'of configuration, nvram and logs (plus what the guest writes during the bulk copy, unknown before it)',
    sourceHomeWrite: datastoreRate(vm.configDatastore, sourceKind, 'write'),
    targetHomeRead: datastoreRate(request.target.datastore, targetKind, 'read'),
    copy: copyRate(
      sw?.measuredCopy,
      { name: vm.configDatastore, kind: sourceKind },
      { name: request.target.datastore, kind: targetKind },
      { readBack: request.options.verify === 'sha256' },
    ),
    coldStop: request.options.shutdown.mode,
  };
}

/**
 * Plans the switchover of a Quick Migration whose rules chose `ruleMode`; `smartSwitchAllowed` says
 * whether the rules would allow SmartSwitch (compatible CPUs and memory within the limit).
 */
export function planSwitchover(
  request: MigrationRequest,
  facts: MigrationFacts,
  ruleMode: 'smartswitch' | 'cold',
  smartSwitchAllowed: boolean,
): SwitchoverPlan {
  const { vm } = facts;
  const { options } = request;
  const findings: SwitchoverFinding[] = [];
  if (vm.powerState !== 'poweredOn') {
    return { projection: null, mode: ruleMode, fastestDecision: null, findings };
  }
  const eligible: ('smartswitch' | 'cold')[] =
    options.mode === 'fastest' ? (smartSwitchAllowed ? ['smartswitch', 'cold'] : ['cold']) : [ruleMode];
  // Every mode the rules allow is shown, so `plan` answers "what would the other one cost?".
  if (options.mode !== 'fastest' && smartSwitchAllowed && ruleMode === 'cold') eligible.push('smartswitch');
  if (options.mode !== 'fastest' && ruleMode === 'smartswitch') eligible.push('cold');
  const projection = projectModes(eligible, downtimeInput(request, facts));
  let mode = ruleMode;
  let fastestDecision: string | null = null;
  if (options.mode === 'fastest') {
    const best = fastestMode(projection) as ModeProjection;
    mode = best.mode;
    fastestDecision =
      projection.modes.length > 1
        ? `${best.mode}: projected service downtime ${seconds(best.serviceDowntimeMs)} against ${projection.modes
            .filter((m) => m !== best)
            .map((m) => `${seconds(m.serviceDowntimeMs)} for ${m.mode}`)
            .join(', ')}`
        : `${best.mode}: the only mode the rules allow (projected service downtime ${seconds(best.serviceDowntimeMs)})`;
  }

  const toolsRunning = facts.switchover?.toolsRunning ?? vm.guestHeartbeat;
  const toolsInstalled = facts.switchover?.toolsInstalled ?? toolsRunning;
  if (mode === 'cold' && options.shutdown.mode === 'guest' && !toolsRunning) {
    // Installed but not running: most often a guest still booting, whose Tools the shutdown waits for
    // (within options.shutdown.timeoutMs); not installed, a guest shutdown can never happen.
    findings.push({
      severity: toolsInstalled ? 'warning' : 'error',
      code: 'guest-tools-not-running',
      field: 'options.shutdown.mode',
      message: toolsInstalled
        ? `${vm.name}'s VMware Tools are installed but not running now (is the guest still booting?); the switchover's guest shutdown waits for them up to options.shutdown.timeoutMs (${options.shutdown.timeoutMs} ms), then follows options.shutdown.onTimeout; set options.shutdown.mode to power-off for a hard stop instead`
        : `${vm.name} has no VMware Tools, so Cold migration cannot shut its guest down; install VMware Tools in the guest, or set options.shutdown.mode to power-off (a hard stop: what the guest has not written to disk is lost)`,
    });
  }
  if (mode === 'smartswitch' && options.targetVm.upgradeHardware) {
    findings.push({
      severity: 'warning',
      code: 'upgrade-hardware-not-applicable',
      field: 'options.targetVm.upgradeHardware',
      message: `SmartSwitch resumes ${vm.name} from its suspend state, which vSphere cannot upgrade; the target keeps its hardware version (set options.mode to cold to upgrade it)`,
    });
  }
  return { projection, mode, fastestDecision, findings };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The switchover's part of the plan for the planner's context: records its findings and the R12 reason. */
export function planSwitchoverOf(ctx: Context, ruleMode: 'smartswitch' | 'cold'): SwitchoverPlan {
  const { vm, sourceHost, targetHost } = ctx.facts;
  const { options } = ctx.request;
  const smartSwitchAllowed =
    cpuCompatibility(vm.featureRequirement, sourceHost, targetHost).compatible &&
    vm.memoryMiB <= options.memoryThresholdMiB;
  const planned = planSwitchover(ctx.request, ctx.facts, ruleMode, smartSwitchAllowed);
  for (const f of planned.findings)
    (f.severity === 'error' ? ctx.error : ctx.warn)(f.code, f.message, f.field);
  if (planned.fastestDecision) {
    ctx.reason('R12-mode-fastest', planned.fastestDecision, {
      'options.mode': options.mode,
      ...Object.fromEntries(
        (planned.projection?.modes ?? []).map((m) => [`${m.mode}ServiceDowntimeMs`, m.serviceDowntimeMs]),
      ),
    });
  }
  return planned;
}
