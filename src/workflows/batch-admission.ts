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
      needs.set(
        vm.migrationId,
        needsOf(footprint, limits).filter((n) => n.span === 'migration'),
      );
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
      bypassed.delete(vm.migrationId);
    },
    copyConcurrency: (vm) => concurrency.get(vm.migrationId),
    maxHeld: () => ({
      global: ledger.peak.global ?? 0,
      perSourceHost: peaksOf('source-host'),
      perTargetDatastore: peaksOf('target-datastore'),
      streamsPerHost: peaksOf('host-streams'),
      snapshotsPerDatastore: peaksOf('datastore-snapshots'),
    }),
  };
}
