/**
 * How the batch decides which queued VMs start: by slots only (batches started before the patch
 * RESOURCE_ADMISSION), or by the resources each migration will hold (src/planner/admission.ts: copy
 * streams per host, snapshots per datastore, beside the slots). Both keep the batch's order, pass over
 * a VM that does not fit, and count a migration from its start until the batch has seen it end.
 *
 * Workflow code: no Node builtins.
 */
import type { Blocker, LedgerState, ResourceKind, ResourceNeed, Waiter } from '../planner/admission';
import {
  admit,
  capacityOf,
  copyConcurrencyOf,
  describeBlocker,
  emptyLedger,
  footprintOf,
  needsOf,
  release,
} from '../planner/admission';
import type { MigrationPlan } from '../planner/plan';
import type { BatchLimits } from '../request/batch-plan';
import type { MigrationRequestInput } from '../request/request';

/** The VM fields admission reads and writes (a BatchVm has them). */
export interface AdmittedVm {
  migrationId: string;
  sourceHost: string | null;
  targetDatastores: string[];
  /** What a queued VM waits on, in words; null when it is not waiting or the batch does not say. */
  waitingOn: string | null;
  /** The resource a queued VM waits on, `<kind>:<endpoint>/<object>`; null when not waiting. */
  waitingFor: { kind: ResourceKind; key: string } | null;
}

/** The most each batch ever held at once, as the progress shows it. */
export interface MaxHeld {
  global: number;
  perSourceHost: Record<string, number>;
  perTargetDatastore: Record<string, number>;
  /** Copy streams per host (`<endpoint>/<host>`); only with resource admission. */
  streamsPerHost?: Record<string, number>;
  /** Migration snapshots per source datastore; only with resource admission. */
  snapshotsPerDatastore?: Record<string, number>;
  /** Suspends per source host at once; only with resource admission. */
  suspendsPerHost?: Record<string, number>;
}

/** The batch's admission; see the file comment. */
export interface BatchAdmission {
  /** The limits in force (with resource admission, the defaults filled in). */
  readonly limits: BatchLimits;
  /** Records what a resolved VM will hold. */
  resolved(vm: AdmittedVm, plan: MigrationPlan, request: MigrationRequestInput): void;
  /** The queued VMs (in plan order) that start now; their resources are taken. Sets waitingOn of the others. */
  schedule<T extends AdmittedVm>(queued: T[]): T[];
  /** Gives back what an ended VM held. */
  released(vm: AdmittedVm): void;
  /** How many files the VM's migration may copy at once; undefined: the migration's default. */
  copyConcurrency(vm: AdmittedVm): number | undefined;
  /** True when the VM's migration must ask for its switchover's resources (a suspend slot). */
  asksForSwitchover(vm: AdmittedVm): boolean;
  /**
   * The migrations that asked for their switchover's resources (in the order they asked) that get them
   * now; sets waitingOn of the others.
   */
  scheduleSwitchovers<T extends AdmittedVm>(asking: T[]): T[];
  /** Gives back a migration's switchover resources (it resumed); a second release is harmless. */
  releaseSwitchover(vm: AdmittedVm): void;
  maxHeld(): MaxHeld;
}

/** Slots per global, source host and target datastore: the batch as it ran before resource admission. */
export function slotAdmission(limits: BatchLimits): BatchAdmission {
  const held = new Map<string, number>();
  const maxHeld = new Map<string, number>();
  const keysOf = (vm: AdmittedVm) => [
    'global',
    `host:${vm.sourceHost}`,
    ...vm.targetDatastores.map((ds) => `ds:${ds}`),
  ];
  const limitOf = (key: string) =>
    key === 'global'
      ? limits.global
      : key.startsWith('host:')
        ? limits.perSourceHost
        : limits.perTargetDatastore;
  const fits = (vm: AdmittedVm) => keysOf(vm).every((k) => (held.get(k) ?? 0) < (limitOf(k) ?? Infinity));
  const perPrefix = (prefix: string) =>
    Object.fromEntries(
      [...maxHeld].filter(([k]) => k.startsWith(prefix)).map(([k, n]) => [k.slice(prefix.length), n]),
    );
  return {
    limits,
    resolved: () => {},
    schedule(queued) {
      const started: typeof queued = [];
      for (const vm of queued) {
        if (!fits(vm)) continue;
        for (const k of keysOf(vm)) {
          const n = (held.get(k) ?? 0) + 1;
          held.set(k, n);
          maxHeld.set(k, Math.max(maxHeld.get(k) ?? 0, n));
        }
        started.push(vm);
      }
      return started;
    },
    released(vm) {
      for (const k of keysOf(vm)) held.set(k, (held.get(k) ?? 1) - 1);
    },
    copyConcurrency: () => undefined,
    asksForSwitchover: () => false,
    scheduleSwitchovers: () => [],
    releaseSwitchover: () => {},
    maxHeld: () => ({
      global: maxHeld.get('global') ?? 0,
      perSourceHost: perPrefix('host:'),
      perTargetDatastore: perPrefix('ds:'),
    }),
  };
}

/**
 * Admission by what each migration holds (src/planner/admission.ts), with the defaults of streams per
 * host and snapshots per datastore in force. Only needs held for the whole migration are admitted here;
 * suspends (held for the switchover) need the migration to ask at its suspend (docs/wip-admission.md).
 */
export function resourceAdmission(written: BatchLimits): BatchAdmission {
  const limits: BatchLimits = {
    ...written,
    streamsPerHost: capacityOf('host-streams', written),
    snapshotsPerDatastore: capacityOf('datastore-snapshots', written),
  };
  const ledger: LedgerState = emptyLedger();
  const needs = new Map<string, ResourceNeed[]>();
  // Needs held for the switchover only (a suspend slot), under the holder `<migration id>#switchover`.
  const switchNeeds = new Map<string, ResourceNeed[]>();
  const switchHolder = (vm: AdmittedVm) => `${vm.migrationId}#switchover`;
  const concurrency = new Map<string, number>();
  const bypassed = new Map<string, number>();
  const peaksOf = (kind: ResourceKind) =>
    Object.fromEntries(
      Object.entries(ledger.peak)
        .filter(([k]) => k.startsWith(`${kind}:`))
        .map(([k, n]) => [k.slice(kind.length + 1), n]),
    );
  const show = (vm: AdmittedVm, blocker: Blocker | undefined) => {
    vm.waitingOn = blocker ? describeBlocker(blocker) : null;
    vm.waitingFor = blocker ? { kind: blocker.kind, key: blocker.key } : null;
  };
  return {
    limits,
    resolved(vm, plan, request) {
      const footprint = footprintOf(plan, request);
      const all = needsOf(footprint, limits);
      needs.set(
        vm.migrationId,
        all.filter((n) => n.span === 'migration'),
      );
      // Only a limit makes the migration ask: without one, a suspend slot is always free.
      const onSwitchover = all.filter(
        (n) => n.span === 'switchover' && Number.isFinite(capacityOf(n.kind, limits)),
      );
      if (onSwitchover.length > 0) switchNeeds.set(vm.migrationId, onSwitchover);
      if (footprint.copyFiles > 0) concurrency.set(vm.migrationId, copyConcurrencyOf(footprint, limits));
    },
    schedule(queued) {
      const waiters: Waiter[] = queued.map((vm) => ({
        holder: vm.migrationId,
        needs: needs.get(vm.migrationId) ?? [],
        bypassed: bypassed.get(vm.migrationId) ?? 0,
      }));
      const { admitted, waiting } = admit(ledger, waiters, limits);
      for (const w of waiters) bypassed.set(w.holder, w.bypassed);
      const started = new Set(admitted);
      for (const vm of queued) show(vm, waiting[vm.migrationId]);
      return queued.filter((vm) => started.has(vm.migrationId));
    },
    released(vm) {
      release(ledger, vm.migrationId);
      release(ledger, switchHolder(vm));
      bypassed.delete(vm.migrationId);
      bypassed.delete(switchHolder(vm));
    },
    copyConcurrency: (vm) => concurrency.get(vm.migrationId),
    asksForSwitchover: (vm) => switchNeeds.has(vm.migrationId),
    scheduleSwitchovers(asking) {
      const waiters: Waiter[] = asking.map((vm) => ({
        holder: switchHolder(vm),
        needs: switchNeeds.get(vm.migrationId) ?? [],
        bypassed: bypassed.get(switchHolder(vm)) ?? 0,
      }));
      const { admitted, waiting } = admit(ledger, waiters, limits);
      for (const w of waiters) bypassed.set(w.holder, w.bypassed);
      const granted = new Set(admitted);
      for (const vm of asking) show(vm, waiting[switchHolder(vm)]);
      return asking.filter((vm) => granted.has(switchHolder(vm)));
    },
    releaseSwitchover(vm) {
      release(ledger, switchHolder(vm));
      bypassed.delete(switchHolder(vm));
    },
    maxHeld: () => ({
      global: ledger.peak.global ?? 0,
      perSourceHost: peaksOf('source-host'),
      perTargetDatastore: peaksOf('target-datastore'),
      streamsPerHost: peaksOf('host-streams'),
      snapshotsPerDatastore: peaksOf('datastore-snapshots'),
      suspendsPerHost: peaksOf('host-suspends'),
    }),
  };
}
