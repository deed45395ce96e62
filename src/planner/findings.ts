/**
 * Preflight checks that are not decisions: hosts, disks, datastores, names, leftovers and the warm
 * options. Each records findings (errors block the plan) with the numbers and the fix.
 */

import type { Context, Where } from './context';
import { gib, list, MiB } from './context';
import type { SpaceNeed } from './model';
import { testCopyOf } from './test-copy';

/** The VM must be a VM (not a template), it and both hosts connected, and the target host usable. */
export function checkHostsAndVm(ctx: Context): void {
  const { vm, sourceHost, targetHost } = ctx.facts;
  if (vm.template === true) {
    ctx.error(
      'source-is-template',
      `${vm.name} is a template, not a VM; quickmig moves VMs: convert it to a VM first (vSphere Client: Convert to Virtual Machine; govc vm.markasvm), or clone it where it should be`,
      'source',
    );
  }
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

/**
 * Existence, accessibility, mount and free space of every target datastore the plan writes to; returns
 * what each needs (a batch's dry run adds them up per datastore).
 */
export function checkDatastores(ctx: Context, where: Where, quick: boolean): SpaceNeed[] {
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
    if (disk)
      add(
        p.to,
        options.diskType === 'thick' || options.diskType === 'thick-eager'
          ? disk.capacityBytes
          : disk.committedBytes,
        p.field,
      );
  }

  const disks =
    options.diskType === 'thick'
      ? 'every disk at its full capacity, options.diskType thick'
      : `the disks as allocated now, options.diskType ${options.diskType}`;
  const space: SpaceNeed[] = [];
  for (const [name, need] of needs) {
    const ds = facts.targetDatastores.find((d) => d.name === name);
    space.push({ datastore: name, neededBytes: need.bytes, freeBytes: ds ? ds.freeBytes : null });
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
        `datastore '${name}' needs ${gib(need.bytes)} (${disks}) but has ${gib(ds.freeBytes)} free; free space or choose another datastore`,
        need.field,
      );
    }
  }
  return space;
}

/** The final name on the target: Quick Migration may rename and must not collide; vMotion keeps it. */
export function checkNames(ctx: Context, quick: boolean): string {
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
export function checkLeftovers(ctx: Context, where: Where, quick: boolean): void {
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

/**
 * A downtime budget and a window are about the moment the VM stops: a VM that is not running has none
 * (they are ignored, with a warning), and a window must be a real interval that has not passed.
 */
export function checkWarmOptions(ctx: Context, quick: boolean): void {
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

/** Disk configurations that cannot be migrated; some only by our own transport (which snapshots). */
export function checkDisks(ctx: Context, quick: boolean): void {
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

/**
 * The target folders a Quick Migration creates must be free: one that holds files and was not made by
 * this migration (an earlier migration's source kept with `source: keep`, another VM) fails make-folders,
 * so the plan reports it now. An empty folder is adopted; one this migration made (a retry) is its own.
 */
export function checkTargetFolders(ctx: Context, quick: boolean, folders: readonly string[]): void {
  const known = ctx.facts.targetFolders;
  if (!quick || !known) return;
  // A test migration of this VM kept its copied disks there: the migration builds on them.
  const kept = testCopyOf(ctx.facts, ctx.request.source.endpoint);
  if (kept)
    ctx.warn(
      'reuses-test-copy',
      `${known.folders
        .filter((f) => f.exists)
        .map((f) => f.path)
        .join(
          ', ',
        )} hold(s) the disks test migration ${kept.migrationId} kept (${kept.keptAt}): each disk is copied only where it changed since, when change tracking still vouches for the kept copy (else whole, and the report says why)`,
    );
  for (const path of folders) {
    const folder = known.folders.find((f) => f.path === path);
    if (!folder?.exists || folder.owner === known.migrationId) continue;
    if (kept && folder.owner === kept.migrationId) continue;
    if (folder.owner === null && folder.entries === 0) continue;
    const whose =
      folder.owner === null
        ? `holds ${folder.entries} file(s) of another VM`
        : `belongs to migration ${folder.owner}`;
    ctx.error(
      'target-folder-exists',
      `${path} already exists on ${ctx.request.target.endpoint} and ${whose}; quickmig never writes into it: set target.name to another name, choose another target.datastore, or remove the folder`,
      ctx.request.target.name === undefined ? 'target.datastore' : 'target.name',
    );
  }
}
