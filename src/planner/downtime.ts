/**
 * Downtime projection per Quick Migration mode, before anything moves, and the same arithmetic again at
 * the switchover with what the migration measured. Pure: rates and sizes in, a figure and the sum that
 * made it out, so `quickmig plan` can show how each number was computed.
 *
 * Two downtimes (README "Downtime"):
 * - the VM's (`downtimeMs`): from the moment the source stops serving as a VM (the suspend starts, the
 *   hard power-off, or the guest reaching poweredOff after a shutdown) until the target VM runs;
 * - the service's (`serviceDowntimeMs`): from the source guest's last heartbeat until the target guest's
 *   heartbeat is green again; for Cold it adds the guest's shutdown and its boot.
 *
 * SmartSwitch ≈ suspend (memory ÷ source home write rate) + copy (state + changes ÷ copy rate)
 *              + register + resume (memory ÷ target home read rate); the service adds the resume
 *              until the guest's heartbeat.
 * Cold        ≈ copy (changes ÷ copy rate) + register + power-on; the service adds the guest's
 *              shutdown before and its boot until the heartbeat after.
 */

/** 1 MB/s in bytes per second; datastore and link rates are given in decimal MB, as vendors state them. */
const MB = 1_000_000;

/** A datastore's sustained rates, bytes per second. */
export interface DatastoreRates {
  readBps: number;
  writeBps: number;
}

/**
 * Rates assumed when nothing was measured, by datastore kind: what a VMFS datastore on a SAN, a
 * production NFS share and a backup appliance's NFS share (Instant Recovery) sustain for one large
 * sequential stream. A measured copy rate replaces them for the copy.
 */
export const DEFAULT_DATASTORE_RATES: Readonly<Record<'vmfs' | 'nfs' | 'instant-recovery', DatastoreRates>> =
  {
    vmfs: { readBps: 400 * MB, writeBps: 400 * MB },
    nfs: { readBps: 150 * MB, writeBps: 150 * MB },
    'instant-recovery': { readBps: 100 * MB, writeBps: 100 * MB },
  };

/** The default host link for datastore file traffic: 10 Gb/s, in bytes per second. */
export const DEFAULT_LINK_BPS = 1250 * MB;

/**
 * Guest and vSphere times assumed when nothing was measured, ms: a guest OS shutdown through Tools
 * (20 s), a boot until Tools report a heartbeat (40 s), a resumed guest until its heartbeat (2 s),
 * registering a .vmx (1 s) and a power task's own overhead (0.5 s).
 */
export const DEFAULT_TIMES = {
  guestShutdownMs: 20_000,
  bootToHeartbeatMs: 40_000,
  resumeToHeartbeatMs: 2_000,
  registerMs: 1_000,
  powerTaskMs: 500,
} as const;

/** Which default rate a datastore gets: its kind as the planner knows it. */
export function datastoreKind(type: string, instantRecovery: boolean): keyof typeof DEFAULT_DATASTORE_RATES {
  if (instantRecovery) return 'instant-recovery';
  return /^nfs/i.test(type) ? 'nfs' : 'vmfs';
}

/** A rate with where it came from, as the plan states it. */
export interface StatedRate {
  bps: number;
  /** E.g. `IR-NFS (instant-recovery share, default)` or `measured over 1.2 GiB copied esx-a → esx-b`. */
  source: string;
}

/** What a projection is computed from. */
export interface DowntimeInput {
  /** The VM's configured memory: a suspend writes about this much state, a resume reads it back. */
  memoryBytes: number;
  /** Bytes the switchover copies besides the suspend state: configuration, logs, the disks' changes. */
  switchoverBytes: number;
  /** Where `switchoverBytes` comes from, in words. */
  switchoverBytesSource: string;
  /** Write rate of the source's home datastore (where the suspend state is written). */
  sourceHomeWrite: StatedRate;
  /** Read rate of the target's home datastore (where the resume reads the state back). */
  targetHomeRead: StatedRate;
  /** The copy rate from source to target. */
  copy: StatedRate;
  /** Whether the Cold stop is a guest shutdown (its time counts toward the service downtime) or a hard power-off. */
  coldStop: 'guest' | 'power-off';
  /** Times; default DEFAULT_TIMES. */
  times?: Partial<Record<keyof typeof DEFAULT_TIMES, number>>;
}

/** One term of a projection. */
export interface DowntimeTerm {
  /** The switchover step: suspend, shutdown, copy, register, resume, power-on, heartbeat. */
  step: string;
  ms: number;
  /** How it was computed, e.g. `4096 MiB ÷ 400 MB/s (datastore1, VMFS default)`. */
  how: string;
  /** Whether it counts toward the VM's downtime (else only toward the service's). */
  vm: boolean;
}

/** The projection of one mode. */
export interface ModeProjection {
  mode: 'smartswitch' | 'cold';
  /** Projected `downtimeMs`. */
  downtimeMs: number;
  /** Projected `serviceDowntimeMs`. */
  serviceDowntimeMs: number;
  terms: DowntimeTerm[];
}

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
const rate = (r: StatedRate) => `${Math.round(r.bps / MB)} MB/s (${r.source})`;
const transferMs = (bytes: number, bps: number) => (bps > 0 ? (bytes * 1000) / bps : 0);

/** Projects one mode's downtimes; see the module comment for the sums. */
export function projectMode(mode: 'smartswitch' | 'cold', input: DowntimeInput): ModeProjection {
  const times = { ...DEFAULT_TIMES, ...input.times };
  const terms: DowntimeTerm[] = [];
  const add = (step: string, ms: number, how: string, vm = true) =>
    terms.push({ step, ms: Math.round(ms), how, vm });
  const changes = `${mib(input.switchoverBytes)} ${input.switchoverBytesSource}`;
  if (mode === 'smartswitch') {
    add(
      'suspend',
      transferMs(input.memoryBytes, input.sourceHomeWrite.bps),
      `${mib(input.memoryBytes)} of memory ÷ ${rate(input.sourceHomeWrite)}`,
    );
    add(
      'copy',
      transferMs(input.memoryBytes + input.switchoverBytes, input.copy.bps),
      `(${mib(input.memoryBytes)} suspend state + ${changes}) ÷ ${rate(input.copy)}`,
    );
    add('register', times.registerMs, 'RegisterVM_Task (default)');
    add(
      'resume',
      times.powerTaskMs + transferMs(input.memoryBytes, input.targetHomeRead.bps),
      `${mib(input.memoryBytes)} of memory ÷ ${rate(input.targetHomeRead)} + ${times.powerTaskMs} ms task (default)`,
    );
    add('heartbeat', times.resumeToHeartbeatMs, 'resumed guest until its heartbeat (default)', false);
  } else {
    if (input.coldStop === 'guest')
      add('shutdown', times.guestShutdownMs, 'guest OS shutdown through VMware Tools (default)', false);
    else add('power-off', times.powerTaskMs, 'hard power-off task (default)');
    add('copy', transferMs(input.switchoverBytes, input.copy.bps), `${changes} ÷ ${rate(input.copy)}`);
    add('register', times.registerMs, 'RegisterVM_Task (default)');
    add('power-on', times.powerTaskMs, 'PowerOnVM_Task (default)');
    add('heartbeat', times.bootToHeartbeatMs, 'guest boot until its heartbeat (default)', false);
  }
  const downtimeMs = terms.filter((t) => t.vm).reduce((sum, t) => sum + t.ms, 0);
  const serviceDowntimeMs = terms.reduce((sum, t) => sum + t.ms, 0);
  return { mode, downtimeMs, serviceDowntimeMs, terms };
}

/** The projection a plan carries: one entry per mode the rules allow, and the rates it used. */
export interface DowntimeProjection {
  modes: ModeProjection[];
  /** The rates and sizes every mode used, as the plan shows them. */
  input: DowntimeInput;
}

/** Projects every eligible mode; `fastest` compares their service downtimes (what users feel). */
export function projectModes(
  eligible: readonly ('smartswitch' | 'cold')[],
  input: DowntimeInput,
): DowntimeProjection {
  return { modes: eligible.map((mode) => projectMode(mode, input)), input };
}

/** The eligible mode with the lower projected service downtime (ties go to the first listed). */
export function fastestMode(projection: DowntimeProjection): ModeProjection | undefined {
  return projection.modes.reduce<ModeProjection | undefined>(
    (best, m) => (best === undefined || m.serviceDowntimeMs < best.serviceDowntimeMs ? m : best),
    undefined,
  );
}

/** A copy measured on this worker between two endpoints, as preflight may know it. */
export interface MeasuredCopy {
  bytes: number;
  ms: number;
  /** Epoch ms of the copy's end. */
  at: number;
  sourceEndpoint: string;
  targetEndpoint: string;
}

/**
 * The copy rate to project with: a recent measured copy between the same endpoints when there is one
 * of at least `minBytes` (default 64 MiB, below which fixed costs dominate), else the slowest of the
 * source's read rate, the target's write rate and the link. With `readBack` (verify `sha256`: each file
 * is read back from the target and hashed after its upload, src/vsphere/transfer/verify.ts) the default
 * counts that second pass too, at the slower of the target's read rate and the link; a measured copy
 * already includes it.
 */
export function copyRate(
  measured: MeasuredCopy | undefined,
  source: { name: string; kind: keyof typeof DEFAULT_DATASTORE_RATES },
  target: { name: string; kind: keyof typeof DEFAULT_DATASTORE_RATES },
  options: { readBack?: boolean; minBytes?: number } = {},
): StatedRate {
  const { readBack = false, minBytes = 64 * 2 ** 20 } = options;
  if (measured && measured.bytes >= minBytes && measured.ms > 0) {
    return {
      bps: (measured.bytes * 1000) / measured.ms,
      source: `measured over ${mib(measured.bytes)} copied ${measured.sourceEndpoint} → ${measured.targetEndpoint}`,
    };
  }
  const read = DEFAULT_DATASTORE_RATES[source.kind].readBps;
  const write = DEFAULT_DATASTORE_RATES[target.kind].writeBps;
  const bps = Math.min(read, write, DEFAULT_LINK_BPS);
  const limit =
    bps === read
      ? `${source.name} read, ${source.kind} default`
      : bps === write
        ? `${target.name} write, ${target.kind} default`
        : '10 Gb/s link default';
  if (!readBack) return { bps, source: limit };
  const back = Math.min(DEFAULT_DATASTORE_RATES[target.kind].readBps, DEFAULT_LINK_BPS);
  return {
    bps: thenReadBack(bps, back),
    source: `${limit}, then read back at ${Math.round(back / MB)} MB/s for verify sha256`,
  };
}

/** The rate of a copy at `onceBps` whose every byte is then read back at `backBps` (verify sha256). */
function thenReadBack(onceBps: number, backBps: number): number {
  return 1 / (1 / onceBps + 1 / backBps);
}

/** A datastore's default rate, stated. */
export function datastoreRate(
  name: string,
  kind: keyof typeof DEFAULT_DATASTORE_RATES,
  direction: 'read' | 'write',
): StatedRate {
  const rates = DEFAULT_DATASTORE_RATES[kind];
  return { bps: direction === 'read' ? rates.readBps : rates.writeBps, source: `${name}, ${kind} default` };
}

/** How a measured downtime compares with its projection, as the result reports it. */
export interface DowntimeComparison {
  mode: 'smartswitch' | 'cold';
  /** The plan's projection (before the start), ms. */
  projectedDowntimeMs: number;
  projectedServiceDowntimeMs: number;
  /** The same sums at the switchover, with the bytes it copied and the copy rate this migration measured. */
  atSwitchover: ModeProjection | null;
  measuredDowntimeMs: number | null;
  measuredServiceDowntimeMs: number | null;
  /** measured ÷ projected (the plan's), VM downtime; null without both figures. */
  ratio: number | null;
}

/** Puts a measured downtime beside its projections. */
export function compareDowntime(
  planned: ModeProjection,
  atSwitchover: ModeProjection | null,
  measured: { downtimeMs: number | null; serviceDowntimeMs: number | null },
): DowntimeComparison {
  return {
    mode: planned.mode,
    projectedDowntimeMs: planned.downtimeMs,
    projectedServiceDowntimeMs: planned.serviceDowntimeMs,
    atSwitchover,
    measuredDowntimeMs: measured.downtimeMs,
    measuredServiceDowntimeMs: measured.serviceDowntimeMs,
    ratio:
      measured.downtimeMs === null || planned.downtimeMs <= 0
        ? null
        : Math.round((measured.downtimeMs / planned.downtimeMs) * 100) / 100,
  };
}

const secondsOf = (ms: number) =>
  ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;

/** The projection as text lines for `quickmig plan`: per mode both downtimes, then each term and how it was computed. */
export function explainDowntime(projection: DowntimeProjection, chosen: string | null): string[] {
  const lines = [
    'Downtime (projected before the start; downtime = VM stopped → target running, service = heartbeat → heartbeat):',
  ];
  for (const m of projection.modes) {
    lines.push(
      `  ${m.mode}${m.mode === chosen ? ' (chosen)' : ''}: downtime ${secondsOf(m.downtimeMs)}, service ${secondsOf(m.serviceDowntimeMs)}`,
    );
    for (const t of m.terms)
      lines.push(
        `      ${t.step.padEnd(9)} ${secondsOf(t.ms).padStart(8)}${t.vm ? '' : ' (service only)'}  ${t.how}`,
      );
  }
  return lines;
}

/** Rates and guest times of an environment (a lab profile, say), for {@link physicalLimit}. */
export interface EnvironmentRates {
  /** Source home datastore write rate (suspend), bytes/s. */
  sourceWriteBps: number;
  /** Source datastore read rate (copy), bytes/s. */
  sourceReadBps: number;
  /** Target datastore write rate (copy), bytes/s. */
  targetWriteBps: number;
  /** Target home datastore read rate (resume), bytes/s. */
  targetReadBps: number;
  /** Link between the hosts, bytes/s. */
  linkBps: number;
  guestShutdownMs: number;
  bootToHeartbeatMs: number;
  resumeToHeartbeatMs: number;
}

/**
 * The physical floor of a switchover in an environment whose rates are known: the same sums as the
 * projection with no fixed cost for registering or power tasks (suspend + state and changes copied at
 * the slowest of read, write and link + resume; for Cold the guest's shutdown and boot). With
 * `readBack` (verify `sha256`), the copy also reads every byte back from the target, at the slower of
 * its read rate and the link, as {@link copyRate} counts it. For the benchmark: a measured downtime
 * beside this limit says how much is the product's own overhead.
 */
export function physicalLimit(
  mode: 'smartswitch' | 'cold',
  env: EnvironmentRates,
  sizes: { memoryBytes: number; switchoverBytes: number; coldStop?: 'guest' | 'power-off' },
  options: { readBack?: boolean } = {},
): ModeProjection {
  const once = Math.min(env.sourceReadBps, env.targetWriteBps, env.linkBps);
  const back = Math.min(env.targetReadBps, env.linkBps);
  return projectMode(mode, {
    memoryBytes: sizes.memoryBytes,
    switchoverBytes: sizes.switchoverBytes,
    switchoverBytesSource: 'copied at the switchover',
    sourceHomeWrite: { bps: env.sourceWriteBps, source: 'environment' },
    targetHomeRead: { bps: env.targetReadBps, source: 'environment' },
    copy: options.readBack
      ? {
          bps: thenReadBack(once, back),
          source: 'environment: slowest of read, write and link, then read back from the target',
        }
      : { bps: once, source: 'environment: slowest of read, write and link' },
    coldStop: sizes.coldStop ?? 'guest',
    times: {
      guestShutdownMs: env.guestShutdownMs,
      bootToHeartbeatMs: env.bootToHeartbeatMs,
      resumeToHeartbeatMs: env.resumeToHeartbeatMs,
      registerMs: 0,
      powerTaskMs: 0,
    },
  });
}
