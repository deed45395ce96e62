/**
 * Warm migration arithmetic: how long a switchover would take if it started now, and whether another
 * pre-copy round is worth it. Pure, so the workflow can call it and the tests can table it.
 *
 * A pre-copy round snapshots the running VM, which freezes the delta the guest wrote since the previous
 * snapshot, and copies that delta while the VM keeps running. The switchover then only moves what the
 * guest wrote since the last snapshot, plus the suspend state (SmartSwitch) and the small config files.
 */

/** One pre-copy round as the workflow measured it. */
export interface PrecopyRound {
  /** 1 for the first round after the bulk copy. */
  round: number;
  /** Name of the snapshot that froze this round's delta. */
  snapshot: string;
  /** Bytes of the frozen delta files copied in this round. */
  bytes: number;
  /** How long the guest wrote into this delta: from the previous snapshot to this one, in ms. */
  writeWindowMs: number;
  /** Wall time of the round (snapshot, listing, copy), in ms. */
  ms: number;
  /** The projection made after this round, in ms. */
  projectedMs: number;
}

/** What a projection is made of; every figure is measured during this migration. */
export interface ProjectionInput {
  /** Bytes per second the guest writes, from the last frozen delta. */
  writeRateBps: number;
  /** Time since the newest snapshot (the current delta has grown that long), in ms. */
  sinceSnapshotMs: number;
  /**
   * Time from now until the source has stopped (the decision and the stop task, and a Cold source's guest
   * shutdown), in ms: the guest writes on until then, so the delta grows by that much more before the
   * switchover copies it.
   */
  untilStopMs: number;
  /** Suspend state to copy: the VM's memory for SmartSwitch, 0 for cold. */
  stateBytes: number;
  /** Configuration files copied at switchover (.vmx, .nvram, descriptors), bytes. */
  configBytes: number;
  /** Copy throughput measured so far, bytes per second. */
  throughputBps: number;
  /** Switchover time that does not depend on bytes: stop, list, register, start, in ms. */
  fixedMs: number;
}

/** A switchover projection with its parts, as the progress query shows it. */
export interface Projection {
  /** Total projected downtime, ms. */
  ms: number;
  /** Bytes the switchover would copy. */
  bytes: number;
  /** ms of it spent copying. */
  copyMs: number;
  /** ms of it independent of bytes. */
  fixedMs: number;
}

/** Projects the switchover's downtime if it started now: remaining bytes ÷ throughput + fixed overhead. */
export function projectSwitchover(input: ProjectionInput): Projection {
  const delta = (input.writeRateBps * Math.max(0, input.sinceSnapshotMs + input.untilStopMs)) / 1000;
  const bytes = Math.round(delta + input.stateBytes + input.configBytes);
  const copyMs = input.throughputBps > 0 ? (bytes / input.throughputBps) * 1000 : Number.POSITIVE_INFINITY;
  const ms = Math.round(copyMs + input.fixedMs);
  return { ms, bytes, copyMs: Math.round(copyMs), fixedMs: Math.round(input.fixedMs) };
}

/** Why pre-copy stops. */
export type PrecopyVerdict =
  /** The projection fits the budget: switch over. */
  | { kind: 'fits' }
  /** Not yet, and another round can still help. */
  | { kind: 'another-round' }
  /**
   * The projection fits, but another round would cut it by `savingMs`, enough to be worth a round
   * (see TIGHTEN): switching over now would make the downtime follow the last delta, which grew with
   * the copy before it, rather than what the guest writes while a small delta is copied.
   */
  | { kind: 'tighten'; savingMs: number }
  /** The budget cannot be met: the request's policy decides. `reason` says why, for people. */
  | { kind: 'not-converging'; reason: string };

/** Limits of the pre-copy loop. */
export interface PrecopyLimits {
  maxDowntimeMs: number;
  maxRounds: number;
  /**
   * Share of maxDowntimeMs kept free (0 to 0.9): the projection must fit maxDowntimeMs × (1 − headroom).
   * What a projection cannot measure before the switchover (the target's register and power-on, which
   * no pre-copy step exercises, and the spread of every step) spends it.
   */
  headroom: number;
}

/** The projection a switchover must fit: the budget less its headroom, ms. */
export function switchoverTargetMs(limits: Pick<PrecopyLimits, 'maxDowntimeMs' | 'headroom'>): number {
  return Math.round(limits.maxDowntimeMs * (1 - limits.headroom));
}

/**
 * When a fitting projection is worth one more round: it must cut the projected downtime by a tenth and
 * by at least 20 ms. A round costs a snapshot level on the source (consolidated at the end) and a few
 * hundred milliseconds while the VM keeps running; downtime is what users feel.
 */
export const TIGHTEN = { share: 0.1, minMs: 20 } as const;

/**
 * The projection right after one more round. The round snapshots (as long as a stop takes, which the
 * projection already counts), so it copies the delta the projection counts; the guest then writes on
 * only while the round lists and copies that delta. `roundOverheadMs` is a round's listing plus a copy
 * step's fixed cost (see roundOverheadMs).
 */
export function projectAfterRound(input: ProjectionInput, roundOverheadMs: number): Projection {
  const deltaBytes = (input.writeRateBps * Math.max(0, input.sinceSnapshotMs + input.untilStopMs)) / 1000;
  const copyMs =
    input.throughputBps > 0 ? (deltaBytes / input.throughputBps) * 1000 : Number.POSITIVE_INFINITY;
  return projectSwitchover({ ...input, sinceSnapshotMs: roundOverheadMs + copyMs });
}

/** The two rates that decide convergence, bytes per second. */
export interface PrecopyRates {
  writeRateBps: number;
  throughputBps: number;
}

/**
 * Decides after a round: switch over when the projection fits, unless `afterRound` (the projection
 * another round would leave, when the workflow judges with it) is smaller by TIGHTEN and rounds are left;
 * give up when the guest writes at least as fast as the copy moves (each delta would be as large as the
 * last), when the fixed overhead alone exceeds the budget, when the rounds are spent, or when two rounds in
 * a row did not shrink the projection by a tenth; otherwise another round.
 */
export function judgeRound(
  rounds: readonly PrecopyRound[],
  projection: Projection,
  limits: PrecopyLimits,
  rates: PrecopyRates,
  afterRound?: Projection,
): PrecopyVerdict {
  const target = switchoverTargetMs(limits);
  if (projection.ms <= target) {
    const savingMs = afterRound ? projection.ms - afterRound.ms : 0;
    const worth = savingMs >= Math.max(TIGHTEN.minMs, TIGHTEN.share * projection.ms);
    return worth && rounds.length < limits.maxRounds ? { kind: 'tighten', savingMs } : { kind: 'fits' };
  }
  const projected =
    limits.headroom > 0
      ? `projected switchover ${seconds(projection.ms)} > ${seconds(target)} (maxDowntimeMs ${seconds(limits.maxDowntimeMs)} less ${Math.round(limits.headroom * 100)} % headroom)`
      : `projected switchover ${seconds(projection.ms)} > maxDowntimeMs ${seconds(limits.maxDowntimeMs)}`;
  if (rates.throughputBps > 0 && rates.writeRateBps >= 0.9 * rates.throughputBps) {
    return {
      kind: 'not-converging',
      reason: `${projected}: the guest writes ${mibps(rates.writeRateBps)}, about as fast as or faster than the copy moves (${mibps(rates.throughputBps)}), so the deltas do not shrink`,
    };
  }
  if (projection.fixedMs >= target) {
    return {
      kind: 'not-converging',
      reason: `${projected}: the steps alone (stop, register, start) take ${seconds(projection.fixedMs)}`,
    };
  }
  if (rounds.length >= limits.maxRounds) {
    return { kind: 'not-converging', reason: `${projected} after ${rounds.length} round(s), the limit` };
  }
  const last = rounds.slice(-3).map((r) => r.projectedMs);
  const [a, b, c] = last;
  if (a !== undefined && b !== undefined && c !== undefined && b > 0.9 * a && c > 0.9 * b) {
    return {
      kind: 'not-converging',
      reason: `${projected}: the last rounds did not shrink it (${last.map(seconds).join(' → ')}); the guest writes about as fast as the copy moves`,
    };
  }
  return { kind: 'another-round' };
}

/**
 * Switchover time independent of bytes, from this migration's own control steps: a switchover runs
 * three vSphere tasks (stop, register, start), like a snapshot, and one listing; plus the fixed cost
 * of a copy step (what a copy took beyond its bytes ÷ throughput). Each is the median of its samples
 * without the slowest one: a step that a worker crash or a retry stretched (seconds instead of tens of
 * milliseconds) must not make every later projection miss the budget.
 */
export function fixedOverheadMs(samples: StepSamples): number {
  return 3 * typical(samples.taskMs) + roundOverheadMs(samples);
}

/**
 * How long a Cold source takes to stop through its guest (the plan's projected `shutdown` term, ms): the
 * guest writes on while it shuts down, and those writes are copied after the stop, inside the downtime.
 * 0 for SmartSwitch (a suspend freezes the guest) and for a hard power-off.
 */
export function guestStopMs(
  mode: 'smartswitch' | 'cold',
  downtime:
    | { modes: readonly { mode: string; terms: readonly { step: string; ms: number }[] }[] }
    | null
    | undefined,
): number {
  if (mode !== 'cold') return 0;
  const cold = downtime?.modes.find((m) => m.mode === 'cold');
  return cold?.terms.find((t) => t.step === 'shutdown')?.ms ?? 0;
}

/** Durations of this migration's own control steps, ms. */
export interface StepSamples {
  /** A vSphere task step (the round snapshots), as the workflow saw it: scheduling included. */
  taskMs: readonly number[];
  /** A listing of the VM's files. */
  listMs: readonly number[];
  /** What a copy step took beyond its bytes ÷ throughput. */
  copyOverheadMs: readonly number[];
}

/** A round's own time beyond its snapshot and its bytes: the listing and a copy step's fixed cost, ms. */
export function roundOverheadMs(samples: StepSamples): number {
  return typical(samples.listMs) + typical(samples.copyOverheadMs);
}

/** A typical vSphere task step: how long from deciding to switch over until the source has stopped. */
export function typicalTaskMs(samples: StepSamples): number {
  return typical(samples.taskMs);
}

/** The median without the largest sample (when there are two or more). */
function typical(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return median(sorted.length >= 2 ? sorted.slice(0, -1) : sorted);
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** `12.3 MiB/s`, for messages. */
export function mibps(bytesPerSec: number): string {
  return `${(bytesPerSec / 2 ** 20).toFixed(1)} MiB/s`;
}

/** `1.2 s`, for messages. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
