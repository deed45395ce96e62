/**
 * Admission by resources: what a migration will hold on the hosts and datastores it touches, and a
 * ledger that admits migrations only while every resource they need has room. Pure (no Node, no
 * clocks): the batch workflow runs it in its own state today, and a shared ledger workflow can run the
 * same code (docs/wip-admission.md).
 *
 * Resources, each counted per key (`<kind>:<endpoint>/<object>`):
 * - `global`, `source-host`, `target-datastore`: one slot per migration (the plan's `limits.global`,
 *   `perSourceHost`, `perTargetDatastore`, as the batch counted them before).
 * - `host-streams`: concurrent `/folder` copy streams through one ESXi host, source or target side
 *   (`limits.streamsPerHost`, default 8: the NFC-like cap the lab's hosts enforce, `maxFolderStreams`).
 * - `datastore-snapshots`: migration snapshots on one source datastore (`limits.snapshotsPerDatastore`,
 *   default 15: Azure Migrate's guidance for agentless VMware replication, /work/shared/ANCHORS.md).
 * - `host-suspends`: SmartSwitch suspends at once on one source host (`limits.suspendsPerHost`,
 *   default no limit); held only for the switchover (span `switchover`), see needsOf.
 */
import type { BatchLimits } from '../request/batch-plan';
import type { MigrationPlan } from './model';

/** What a resource is; see the file comment. */
export type ResourceKind =
  | 'global'
  | 'source-host'
  | 'target-datastore'
  | 'host-streams'
  | 'datastore-snapshots'
  | 'host-suspends';

/** Copy streams per host when `limits.streamsPerHost` is left out (the lab's `maxFolderStreams`). */
export const DEFAULT_STREAMS_PER_HOST = 8;
/** Migration snapshots per source datastore when `limits.snapshotsPerDatastore` is left out (Azure Migrate). */
export const DEFAULT_SNAPSHOTS_PER_DATASTORE = 15;
/** Files a migration copies at once when nothing lowers it (copyFiles' default `concurrency`). */
export const COPY_CONCURRENCY = 4;
/** How often a waiting migration may be passed over by later ones before it reserves what it waits for. */
export const DEFAULT_MAX_BYPASS = 8;

/**
 * When a need is held: `migration` from the moment the migration is started until it has ended
 * (rollback included); `switchover` from the suspend to the target's resume.
 */
export type NeedSpan = 'migration' | 'switchover';

/** Units of one resource a migration holds. */
export interface ResourceNeed {
  /** `<kind>:<endpoint>/<object>`, or `global`. */
  key: string;
  kind: ResourceKind;
  units: number;
  span: NeedSpan;
}

/** Where a migration runs and what it does there: the facts its needs follow from (footprintOf). */
export interface MigrationFootprint {
  /** `<endpoint>/<host>` the VM runs on; the endpoint alone when unknown (stricter, never looser). */
  sourceHost: string;
  /**
   * `<endpoint>/<host>` the target is registered on (the plan's targetHost); in older plans the
   * request's host, else `<endpoint>/<cluster>` or the endpoint (stricter, never looser).
   */
  targetHost: string;
  /** `<endpoint>/<datastore>` of the source's disks (where a migration snapshot puts its deltas). */
  sourceDatastores: string[];
  /** `<endpoint>/<datastore>` the target's files go to. */
  targetDatastores: string[];
  /** Files the copy moves at most at once (0: vMotion, no copy through the migration's worker). */
  copyFiles: number;
  /** True when the plan snapshots the source (`snapshot` step). */
  snapshot: boolean;
  /** True when the plan suspends the source (`suspend` step: SmartSwitch). */
  suspend: boolean;
}

/** The plan fields footprintOf reads. */
export type FootprintPlan = Pick<MigrationPlan, 'method' | 'configDatastore' | 'disks' | 'steps'> & {
  sourceHost?: string | undefined;
  targetHost?: string | undefined;
};

/** The request fields footprintOf reads. */
export interface FootprintRequest {
  source: { endpoint: string };
  target: { endpoint: string; host?: string | undefined; cluster?: string | undefined };
}

/**
 * The footprint of a planned migration. A Quick Migration copies each disk as its descriptor and its
 * extent, and its configuration files, `COPY_CONCURRENCY` files at a time.
 */
export function footprintOf(plan: FootprintPlan, request: FootprintRequest): MigrationFootprint {
  const source = request.source.endpoint;
  const target = request.target.endpoint;
  const on = (endpoint: string, object: string | undefined) => (object ? `${endpoint}/${object}` : endpoint);
  const quick = plan.method === 'quick-migration';
  return {
    sourceHost: on(source, plan.sourceHost),
    // The host preflight picked; in plans from before that field, the request's host or cluster.
    targetHost: on(target, plan.targetHost || request.target.host || request.target.cluster),
    sourceDatastores: unique(plan.disks.map((d) => `${source}/${d.from}`)),
    targetDatastores: unique([plan.configDatastore, ...plan.disks.map((d) => d.to)]).map(
      (ds) => `${target}/${ds}`,
    ),
    copyFiles: quick ? 2 * plan.disks.length + 1 : 0,
    snapshot: plan.steps.includes('snapshot'),
    suspend: plan.steps.includes('suspend'),
  };
}

/** The capacity of a resource kind under the limits; Infinity where nothing limits it. */
export function capacityOf(kind: ResourceKind, limits: BatchLimits): number {
  const value = {
    global: limits.global,
    'source-host': limits.perSourceHost,
    'target-datastore': limits.perTargetDatastore,
    'host-streams': limits.streamsPerHost ?? DEFAULT_STREAMS_PER_HOST,
    'datastore-snapshots': limits.snapshotsPerDatastore ?? DEFAULT_SNAPSHOTS_PER_DATASTORE,
    'host-suspends': limits.suspendsPerHost,
  }[kind];
  return value ?? Number.POSITIVE_INFINITY;
}

/**
 * How many files the migration may copy at once so that its streams fit one host's capacity: each file
 * is a GET through the source host and a PUT through the target host (two streams on one host when
 * both are the same). At least 1.
 */
export function copyConcurrencyOf(footprint: MigrationFootprint, limits: BatchLimits): number {
  const cap = capacityOf('host-streams', limits);
  const perFile = footprint.sourceHost === footprint.targetHost ? 2 : 1;
  return Math.max(1, Math.min(COPY_CONCURRENCY, footprint.copyFiles, Math.floor(cap / perFile)));
}

/**
 * Everything a migration holds, by key, with the span it holds it for. Needs on one key add up (a copy
 * within one host takes two streams per file there). A need is never more than its capacity, so a
 * migration alone always fits (one snapshot, a copy concurrency fitted by copyConcurrencyOf).
 */
export function needsOf(footprint: MigrationFootprint, limits: BatchLimits): ResourceNeed[] {
  const needs = new Map<string, ResourceNeed>();
  const add = (kind: ResourceKind, object: string | null, units: number, span: NeedSpan = 'migration') => {
    if (units <= 0) return;
    const key = object === null ? kind : `${kind}:${object}`;
    const prior = needs.get(key);
    if (prior) prior.units += units;
    else needs.set(key, { key, kind, units, span });
  };
  add('global', null, 1);
  add('source-host', footprint.sourceHost, 1);
  for (const ds of footprint.targetDatastores) add('target-datastore', ds, 1);
  if (footprint.copyFiles > 0) {
    const streams = copyConcurrencyOf(footprint, limits);
    add('host-streams', footprint.sourceHost, streams);
    add('host-streams', footprint.targetHost, streams);
  }
  if (footprint.snapshot) for (const ds of footprint.sourceDatastores) add('datastore-snapshots', ds, 1);
  if (footprint.suspend) add('host-suspends', footprint.sourceHost, 1, 'switchover');
  return [...needs.values()].map((n) => ({ ...n, units: Math.min(n.units, capacityOf(n.kind, limits)) }));
}

/** What the ledger holds: units per key, the most ever held per key, and each holder's needs. */
export interface LedgerState {
  held: Record<string, number>;
  peak: Record<string, number>;
  holders: Record<string, ResourceNeed[]>;
}

/** Why a migration waits: the first resource it needs that has no room. */
export interface Blocker {
  key: string;
  kind: ResourceKind;
  /** Units the migration needs of it. */
  units: number;
  /** Units held by migrations running now. */
  held: number;
  /** Units kept free for a migration that waited longer (reservation after DEFAULT_MAX_BYPASS). */
  reserved: number;
  limit: number;
}

/** A ledger that holds nothing. */
export function emptyLedger(): LedgerState {
  return { held: {}, peak: {}, holders: {} };
}

/** The first need without room (held + reserved + units over the limit), or null when all fit. */
export function blockerOf(
  state: LedgerState,
  needs: readonly ResourceNeed[],
  limits: BatchLimits,
  reserved: Readonly<Record<string, number>> = {},
): Blocker | null {
  for (const need of needs) {
    const held = state.held[need.key] ?? 0;
    const kept = reserved[need.key] ?? 0;
    const limit = capacityOf(need.kind, limits);
    if (held + kept + need.units > limit)
      return { key: need.key, kind: need.kind, units: need.units, held, reserved: kept, limit };
  }
  return null;
}

/**
 * Takes the needs for `holder`. Throws (a bug in the caller, never a user's mistake) when the holder
 * holds already or a need has no room: the ledger never goes over a limit.
 */
export function acquire(
  state: LedgerState,
  holder: string,
  needs: readonly ResourceNeed[],
  limits: BatchLimits,
): void {
  if (state.holders[holder]) throw new Error(`admission: ${holder} holds resources already`);
  const blocker = blockerOf(state, needs, limits);
  if (blocker) throw new Error(`admission: no room for ${holder}: ${describeBlocker(blocker)}`);
  state.holders[holder] = needs.map((n) => ({ ...n }));
  for (const need of needs) {
    const now = (state.held[need.key] ?? 0) + need.units;
    state.held[need.key] = now;
    state.peak[need.key] = Math.max(state.peak[need.key] ?? 0, now);
  }
}

/** Gives back what `holder` holds; false when it held nothing (a release twice is harmless). */
export function release(state: LedgerState, holder: string): boolean {
  const needs = state.holders[holder];
  if (!needs) return false;
  delete state.holders[holder];
  for (const need of needs) {
    const left = (state.held[need.key] ?? 0) - need.units;
    if (left > 0) state.held[need.key] = left;
    else delete state.held[need.key];
  }
  return true;
}

/** A migration waiting for admission, in the order it asked. `bypassed` counts later ones admitted first. */
export interface Waiter {
  holder: string;
  needs: ResourceNeed[];
  bypassed: number;
}

/**
 * Admits the waiters that fit, in order: one that does not fit is passed over for one behind it that
 * does, until it has been passed over `maxBypass` times; from then on it reserves the units it needs,
 * so nothing behind it takes them and it starts as soon as they are free (no starvation of a migration
 * that needs much by many that need little).
 *
 * One waiter reserves at a time: the first in order that was passed over enough (as EASY backfilling
 * reserves for the head of the queue only). It cannot be starved, and once it starts the next one
 * reserves, so every waiter gets its turn; the others behind it still start on whatever it does not
 * need. Reservations by every such waiter at once would add up to whole hosts and datastores kept
 * back (the batch figure saw 179 VMs wait on stream reservations while a target host had room).
 * The global slot is not reserved: the reserving waiter takes the next global slot that frees,
 * before anyone behind it, so keeping one back would only leave it idle (the batch figure saw 6 of 8
 * running while 159 waited). Returns the holders admitted (now in the ledger), and for each one still
 * waiting what it waits on. Mutates `state` and the waiters' `bypassed`.
 */
export function admit(
  state: LedgerState,
  waiters: readonly Waiter[],
  limits: BatchLimits,
  maxBypass: number = DEFAULT_MAX_BYPASS,
): { admitted: string[]; waiting: Record<string, Blocker> } {
  const reserved: Record<string, number> = {};
  const admitted: string[] = [];
  const waiting: Record<string, Blocker> = {};
  const passedOver: Waiter[] = [];
  let reserving = false;
  for (const waiter of waiters) {
    const blocker = blockerOf(state, waiter.needs, limits, reserved);
    if (blocker === null) {
      acquire(state, waiter.holder, waiter.needs, limits);
      admitted.push(waiter.holder);
      for (const earlier of passedOver) earlier.bypassed++;
      passedOver.length = 0;
      continue;
    }
    waiting[waiter.holder] = blocker;
    passedOver.push(waiter);
    // The first waiter passed over enough reserves every need but the global slot: holding a global
    // slot back idles it (every migration needs one), and it gets the next free one anyway, being
    // ahead of those behind it in order.
    if (!reserving && waiter.bypassed >= maxBypass) {
      reserving = true;
      for (const need of waiter.needs)
        if (need.kind !== 'global') reserved[need.key] = (reserved[need.key] ?? 0) + need.units;
    }
  }
  return { admitted, waiting };
}

/** Keys whose peak went over their limit (never, unless the ledger has a bug): `key: peak > limit`. */
export function overLimits(state: LedgerState, limits: BatchLimits): string[] {
  const kindOf = (key: string) => (key.includes(':') ? key.slice(0, key.indexOf(':')) : key) as ResourceKind;
  return Object.entries(state.peak)
    .filter(([key, peak]) => peak > capacityOf(kindOf(key), limits))
    .map(([key, peak]) => `${key}: ${peak} > ${capacityOf(kindOf(key), limits)}`);
}

const WORDS: Record<ResourceKind, string> = {
  global: 'migrations running in the batch',
  'source-host': 'migrations from source host',
  'target-datastore': 'migrations writing to datastore',
  'host-streams': 'copy streams through host',
  'datastore-snapshots': 'migration snapshots on datastore',
  'host-suspends': 'suspends on host',
};

/** `copy streams through host vc1/esx-a: 8 of 8 in use, needs 4` (for progress and the CLI). */
export function describeBlocker(b: Blocker): string {
  const object = b.key.includes(':') ? ` ${b.key.slice(b.key.indexOf(':') + 1)}` : '';
  const limit = Number.isFinite(b.limit) ? String(b.limit) : 'no limit';
  const reserved = b.reserved > 0 ? ` (+${b.reserved} kept for a migration waiting longer)` : '';
  return `${WORDS[b.kind]}${object}: ${b.held} of ${limit} in use${reserved}, needs ${b.units}`;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
