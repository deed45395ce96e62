/**
 * The decisions of a plan, one rule each (ARCHITECTURE.md "Choosing the method"): what changes (R9),
 * the method (R1/R2), the mode (R3–R8), the source's fate (R10) and instant recovery (R11). Each records
 * its reason with the facts it used, and the findings its decision implies.
 */

import { cpuCompatibility, vmotionAvailability } from './compat';
import type { Context, Placement, Where } from './context';
import { list } from './context';
import type { MigrationPlan, Relocation } from './model';

/** R9: what changes: host, datastore(s), both, or nothing (which blocks). */
export function decideRelocation(ctx: Context): Where {
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
export function decideMethod(ctx: Context, where: Where): MigrationPlan['method'] {
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
  // A test boots a copy beside the running VM; vMotion would move the VM itself.
  if (options.test) {
    ctx.reason(
      'R2-method-requested',
      'Quick Migration, because options.test asks for a test copy and vMotion moves the VM itself',
      { 'options.test': true, vmotionPossible: true },
    );
    return 'quick-migration';
  }
  // vMotion moves the VM itself: there is no source left to revert to, so a commit window needs a copy.
  if ((options.commit?.afterMs ?? 0) > 0) {
    ctx.reason(
      'R2-method-requested',
      'Quick Migration, because options.commit asks for a commit window and vMotion leaves no source to revert to',
      { 'options.commit.afterMs': options.commit?.afterMs ?? 0, vmotionPossible: true },
    );
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
export function ignoreMode(ctx: Context): null {
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
export function decideMode(ctx: Context): 'smartswitch' | 'cold' {
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

/** R10: keep the source (renamed, off, unregistered) or delete it once the target proves healthy. */
export function decideSource(ctx: Context, quick: boolean): void {
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
export function decideInstantRecovery(ctx: Context, where: Where): boolean {
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

/** Resolves target.disks (by index or label) to one datastore per disk. */
export function placeDisks(ctx: Context): Placement[] {
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
