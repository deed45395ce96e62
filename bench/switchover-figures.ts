/**
 * Downtime by memory size (issue 16): SmartSwitch and Cold of running VMs with 1, 4 and 8 GiB of memory
 * on the lab's realistic profile, each run beside the plan's projection (what `quickmig plan` showed
 * before the start) and beside the physical limit of the lab's own rates and guest times
 * (`physicalLimit` in src/planner/downtime.ts), for both downtimes:
 *
 * - `downtimeMs`: the VM stopped or suspended → the target VM running;
 * - `serviceDowntimeMs`: the source guest's last heartbeat → the target guest's heartbeat green.
 *
 * The lab profile (datastore rates, link rate and stream cap, suspend scale, guest times) is read from
 * the running simulators (`GET /quickmig/profile` of each endpoint), never from constants here, and
 * recorded beside the figures.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { LabControl } from '../src/lab/control';
import type { EffectiveProfile } from '../src/lab/topology';
import type { EnvironmentRates, ModeProjection } from '../src/planner/downtime';
import { physicalLimit } from '../src/planner/downtime';
import type { MigrationRequestInput, Verify } from '../src/request/request';
import type { VSphereClient } from '../src/vsphere';
import type { MigrationResult } from '../src/workflows/definitions';
import { quickMigration } from '../src/workflows/quick-migration';
import type { BenchLab } from './lab';
import { SWITCHOVER_DISK_MIB, switchoverVm } from './lab';
import { log, round } from './measure';
import type { Route } from './migration-figures';
import { activitySpans } from './migration-figures';

/** Switchover modes measured. */
export type SwitchoverMode = 'smartswitch' | 'cold';

/** The profile every endpoint of the lab ran with, as its simulator reported it. */
export interface LabProfileRecord {
  /** Where the values come from. */
  source: string;
  endpoints: { name: string; profile: EffectiveProfile }[];
  /** One line naming the profile, for the summary and the README. */
  description: string;
}

/** Reads the profile in force from each endpoint's simulator and checks it against the lab state. */
export async function readLabProfile(lab: Pick<BenchLab, 'info'>): Promise<LabProfileRecord> {
  const endpoints = await Promise.all(
    lab.info.endpoints.map(async (ep) => ({
      name: ep.name,
      profile: await new LabControl(ep).profile(),
    })),
  );
  for (const { name, profile } of endpoints) {
    // `lab up` computes the same values from the topology; a difference means the simulator binary and
    // lab/vcsim/profiles.json disagree, and the simulator's (what the figures ran on) is recorded.
    const stated = lab.info.endpoints.find((e) => e.name === name)?.profile;
    if (stated && JSON.stringify(stated) !== JSON.stringify(profile)) {
      log(
        `warning: ${name}'s simulator runs ${JSON.stringify(profile)}; the lab state says ${JSON.stringify(stated)}`,
      );
    }
  }
  return {
    source: 'GET /quickmig/profile of each lab endpoint (the values the simulator enforces)',
    endpoints,
    description: describeProfile(endpoints),
  };
}

const mbps = (v: number) => (v > 0 ? `${v} MB/s` : 'unpaced');

/** `realistic: datastore1 VMFS read/write 400/400 MB/s, link 10 Gb/s (8 streams), suspend state 1/1, …`. */
export function describeProfile(endpoints: LabProfileRecord['endpoints']): string {
  const names = [...new Set(endpoints.map((e) => e.profile.profile))].join('/');
  const datastores = [
    ...new Set(
      endpoints.flatMap((e) =>
        e.profile.datastores.map(
          (d) =>
            `${d.type.toUpperCase()} read/write ${d.readMBps > 0 ? d.readMBps : 'unpaced'}/${mbps(d.writeMBps)}`,
        ),
      ),
    ),
  ].join(', ');
  const links = [
    ...new Set(
      endpoints.flatMap((e) =>
        e.profile.hosts.map(
          (h) =>
            `${h.linkGbps > 0 ? `${h.linkGbps} Gb/s` : 'unpaced'} link, ${h.maxFolderStreams} /folder streams`,
        ),
      ),
    ),
  ].join(', ');
  const p = endpoints[0]?.profile;
  if (p === undefined) return 'no endpoints';
  return (
    `${names} (${datastores}; ${links}; suspend state = memory ÷ ${p.suspendScale}; ` +
    `guest shutdown ${p.shutdownSec} s, boot to heartbeat ${p.bootSec} s, resume to heartbeat ${p.resumeSec} s)`
  );
}

/** Bytes per second of a rate in MB/s (10^6 B); 0 (unpaced) is no limit. */
const bps = (mbPerSec: number) => (mbPerSec > 0 ? mbPerSec * 1e6 : Number.POSITIVE_INFINITY);

/** The environment `physicalLimit` needs, from the profiles of the source and target endpoints. */
export function environmentOf(
  record: LabProfileRecord,
  source: { endpoint: string; datastore: string },
  target: { endpoint: string; datastore: string },
): EnvironmentRates {
  const profileOf = (name: string) => {
    const p = record.endpoints.find((e) => e.name === name)?.profile;
    if (p === undefined) throw new Error(`the lab profile has no endpoint ${name}`);
    return p;
  };
  const datastoreOf = (p: EffectiveProfile, name: string) => {
    const d = p.datastores.find((x) => x.name === name);
    if (d === undefined) throw new Error(`the lab profile has no datastore ${name}`);
    return d;
  };
  const sp = profileOf(source.endpoint);
  const tp = profileOf(target.endpoint);
  const sd = datastoreOf(sp, source.datastore);
  const td = datastoreOf(tp, target.datastore);
  const link = Math.min(...[...sp.hosts, ...tp.hosts].map((h) => bps((h.linkGbps * 1000) / 8)));
  return {
    sourceWriteBps: bps(sd.writeMBps),
    sourceReadBps: bps(sd.readMBps),
    targetWriteBps: bps(td.writeMBps),
    targetReadBps: bps(td.readMBps),
    linkBps: link,
    guestShutdownMs: sp.shutdownSec * 1000,
    bootToHeartbeatMs: tp.bootSec * 1000,
    resumeToHeartbeatMs: tp.resumeSec * 1000,
  };
}

/** One activity of the switchover: from the source's stop to the target guest's heartbeat. */
export interface SwitchoverSpan {
  activity: string;
  /** Scheduled → started (Temporal dispatch), ms. */
  queueMs: number;
  /** Started → completed, ms. */
  runMs: number;
}

/** One migration of the sweep. */
export interface SwitchoverRun {
  run: number;
  /** Measured: source stopped → target running. */
  downtimeMs: number;
  /** Measured: source guest's last heartbeat → target guest's heartbeat; null when not measured. */
  serviceDowntimeMs: number | null;
  /** How the source stopped, as the result says. */
  stop: string | null;
  /** The plan's projection (before the start). */
  projected: { downtimeMs: number; serviceDowntimeMs: number } | null;
  /** The same sums at the switchover, with the bytes it copied and the copy rate this migration measured. */
  atSwitchover: { downtimeMs: number; serviceDowntimeMs: number } | null;
  /** The physical limit of the lab's rates and guest times, each copy one pass, with its terms. */
  limit: ModeProjection;
  /**
   * The same limit with the read-back of every copied byte that verify `sha256` adds (each file is read
   * back from the target and hashed before the target starts); null when the run verified otherwise.
   */
  verifiedLimit?: ModeProjection | null;
  /** Bytes the switchover copied (suspend state, changes, configuration). */
  switchoverBytes: number;
  /** measured ÷ projected and measured ÷ limit, for both downtimes. */
  ratio: {
    downtimeVsProjection: number | null;
    downtimeVsLimit: number | null;
    serviceVsProjection: number | null;
    serviceVsLimit: number | null;
    downtimeVsVerifiedLimit?: number | null;
    serviceVsVerifiedLimit?: number | null;
  };
  /** Whole migration, s. */
  totalSeconds: number;
  steps: SwitchoverSpan[];
}

/** What a run measured, before it is set beside its limits. */
type MeasuredRun = Omit<SwitchoverRun, 'limit' | 'verifiedLimit' | 'ratio'>;

/** Every run of one mode and memory size. */
export interface SwitchoverFigure {
  mode: SwitchoverMode;
  memoryGiB: number;
  runs: SwitchoverRun[];
}

/** The sweep's figures and what they ran on. */
export interface SwitchoverFigures {
  /** How each migration ran. */
  setting: string;
  /** options.verify of every migration (absent in results from before it was recorded: read from `setting`). */
  verify?: Verify;
  guestWriteBytesPerSec: number;
  diskMiB: number;
  runsPerFigure: number;
  figures: SwitchoverFigure[];
}

const ratio = (measured: number | null, reference: number | null | undefined) =>
  measured === null || reference === null || reference === undefined || reference <= 0
    ? null
    : round(measured / reference, 2);

/** The verify level a sweep ran with. */
function verifyOf(s: SwitchoverFigures): Verify {
  return s.verify ?? (/options\.verify (none|size)/.exec(s.setting)?.[1] as Verify | undefined) ?? 'sha256';
}

/**
 * A run's physical limits and its ratios to them, from what it measured and the lab's profile: the
 * suspend state is the limit's own term (memory ÷ the profile's suspend scale), the rest of the bytes
 * copied at the switchover are the changes and configuration.
 */
function judged(
  run: MeasuredRun,
  mode: SwitchoverMode,
  memoryGiB: number,
  profile: LabProfileRecord,
  verify: Verify,
): SwitchoverRun {
  const env = environmentOf(
    profile,
    { endpoint: 'esx-a', datastore: 'datastore1' },
    { endpoint: 'esx-b', datastore: 'datastore1' },
  );
  const suspendScale = profile.endpoints.find((e) => e.name === 'esx-a')?.profile.suspendScale ?? Number.NaN;
  const stateBytes = mode === 'smartswitch' ? (memoryGiB * 2 ** 30) / suspendScale : 0;
  const sizes = {
    memoryBytes: stateBytes,
    switchoverBytes: Math.max(0, run.switchoverBytes - stateBytes),
    coldStop: 'guest' as const,
  };
  const limit = physicalLimit(mode, env, sizes);
  const verifiedLimit = verify === 'sha256' ? physicalLimit(mode, env, sizes, { readBack: true }) : null;
  const service = run.serviceDowntimeMs;
  return {
    ...run,
    limit,
    verifiedLimit,
    ratio: {
      downtimeVsProjection: ratio(run.downtimeMs, run.projected?.downtimeMs),
      downtimeVsLimit: ratio(run.downtimeMs, limit.downtimeMs),
      serviceVsProjection: ratio(service, run.projected?.serviceDowntimeMs),
      serviceVsLimit: ratio(service, limit.serviceDowntimeMs),
      downtimeVsVerifiedLimit: ratio(run.downtimeMs, verifiedLimit?.downtimeMs),
      serviceVsVerifiedLimit: ratio(service, verifiedLimit?.serviceDowntimeMs),
    },
  };
}

/**
 * Every run's limits and ratios computed again from its measurements and the recorded profile (for
 * `npm run bench -- --report-only`: results written by an earlier version of this file).
 */
export function rejudged(s: SwitchoverFigures, profile: LabProfileRecord): SwitchoverFigures {
  const verify = verifyOf(s);
  return {
    ...s,
    verify,
    figures: s.figures.map((f) => ({
      ...f,
      runs: f.runs.map((r) => judged(r, f.mode, f.memoryGiB, profile, verify)),
    })),
  };
}

/** The switchover's activities (stop → heartbeat) read from the workflow history, and the bytes it copied. */
async function switchoverOf(handle: WorkflowHandle): Promise<{ steps: SwitchoverSpan[]; bytes: number }> {
  const { spans } = await activitySpans(handle);
  const stop = spans.find((s) => s.name === 'stopSource');
  const end =
    spans.findLast((s) => s.name === 'waitForService') ?? spans.findLast((s) => s.name === 'startTarget');
  if (stop === undefined || end === undefined) {
    throw new Error(
      `${handle.workflowId}: no stopSource/startTarget in its history (a switchover before SWITCHOVER_TRUTH?)`,
    );
  }
  const startTarget = spans.find((s) => s.name === 'startTarget' && s.scheduledMs >= stop.scheduledMs);
  // The heartbeat wait runs beside finalize's steps, which are not part of the switchover.
  const inside = spans.filter(
    (s) =>
      s.scheduledMs >= stop.scheduledMs &&
      s.endedMs <= end.endedMs &&
      (s.name === 'waitForService' || startTarget === undefined || s.scheduledMs <= startTarget.scheduledMs),
  );
  // The bytes: the results of the copyFiles activities between the stop and the start.
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, string>();
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
  }
  let bytes = 0;
  for (const e of history.events ?? []) {
    const done = e.activityTaskCompletedEventAttributes;
    if (!done || scheduled.get(String(done.scheduledEventId)) !== 'copyFiles') continue;
    const t = Number(String(e.eventTime?.seconds ?? 0)) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
    if (t < stop.scheduledMs || (startTarget && t > startTarget.scheduledMs)) continue;
    const payload = done.result?.payloads?.[0];
    if (payload) bytes += defaultPayloadConverter.fromPayload<{ bytesTotal: number }>(payload).bytesTotal;
  }
  return {
    steps: inside.map((s) => ({
      activity: s.name,
      queueMs: round(s.startedMs - s.scheduledMs, 0),
      runMs: round(s.endedMs - s.startedMs, 0),
    })),
    bytes,
  };
}

/** Removes what a migration left (target VM, kept source files), so the next has the disk space. */
async function cleanUp(a: VSphereClient, b: VSphereClient, vm: string): Promise<void> {
  for (const v of await b.inventory.listVms()) {
    if (v.name === vm) await b.vms.destroy(v.ref).catch(() => undefined);
  }
  await b.files.delete(`[datastore1] ${vm}`).catch(() => undefined);
  await a.files.delete(`[datastore1] ${vm}`).catch(() => undefined);
}

/** Options of {@link switchoverFigures}. */
export interface SwitchoverSweep {
  memoryGiB: number[];
  /** Modes measured; default both. */
  modes?: SwitchoverMode[];
  /** options.verify of every migration; default the request's default (sha256: a read-back of every file). */
  verify?: Verify;
  runs: number;
  /** The guest's write rate during each migration, bytes/s (switched on right before it). */
  guestBytesPerSec: number;
  profile: LabProfileRecord;
}

/**
 * SmartSwitch and Cold of every `sweep.memoryGiB` VM, `sweep.runs` times (run N of every size before
 * run N + 1), one pass (no downtime budget), on `route`; each beside its projection and physical limit.
 */
export async function switchoverFigures(
  lab: BenchLab,
  client: Client,
  route: Route,
  sweep: SwitchoverSweep,
): Promise<SwitchoverFigures> {
  const [a, b] = await Promise.all([lab.connect('esx-a'), lab.connect('esx-b')]);
  const control = new LabControl(lab.endpoint('esx-a'));
  const verify: Verify = sweep.verify ?? 'sha256';
  const modes: SwitchoverMode[] = sweep.modes ?? ['smartswitch', 'cold'];
  const figures: SwitchoverFigure[] = sweep.memoryGiB.flatMap((memoryGiB) =>
    modes.map((mode) => ({ mode, memoryGiB, runs: [] as SwitchoverRun[] })),
  );
  try {
    for (let run = 1; run <= sweep.runs; run++) {
      for (const memoryGiB of sweep.memoryGiB) {
        for (const mode of modes) {
          const vm = switchoverVm(mode, memoryGiB, run);
          await control.setGuestRate(vm, sweep.guestBytesPerSec);
          const request: MigrationRequestInput = {
            source: { endpoint: 'esx-a', name: vm },
            target: { endpoint: 'esx-b', datastore: 'datastore1' },
            options: { method: 'quick-migration', mode, ...(sweep.verify ? { verify: sweep.verify } : {}) },
          };
          const started = performance.now();
          const handle = await client.workflow.start(quickMigration, {
            taskQueue: route.taskQueue,
            workflowId: `bench-${vm}-${randomUUID().slice(0, 8)}`,
            args:
              route.dataMoverTaskQueue === undefined
                ? [request]
                : [request, { dataMoverTaskQueue: route.dataMoverTaskQueue }],
          });
          const result: MigrationResult = await handle.result();
          const totalSeconds = round((performance.now() - started) / 1000, 1);
          if (result.mode !== mode || result.downtimeMs === null) {
            throw new Error(`${vm}: expected a ${mode} migration with a downtime, got ${result.mode}`);
          }
          const { steps, bytes } = await switchoverOf(handle);
          const p = result.switchover?.projection ?? null;
          const service = result.serviceDowntimeMs ?? null;
          const measured: MeasuredRun = {
            run,
            downtimeMs: result.downtimeMs,
            serviceDowntimeMs: service,
            stop: result.switchover?.stop ?? null,
            projected: p
              ? { downtimeMs: p.projectedDowntimeMs, serviceDowntimeMs: p.projectedServiceDowntimeMs }
              : null,
            atSwitchover: p?.atSwitchover
              ? { downtimeMs: p.atSwitchover.downtimeMs, serviceDowntimeMs: p.atSwitchover.serviceDowntimeMs }
              : null,
            switchoverBytes: bytes,
            totalSeconds,
            steps,
          };
          const r = judged(measured, mode, memoryGiB, sweep.profile, verify);
          figures.find((f) => f.mode === mode && f.memoryGiB === memoryGiB)?.runs.push(r);
          const limits = (key: 'downtimeMs' | 'serviceDowntimeMs') =>
            r.verifiedLimit
              ? `limit ${r.limit[key]}, with the read-back ${r.verifiedLimit[key]}`
              : `limit ${r.limit[key]}`;
          log(
            `switchover ${mode} ${memoryGiB} GiB run ${run}: downtime ${r.downtimeMs} ms (projected ${r.projected?.downtimeMs ?? '–'}, ` +
              `${limits('downtimeMs')}), service ${service ?? '–'} ms (projected ${r.projected?.serviceDowntimeMs ?? '–'}, ` +
              `${limits('serviceDowntimeMs')}); ${round(bytes / 2 ** 20, 1)} MiB at the switchover; migration ${totalSeconds} s; ` +
              steps.map((s) => `${s.activity} ${s.queueMs}+${s.runMs}`).join(', '),
          );
          await cleanUp(a, b, vm);
        }
      }
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  return {
    verify,
    setting:
      'one pass (no downtime budget), mode forced per figure, default options (Cold: guest shutdown through VMware Tools' +
      (sweep.verify
        ? `; options.verify ${sweep.verify}`
        : '; verify sha256, a read-back of every copied file') +
      ')',
    guestWriteBytesPerSec: sweep.guestBytesPerSec,
    diskMiB: SWITCHOVER_DISK_MIB,
    runsPerFigure: sweep.runs,
    figures,
  };
}

/** The run a figure is headlined by: the one with the lowest measured downtime (as the other figures). */
export function bestRun(f: SwitchoverFigure): SwitchoverRun | undefined {
  return f.runs.reduce<SwitchoverRun | undefined>(
    (x, y) => (x === undefined || y.downtimeMs < x.downtimeMs ? y : x),
    undefined,
  );
}

/** Issue 16's target for one mode at 4 GiB: the downtime that mode's limit is about, within 1.2× of both. */
export interface SwitchoverTarget {
  figure: string;
  target: string;
  value: string;
  met: boolean | null;
}

/**
 * The targets of issue 16: SmartSwitch's `downtimeMs` (suspend + copy + resume) and Cold's
 * `serviceDowntimeMs` (shutdown + copy + boot: its VM downtime has no physical floor to speak of) at
 * 4 GiB, each within 1.2× of its projection (either way) and at most 1.2× its physical limit; every run
 * must meet it. The limit as the issue states it copies each byte once; with verify `sha256` (the
 * default) each copied file is also read back from the target before the target starts, so a second
 * row holds the runs against the limit that counts that read-back.
 */
export function switchoverTargets(s: SwitchoverFigures): SwitchoverTarget[] {
  const out: SwitchoverTarget[] = [];
  const within = (x: number | null | undefined, low: number, high: number) =>
    x !== null && x !== undefined && x >= low && x <= high;
  for (const mode of ['smartswitch', 'cold'] as const) {
    const f = s.figures.find((x) => x.mode === mode && x.memoryGiB === 4);
    const which = mode === 'smartswitch' ? 'downtimeMs' : 'serviceDowntimeMs';
    const figure = `${mode} 4 GiB memory, ${which}: measured ÷ projection, measured ÷ physical limit (one pass per copy)`;
    if (f === undefined || f.runs.length === 0) {
      out.push({ figure, target: '0.83–1.2, ≤ 1.2', value: 'not run', met: null });
      continue;
    }
    const of = (r: SwitchoverRun) =>
      mode === 'smartswitch'
        ? {
            p: r.ratio.downtimeVsProjection,
            l: r.ratio.downtimeVsLimit,
            v: r.ratio.downtimeVsVerifiedLimit,
          }
        : { p: r.ratio.serviceVsProjection, l: r.ratio.serviceVsLimit, v: r.ratio.serviceVsVerifiedLimit };
    const runs = f.runs.map(of);
    out.push({
      figure,
      target: '0.83–1.2, ≤ 1.2 (every run)',
      value: runs.map(({ p, l }) => `${p ?? '–'}, ${l ?? '–'}`).join('; '),
      met: runs.every(({ p, l }) => within(p, 1 / 1.2, 1.2) && within(l, 0, 1.2)),
    });
    if (runs.some(({ v }) => v !== null && v !== undefined)) {
      out.push({
        figure: `${mode} 4 GiB memory, ${which}: measured ÷ physical limit with verify sha256's read-back`,
        target: '≤ 1.2 (every run)',
        value: runs.map(({ v }) => `${v ?? '–'}`).join('; '),
        met: runs.every(({ v }) => within(v, 0, 1.2)),
      });
    }
  }
  return out;
}

const sec = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? '–' : (ms / 1000).toFixed(2);

/** The summary's section: the profile, then every run beside its projection and limit. */
export function switchoverMarkdown(
  s: SwitchoverFigures,
  profile: LabProfileRecord,
  conditions?: string,
): string {
  const lines: string[] = [];
  lines.push(
    '## Downtime by memory size, on the realistic lab',
    '',
    `Lab profile: ${profile.description} (read from ${profile.source}).`,
    '',
    `Each migration: a running VM with the memory shown, a ${s.diskMiB} MiB disk, the guest writing ` +
      `${round(s.guestWriteBytesPerSec / 2 ** 20, 1)} MiB/s; ${s.setting}. ${s.runsPerFigure} run(s) per figure.` +
      (conditions ? ` ${conditions}` : ''),
    '',
    'Downtime = source stopped → target VM running; service = source guest heartbeat → target guest heartbeat.',
    'Projected = the plan before the start (default rates and times, or a measured copy rate); limit = the',
    "lab's own rates and guest times with no product overhead (`physicalLimit`): SmartSwitch suspend (memory ÷",
    'home write rate) + state and changes copied (slowest of read, write, link) + resume (state read); Cold the',
    'changes copied, and for the service the guest shutdown before and the boot to heartbeat after.',
    ...(verifyOf(s) === 'sha256'
      ? [
          'Where a limit reads "a / b": a copies each byte once, b adds the read-back of every copied byte from',
          'the target (at its read rate) that verify sha256 does before the target starts; ÷ limit likewise.',
        ]
      : []),
    '',
    '| memory | mode | run | downtime s | projected | limit | ÷ proj. | ÷ limit | service s | projected | limit | ÷ proj. | ÷ limit | copied at switchover MiB | switchover steps (queue+run ms) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  const pair = (a: string, b: string | undefined) => (b === undefined ? a : `${a} / ${b}`);
  for (const f of s.figures) {
    for (const r of f.runs) {
      const v = r.verifiedLimit ?? undefined;
      const rv = (x: number | null | undefined) => (v === undefined ? undefined : `${x ?? '–'}`);
      lines.push(
        `| ${f.memoryGiB} GiB | ${f.mode} | ${r.run} | ${sec(r.downtimeMs)} | ${sec(r.projected?.downtimeMs)} | ` +
          `${pair(sec(r.limit.downtimeMs), v && sec(v.downtimeMs))} | ${r.ratio.downtimeVsProjection ?? '–'} | ` +
          `${pair(`${r.ratio.downtimeVsLimit ?? '–'}`, rv(r.ratio.downtimeVsVerifiedLimit))} | ${sec(r.serviceDowntimeMs)} | ` +
          `${sec(r.projected?.serviceDowntimeMs)} | ${pair(sec(r.limit.serviceDowntimeMs), v && sec(v.serviceDowntimeMs))} | ` +
          `${r.ratio.serviceVsProjection ?? '–'} | ${pair(`${r.ratio.serviceVsLimit ?? '–'}`, rv(r.ratio.serviceVsVerifiedLimit))} | ` +
          `${round(r.switchoverBytes / 2 ** 20, 1)} | ` +
          `${r.steps.map((x) => `${x.activity} ${x.queueMs}+${x.runMs}`).join(', ')} |`,
      );
    }
  }
  lines.push('', '| target (issue 16) | wanted | measured per run | met |', '|---|---|---|---|');
  for (const t of switchoverTargets(s)) {
    lines.push(
      `| ${t.figure} | ${t.target} | ${t.value} | ${t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
