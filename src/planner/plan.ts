import type { MigrationRequest } from '../request/request';
import type { DowntimeProjection } from './downtime';
import type { HostFacts, MigrationFacts } from './facts';
import { planSwitchover } from './switchover';

/** What a vMotion relocates (for Quick Migration it only describes what changes). */
export type Relocation = 'host' | 'datastore' | 'host+datastore';

/** The steps a workflow runs, in order. */
export type StepId =
  | 'preflight'
  | 'copy-config'
  | 'register-target'
  | 'snapshot'
  | 'bulk-copy'
  | 'precopy'
  | 'await-window'
  | 'await-switchover'
  | 'suspend'
  | 'stop'
  | 'delta-copy'
  | 'resume'
  | 'start'
  | 'consolidate'
  | 'finalize-source'
  | 'relocate'
  | 'finalize-ir';

/** The rules a plan cites; see ARCHITECTURE.md "Choosing the method". */
export type RuleId =
  | 'R1-vmotion-available'
  | 'R2-method-requested'
  | 'R3-smartswitch'
  | 'R4-cold-cpu-incompatible'
  | 'R5-cold-memory'
  | 'R6-mode-requested'
  | 'R7-powered-off'
  | 'R8-suspended'
  | 'R9-relocation'
  | 'R10-source-handling'
  | 'R11-instant-recovery'
  | 'R12-mode-fastest';

/** A fact value as a reason quotes it. */
export type FactValue = string | number | boolean | null | string[];

/** Why one decision was taken: the rule, the decision in words, and the facts it used. */
export interface Reason {
  rule: RuleId;
  decision: string;
  facts: Record<string, FactValue>;
}

/** A preflight problem. Any `error` blocks the migration; a `warning` is worth reading first. */
export interface Finding {
  severity: 'error' | 'warning';
  /** Stable identifier for scripts and tests, e.g. `datastore-space`. */
  code: string;
  /** Request JSON path when the fix is in the request, e.g. `target.datastore`. */
  field?: string;
  /** What is wrong, with the numbers, and the fix. */
  message: string;
}

/** Where one disk goes. */
export interface DiskPlacementPlan {
  key: number;
  label: string;
  from: string;
  to: string;
}

/** The outcome of planning: a dry run that changes nothing. */
export interface MigrationPlan {
  vm: string;
  /** The ESXi host the VM runs on now (a batch counts its per-host limit by it). */
  sourceHost: string;
  method: 'vmotion' | 'quick-migration';
  /** What changes; null when nothing does (then `nothing-to-do` blocks the plan). */
  relocation: Relocation | null;
  /** Quick Migration mode; null for vMotion. */
  mode: 'smartswitch' | 'cold' | null;
  /** Power state the VM ends in on the target. */
  targetPowerState: 'poweredOn' | 'poweredOff' | 'suspended';
  /** Final name on the target. */
  targetName: string;
  configDatastore: string;
  disks: DiskPlacementPlan[];
  steps: StepId[];
  reasons: Reason[];
  findings: Finding[];
  /** True when any finding is an error: the workflow must not start. */
  blocked: boolean;
  /**
   * Projected downtimes of each mode the rules allow, and how each was computed (src/planner/downtime.ts);
   * null for vMotion and for a VM that is not running. Absent in plans made before projections existed.
   */
  downtime?: DowntimeProjection | null;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const gib = (bytes: number): string => `${(bytes / GiB).toFixed(1)} GiB`;
const list = (items: readonly string[]): string => items.join(', ');

/** What every decision below reads, and where it records reasons and findings. */
interface Context {
  request: MigrationRequest;
  facts: MigrationFacts;
  sameEndpoint: boolean;
  reason(rule: RuleId, decision: string, used: Record<string, FactValue>): void;
  error(code: string, message: string, field?: string): void;
  warn(code: string, message: string, field?: string): void;
}

/** Where the VM's parts go and what that changes. */
interface Where {
  placements: Placement[];
  /** Disks that end up on another datastore (every disk when the endpoint changes). */
  changedDisks: Placement[];
  hostChanges: boolean;
  datastoreChanges: boolean;
  relocation: Relocation | null;
}

/**
 * Decides how to migrate one VM: method, relocation, mode, steps, the reason for each decision, and
 * the preflight findings. Pure: same request and facts, same plan.
 */
export function planMigration(request: MigrationRequest, facts: MigrationFacts): MigrationPlan {
  const reasons: Reason[] = [];
  const findings: Finding[] = [];
  const finding = (severity: Finding['severity'], code: string, message: string, field?: string): void => {
    findings.push({ severity, code, message, ...(field ? { field } : {}) });
  };
  const ctx: Context = {
    request,
    facts,
    sameEndpoint: request.source.endpoint === request.target.endpoint,
    reason: (rule, decision, used) => reasons.push({ rule, decision, facts: used }),
    error: (code, message, field) => finding('error', code, message, field),
    warn: (code, message, field) => finding('warning', code, message, field),
  };

  const where = decideRelocation(ctx);
  const method = decideMethod(ctx, where);
  const quick = method === 'quick-migration';
  const ruleMode = quick ? decideMode(ctx) : ignoreMode(ctx);
  const switchover = ruleMode === null ? null : planSwitchoverOf(ctx, ruleMode);
  const mode = switchover?.mode ?? ruleMode;
  checkHostsAndVm(ctx);
  checkDisks(ctx, quick);
  checkDatastores(ctx, where, quick);
  const targetName = checkNames(ctx, quick);
  checkLeftovers(ctx, where, quick);
  decideSource(ctx, quick);
  checkWarmOptions(ctx, quick);
  const finalizeIr = decideInstantRecovery(ctx, where);

  return {
    vm: facts.vm.name,
    sourceHost: facts.vm.host,
    method,
    relocation: where.relocation,
    mode,
    targetPowerState: facts.vm.powerState,
    targetName,
    configDatastore: request.target.datastore,
    disks: where.placements.map(({ key, label, from, to }) => ({ key, label, from, to })),
    steps: buildSteps(ctx, quick, mode, finalizeIr),
    reasons,
    findings,
    blocked: findings.some((f) => f.severity === 'error'),
    downtime: switchover?.projection ?? null,
  };
}

/** The switchover's projection, findings and the `mode: fastest` choice (src/planner/switchover.ts). */
function planSwitchoverOf(ctx: Context, ruleMode: 'smartswitch' | 'cold') {
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

/** R9: what changes: host, datastore(s), both, or nothing (which blocks). */
function decideRelocation(ctx: Context): Where {
  const { request, facts, sameEndpoint } = ctx;
  const { vm, targetHost } = facts;
  const placements = placeDisks(ctx);
  // Datastore names are per endpoint: across endpoints every disk moves, even to a same-named one.
  const changedDisks = placements.filter((p) => !sameEndpoint || p.to !== p.from);
  const hostChanges = !sameEndpoint || targetHost.name !== vm.host;
  const datastoreChanges =
    !sameEndpoint || request.target.datastore !== vm.configDatastore || changedDisks.length > 0;
  let relocation: Relocation | null = null;
  if (hostChanges) relocation = datastoreChanges ? 'host+datastore' : 'host';
  else if (datastoreChanges) relocation = 'datastore';

  ctx.reason('R9-relocation', relocation ? `relocate ${relocation}` : 'nothing changes', {
    sourceHost: vm.host,
    targetHost: targetHost.name,
    targetCluster: facts.targetCluster?.name ?? null,
    sourceDatastores: vm.datastores,
    targetDatastore: request.target.datastore,
    disksMoving: changedDisks.map((p) => p.label),
    sameEndpoint,
  });
  if (!relocation) {
    ctx.error(
      'nothing-to-do',
      `${vm.name} already runs on host ${vm.host} with its files on ${list(vm.datastores)}: nothing to migrate; change target.host or target.datastore`,
      'target',
    );
  }
  return { placements, changedDisks, hostChanges, datastoreChanges, relocation };
}

/** R1/R2: vMotion when vSphere can do it and the request allows it, else Quick Migration. */
function decideMethod(ctx: Context, where: Where): MigrationPlan['method'] {
  const { options } = ctx.request;
  const vmotion = vmotionAvailability(ctx.facts, where.hostChanges, where.datastoreChanges);
  if (options.method === 'quick-migration') {
    ctx.reason('R2-method-requested', 'Quick Migration, forced by options.method', {
      'options.method': options.method,
      vmotionPossible: vmotion.possible,
    });
    return 'quick-migration';
  }
  if (options.method === 'vmotion') {
    ctx.reason('R2-method-requested', 'vMotion, required by options.method', {
      'options.method': options.method,
      ...vmotion.facts,
    });
    if (!vmotion.possible) {
      ctx.error(
        'vmotion-impossible',
        `vMotion is impossible: ${list(vmotion.missing)}; set options.method to auto or quick-migration`,
        'options.method',
      );
    }
    return 'vmotion';
  }
  if (!vmotion.possible) {
    ctx.reason('R1-vmotion-available', `Quick Migration, because ${list(vmotion.missing)}`, vmotion.facts);
    return 'quick-migration';
  }
  const kind = {
    host: 'vMotion',
    datastore: 'Storage vMotion',
    'host+datastore': 'vMotion + Storage vMotion',
  };
  ctx.reason(
    'R1-vmotion-available',
    `${kind[where.relocation ?? 'host']}: same vCenter, capable hosts, licensed`,
    vmotion.facts,
  );
  return 'vmotion';
}

/** vMotion has no modes: a requested one is a contradiction (method vmotion) or is ignored (auto). */
function ignoreMode(ctx: Context): null {
  const { options } = ctx.request;
  if (options.mode === 'auto') return null;
  const fix = "remove it or set options.method to 'quick-migration'";
  if (options.method === 'vmotion') {
    ctx.error(
      'mode-not-applicable',
      `options.mode '${options.mode}' applies to Quick Migration only; ${fix}`,
      'options.mode',
    );
  } else {
    ctx.warn(
      'mode-not-applicable',
      `options.mode '${options.mode}' is ignored because vMotion is used; to use it, ${fix}`,
      'options.mode',
    );
  }
  return null;
}

/** R3–R8: SmartSwitch or cold; a VM that is not running is copied cold and keeps its power state. */
function decideMode(ctx: Context): 'smartswitch' | 'cold' {
  const { vm, sourceHost, targetHost } = ctx.facts;
  const { options } = ctx.request;
  const cpu = cpuCompatibility(vm.featureRequirement, sourceHost, targetHost);
  const cpuFacts = {
    sourceCpuVendor: sourceHost.cpuVendor,
    targetCpuVendor: targetHost.cpuVendor,
    featureRequirement: vm.featureRequirement,
    missingFeatures: cpu.missing,
  };
  const memoryFacts = { memoryMiB: vm.memoryMiB, memoryThresholdMiB: options.memoryThresholdMiB };
  const overMemory = vm.memoryMiB > options.memoryThresholdMiB;

  if (vm.powerState !== 'poweredOn') {
    if (vm.powerState === 'poweredOff') {
      ctx.reason('R7-powered-off', `copy cold; ${vm.name} stays powered off`, { powerState: vm.powerState });
    } else {
      ctx.reason('R8-suspended', `copy cold with the suspend state; ${vm.name} stays suspended`, {
        powerState: vm.powerState,
      });
      // The suspend state embeds the CPU features; a host without them cannot resume it.
      if (!cpu.compatible) {
        ctx.error(
          'suspended-cpu-incompatible',
          `${vm.name} is suspended and the target host cannot resume it (${cpu.summary}); power it on or shut it down first, or choose a compatible target.host`,
        );
      }
    }
    if (options.mode === 'smartswitch') {
      ctx.warn(
        'mode-not-applicable',
        `options.mode 'smartswitch' needs a running VM; ${vm.name} is ${vm.powerState}, so it is copied cold`,
        'options.mode',
      );
    }
    return 'cold';
  }

  if (options.mode === 'smartswitch') {
    ctx.reason('R6-mode-requested', 'SmartSwitch, requested by options.mode', {
      'options.mode': options.mode,
      ...cpuFacts,
      ...memoryFacts,
    });
    if (!cpu.compatible) {
      ctx.error(
        'smartswitch-cpu-incompatible',
        `SmartSwitch cannot resume ${vm.name} on ${targetHost.name}: ${cpu.summary}; set options.mode to auto or cold`,
        'options.mode',
      );
    }
    // The limit is a downtime policy, not a hard limit: forcing past it is allowed.
    if (overMemory) {
      ctx.warn(
        'smartswitch-large-memory',
        `${vm.name} has ${vm.memoryMiB} MiB of memory, above the ${options.memoryThresholdMiB} MiB SmartSwitch limit; the suspend state makes the switchover longer — consider options.mode cold`,
        'options.mode',
      );
    }
    return 'smartswitch';
  }
  if (options.mode === 'cold') {
    ctx.reason('R6-mode-requested', 'cold migration, requested by options.mode', {
      'options.mode': options.mode,
    });
    return 'cold';
  }
  if (!cpu.compatible) {
    ctx.reason('R4-cold-cpu-incompatible', `cold migration, because ${cpu.summary}`, cpuFacts);
  }
  if (overMemory) {
    ctx.reason(
      'R5-cold-memory',
      `cold migration, because ${vm.memoryMiB} MiB > ${options.memoryThresholdMiB} MiB`,
      memoryFacts,
    );
  }
  if (!cpu.compatible || overMemory) return 'cold';
  ctx.reason('R3-smartswitch', 'SmartSwitch: CPUs compatible and memory within the limit', {
    ...cpuFacts,
    ...memoryFacts,
  });
  return 'smartswitch';
}

/** The VM and both hosts must be connected, and the target host usable. */
function checkHostsAndVm(ctx: Context): void {
  const { vm, sourceHost, targetHost } = ctx.facts;
  if (vm.connectionState !== 'connected') {
    ctx.error('vm-not-connected', `${vm.name} is ${vm.connectionState}; fix it in vSphere first`, 'source');
  }
  for (const [role, host] of [
    ['source', sourceHost],
    ['target', targetHost],
  ] as const) {
    if (host.connectionState !== 'connected') {
      ctx.error(
        'host-disconnected',
        `${role} host ${host.name} is ${host.connectionState}; reconnect it or choose another host`,
        role === 'target' ? 'target.host' : undefined,
      );
    }
  }
  if (targetHost.inMaintenanceMode) {
    ctx.error(
      'host-maintenance',
      `target host ${targetHost.name} is in maintenance mode; exit it or choose another target.host`,
      'target.host',
    );
  }
}

/** Existence, accessibility, mount and free space of every target datastore the plan writes to. */
function checkDatastores(ctx: Context, where: Where, quick: boolean): void {
  const { request, facts, sameEndpoint } = ctx;
  const { vm } = facts;
  const { target, options } = request;
  const needs = new Map<string, { bytes: number; field: string }>();
  const add = (name: string, bytes: number, field: string): void => {
    const entry = needs.get(name) ?? { bytes: 0, field };
    entry.bytes += bytes;
    needs.set(name, entry);
  };

  const configMoves = quick || !sameEndpoint || target.datastore !== vm.configDatastore;
  let configBytes = 0;
  if (configMoves) {
    const notConfig = new Set(['diskDescriptor', 'diskExtent', 'swap', 'uwswap']);
    configBytes = vm.files.filter((f) => !notConfig.has(f.type)).reduce((sum, f) => sum + f.size, 0);
    // A running VM needs a swap file the size of its memory where its configuration lives.
    if (vm.powerState === 'poweredOn') configBytes += vm.memoryMiB * MiB;
  }
  add(target.datastore, configBytes, 'target.datastore');
  // vMotion leaves a disk that stays on its datastore alone; Quick Migration copies every disk.
  for (const p of quick ? where.placements : where.changedDisks) {
    const disk = vm.disks.find((d) => d.key === p.key);
    if (disk) add(p.to, options.diskType === 'thick' ? disk.capacityBytes : disk.committedBytes, p.field);
  }

  for (const [name, need] of needs) {
    const ds = facts.targetDatastores.find((d) => d.name === name);
    if (!ds) {
      const known = list(facts.targetDatastores.map((d) => d.name));
      ctx.error(
        'datastore-not-found',
        `datastore '${name}' does not exist on ${target.endpoint}; choose one of ${known}`,
        need.field,
      );
      continue;
    }
    if (!ds.accessible) {
      ctx.error(
        'datastore-inaccessible',
        `datastore '${name}' is not accessible; fix its storage or choose another datastore`,
        need.field,
      );
    }
    if (!ds.mountedOnTargetHost) {
      ctx.error(
        'datastore-not-mounted',
        `datastore '${name}' is not mounted on target host ${facts.targetHost.name}; choose a datastore that host sees`,
        need.field,
      );
    }
    if (need.bytes > ds.freeBytes) {
      ctx.error(
        'datastore-space',
        `datastore '${name}' needs ${gib(need.bytes)} but has ${gib(ds.freeBytes)} free; free space or choose another datastore`,
        need.field,
      );
    }
  }
}

/** The final name on the target: Quick Migration may rename and must not collide; vMotion keeps it. */
function checkNames(ctx: Context, quick: boolean): string {
  const { vm, targetVmNames } = ctx.facts;
  const wanted = ctx.request.target.name;
  if (!quick) {
    if (wanted !== undefined && wanted !== vm.name) {
      ctx.warn(
        'rename-ignored',
        `vMotion keeps the name ${vm.name}; target.name '${wanted}' is ignored — force quick-migration to rename`,
        'target.name',
      );
    }
    return vm.name;
  }
  const name = wanted ?? vm.name;
  if (targetVmNames.includes(name)) {
    ctx.error(
      'name-collision',
      `a VM named '${name}' already exists on the target; set target.name to a free name`,
      'target.name',
    );
  }
  return name;
}

/** Snapshots and consolidation state worth knowing before anything moves. */
function checkLeftovers(ctx: Context, where: Where, quick: boolean): void {
  const { vm } = ctx.facts;
  const { options } = ctx.request;
  if (vm.consolidationNeeded) {
    ctx.warn(
      'consolidation-needed',
      `${vm.name} needs disk consolidation; consolidate it in vSphere before migrating`,
    );
  }
  if (quick && vm.snapshotCount > 0) {
    ctx.warn(
      'existing-snapshots',
      `${vm.name} has ${vm.snapshotCount} snapshot(s); Quick Migration consolidates them, so the target VM has none`,
    );
  }
  if (!quick && options.diskType !== 'same' && where.changedDisks.length === 0) {
    ctx.warn(
      'disk-type-ignored',
      `options.diskType '${options.diskType}' needs a datastore change; no disk moves, so it is ignored`,
      'options.diskType',
    );
  }
}

/** R10: keep the source (renamed, off, unregistered) or delete it once the target proves healthy. */
function decideSource(ctx: Context, quick: boolean): void {
  const { vm } = ctx.facts;
  const { options } = ctx.request;
  if (!quick) {
    if (options.source === 'delete') {
      ctx.warn(
        'source-not-applicable',
        "vMotion moves the VM itself and leaves no source behind; options.source 'delete' has no effect",
        'options.source',
      );
    }
    return;
  }
  const keep = options.source === 'keep';
  ctx.reason(
    'R10-source-handling',
    keep
      ? `source kept as ${vm.name}_migrated, powered off and unregistered`
      : 'source files deleted once the target reports a guest heartbeat',
    { 'options.source': options.source, targetPowerState: vm.powerState, guestHeartbeat: vm.guestHeartbeat },
  );
  if (keep) return;
  // Deleting is only safe after a guest heartbeat from the target; without one it would never happen.
  if (vm.powerState !== 'poweredOn') {
    ctx.error(
      'delete-needs-heartbeat',
      `options.source 'delete' waits for a guest heartbeat, but ${vm.name} stays ${vm.powerState}; use 'keep'`,
      'options.source',
    );
  } else if (!vm.guestHeartbeat) {
    ctx.error(
      'delete-needs-heartbeat',
      `options.source 'delete' waits for a guest heartbeat, but ${vm.name} reports none (VMware Tools not running); use 'keep'`,
      'options.source',
    );
  }
}

/** R11: whether the VM runs from instant-recovery storage, and whether to unmount it afterwards. */
function decideInstantRecovery(ctx: Context, where: Where): boolean {
  const { vm, instantRecovery: ir } = ctx.facts;
  const { options, target } = ctx.request;
  if (!ir || !(ir.flagged || ir.looksLikeVPowerNfs)) {
    if (options.finalizeInstantRecovery) {
      ctx.warn(
        'not-instant-recovery',
        `${vm.name} does not run from an instant-recovery datastore; nothing to unmount`,
        'options.finalizeInstantRecovery',
      );
    }
    return false;
  }
  const finalize = options.finalizeInstantRecovery;
  const evidence = [
    ir.flagged ? 'flagged as instant recovery' : '',
    ir.looksLikeVPowerNfs ? 'looks like vPower NFS' : '',
  ].filter(Boolean);
  const inUse = ir.otherVms.length > 0;
  ctx.reason(
    'R11-instant-recovery',
    finalize
      ? `unmount ${ir.datastore} after the migration${inUse ? ' if no other VM uses it by then' : ''}`
      : `${ir.datastore} stays mounted (options.finalizeInstantRecovery is false)`,
    { datastore: ir.datastore, remote: ir.remote, evidence, otherVms: ir.otherVms },
  );
  if (finalize && inUse) {
    ctx.warn(
      'ir-datastore-in-use',
      `${ir.datastore} is also used by ${list(ir.otherVms)}; it stays mounted until they are migrated`,
    );
  }
  const onto = [target.datastore, ...where.placements.map((p) => p.to)];
  if (ctx.sameEndpoint && onto.includes(ir.datastore)) {
    ctx.error(
      'target-is-instant-recovery',
      `${ir.datastore} is the instant-recovery datastore; choose production storage for target.datastore and target.disks`,
      'target.datastore',
    );
  }
  return finalize;
}

/**
 * A downtime budget and a window are about the moment the VM stops: a VM that is not running has none
 * (they are ignored, with a warning), and a window must be a real interval that has not passed.
 */
function checkWarmOptions(ctx: Context, quick: boolean): void {
  const { options } = ctx.request;
  const { vm, now } = ctx.facts;
  if (options.maxDowntimeMs !== undefined) {
    if (!quick) {
      ctx.warn(
        'budget-not-applicable',
        'options.maxDowntimeMs is ignored: vMotion switches over in well under a second by itself; to copy warm, set options.method to quick-migration',
        'options.maxDowntimeMs',
      );
    } else if (vm.powerState !== 'poweredOn') {
      ctx.warn(
        'budget-not-applicable',
        `options.maxDowntimeMs is ignored: ${vm.name} is ${vm.powerState}, so it has no downtime`,
        'options.maxDowntimeMs',
      );
    }
  }
  const { window } = options;
  if (!window) return;
  const notBefore = window.notBefore === undefined ? undefined : Date.parse(window.notBefore);
  const notAfter = window.notAfter === undefined ? undefined : Date.parse(window.notAfter);
  for (const [field, value, text] of [
    ['notBefore', notBefore, window.notBefore],
    ['notAfter', notAfter, window.notAfter],
  ] as const) {
    if (value !== undefined && Number.isNaN(value)) {
      ctx.error(
        'window-invalid',
        `${text} is not a date; write RFC 3339 with a zone, e.g. 2026-11-28T22:00:00Z`,
        `options.window.${field}`,
      );
    }
  }
  if (notBefore !== undefined && notAfter !== undefined && notAfter <= notBefore) {
    ctx.error(
      'window-empty',
      `the window closes (${window.notAfter}) before it opens (${window.notBefore}); move notAfter after notBefore`,
      'options.window.notAfter',
    );
  }
  if (notAfter !== undefined && now !== undefined && notAfter <= now) {
    ctx.error(
      'window-passed',
      `the window closed at ${window.notAfter}, before the migration started; move notAfter into the future or remove it`,
      'options.window.notAfter',
    );
  }
  if (notBefore === undefined && notAfter === undefined) {
    ctx.warn(
      'window-open',
      'options.window sets neither notBefore nor notAfter: it allows any time',
      'options.window',
    );
  }
  if (quick && vm.powerState !== 'poweredOn') {
    ctx.warn(
      'window-not-applicable',
      `options.window is ignored: ${vm.name} is ${vm.powerState}, so nothing is stopped at a switchover`,
      'options.window',
    );
  }
}

/** The ordered steps for the workflow. */
function buildSteps(
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

/** A disk placement with the request field that chose its datastore. */
type Placement = DiskPlacementPlan & { field: string };

/** Resolves target.disks (by index or label) to one datastore per disk. */
function placeDisks(ctx: Context): Placement[] {
  const { request } = ctx;
  const disks = ctx.facts.vm.disks;
  const placements: Placement[] = disks.map((d) => ({
    key: d.key,
    label: d.label,
    from: d.datastore,
    to: request.target.datastore,
    field: 'target.datastore',
  }));
  const seen = new Map<number, string>();
  request.target.disks.forEach((entry, i) => {
    const field = `target.disks[${i}]`;
    const index = entry.index ?? disks.findIndex((d) => d.label === entry.label);
    const placement = placements[index];
    if (!placement) {
      const by = entry.index !== undefined ? `index ${entry.index}` : `label '${entry.label}'`;
      const known = disks.map((d, n) => `${n}: ${d.label}`);
      ctx.error('disk-not-found', `no disk with ${by}; the VM's disks are ${list(known)}`, field);
      return;
    }
    const earlier = seen.get(index);
    if (earlier) {
      ctx.error(
        'disk-placed-twice',
        `${placement.label} is already placed by ${earlier}; keep one entry`,
        field,
      );
      return;
    }
    seen.set(index, field);
    placement.to = entry.datastore;
    placement.field = `${field}.datastore`;
  });
  return placements;
}

/** Disk configurations that cannot be migrated; some only by our own transport (which snapshots). */
function checkDisks(ctx: Context, quick: boolean): void {
  const error = ctx.error;
  for (const d of ctx.facts.vm.disks) {
    if (d.busSharing !== 'noSharing') {
      error(
        'unsupported-bus-sharing',
        `${d.label} sits on a SCSI controller with ${d.busSharing} (clustered VM); remove the bus sharing or migrate it by hand`,
      );
    }
    if (d.sharing === 'sharingMultiWriter') {
      error(
        'unsupported-multi-writer',
        `${d.label} is shared multi-writer with another VM; migrate it by hand`,
      );
    }
    if (d.rdm === 'physical') {
      error(
        'unsupported-rdm-physical',
        `${d.label} is a physical-mode RDM; convert it or migrate it by hand`,
      );
    }
    if (quick && d.rdm === 'virtual') {
      error(
        'unsupported-rdm-virtual',
        `${d.label} is a virtual-mode RDM, which Quick Migration cannot copy; use vMotion or convert it to a virtual disk`,
      );
    }
    if (quick && d.diskMode.startsWith('independent')) {
      error(
        'unsupported-independent-disk',
        `${d.label} is ${d.diskMode} and cannot be snapshotted, so Quick Migration cannot copy it; make it dependent or use vMotion`,
      );
    }
  }
}

/** Whether vSphere can do the move itself, and if not, each missing fact in words. */
function vmotionAvailability(
  facts: MigrationFacts,
  hostChanges: boolean,
  datastoreChanges: boolean,
): { possible: boolean; missing: string[]; facts: Record<string, FactValue> } {
  const { source, sourceHost, targetHost } = facts;
  const licence = source.licenseFeatures.map((f) => f.toLowerCase());
  const missing: string[] = [];
  if (source.kind !== 'vcenter') {
    missing.push(`source endpoint ${source.name} is a standalone ESXi host, not a vCenter`);
  } else if (!facts.sameVCenter) {
    missing.push(`source ${source.name} and target ${facts.target.name} are not the same vCenter`);
  } else {
    const hosts = sourceHost.name === targetHost.name ? [sourceHost] : [sourceHost, targetHost];
    if (hostChanges) {
      for (const h of hosts.filter((h) => !h.vmotion)) missing.push(`host ${h.name} is not vMotion-capable`);
      if (!licence.includes('vmotion')) missing.push(`the licence of ${source.name} lacks 'vmotion'`);
    }
    if (datastoreChanges) {
      for (const h of hosts.filter((h) => !h.storageVMotion))
        missing.push(`host ${h.name} does not support Storage vMotion`);
      if (!licence.includes('storagevmotion'))
        missing.push(`the licence of ${source.name} lacks 'storagevmotion'`);
    }
  }
  return {
    possible: missing.length === 0,
    missing,
    facts: {
      sourceKind: source.kind,
      sameVCenter: facts.sameVCenter,
      licenseFeatures: source.licenseFeatures,
      sourceHostVMotion: sourceHost.vmotion,
      targetHostVMotion: targetHost.vmotion,
      sourceHostStorageVMotion: sourceHost.storageVMotion,
      targetHostStorageVMotion: targetHost.storageVMotion,
    },
  };
}

/** Feature values that mean "not present" in a host's featureCapability. */
const ABSENT = new Set(['', '0', 'false']);

/** Same vendor, and every CPU feature the VM uses present on the target host. */
function cpuCompatibility(
  required: readonly string[],
  sourceHost: HostFacts,
  targetHost: HostFacts,
): { compatible: boolean; missing: string[]; summary: string } {
  const missing = required.filter((key) => ABSENT.has(targetHost.features[key] ?? ''));
  const sameVendor = sourceHost.cpuVendor.toLowerCase() === targetHost.cpuVendor.toLowerCase();
  const problems = [
    sameVendor ? '' : `CPU vendor differs (${sourceHost.cpuVendor} → ${targetHost.cpuVendor})`,
    missing.length > 0 ? `target host ${targetHost.name} lacks CPU features ${list(missing)}` : '',
  ].filter(Boolean);
  return {
    compatible: problems.length === 0,
    missing,
    summary: problems.length > 0 ? problems.join('; ') : 'CPUs compatible',
  };
}
