/**
 * The batch figure (issue 21): a batch plan of many tiny running VMs (300 by default) run by three
 * `quickmig worker` processes, one all-in-one (workflows, control steps, and copies on the plan's
 * data-mover queue) and two `--data-mover-only` on that queue, with limits low enough that admission
 * bites (global, copy streams per host, snapshots per datastore, suspends per host). One data mover
 * is killed with SIGKILL a third of the way in: the all-in-one is the only workflow worker, so a data
 * mover is the one whose loss the batch must absorb (its copies time out on their heartbeat and run
 * again on the other two). Reported: how many succeeded, the most of each resource the lab itself saw
 * against its limit, migrations per minute, the per-migration overhead (as bench's overhead figure
 * splits it: Temporal + SOAP + transfer), who copied what, and the batch's history event count.
 *
 * On a lab of its own (bench/batch-lab.ts), started and removed here.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { QuickmigClient } from '../src/client/migrations';
import { mostAtOnce, openSnapshots, suspendSpans, vmFolders, vmNames } from '../src/lab/call-log';
import { LabControl } from '../src/lab/control';
import type { LabInfo } from '../src/lab/lab';
import { labDown, labUp } from '../src/lab/lab';
import type { OverheadSplit } from './batch-history';
import { copiesInFlight, eachLimited, median, migrationTimes, p90 } from './batch-history';
import type { BatchFigureLimits, BatchLabSpec } from './batch-lab';
import { batchPlan, batchTopology, sampleLab, sourceName, targetName } from './batch-lab';
import { log, round } from './measure';
import type { WorkerProcess } from './migration-figures';
import { startWorkerProcess } from './migration-figures';
import type { LabProfileRecord } from './switchover-figures';
import { readLabProfile } from './switchover-figures';

export type { OverheadSplit } from './batch-history';

/** The batch figure's setting: 300 VMs on 4 source hosts to 2 target hosts. */
export const BATCH_SPEC: BatchLabSpec = { vms: 300, sourceHosts: 4, targetHosts: 2 };

/**
 * Limits that bite: 8 at once in all; 12 streams per host (each tiny copy moves 3 files at once, so 4
 * migrations per target host, 8 over the two, as the global cap: a run of VMs to one target waits on
 * its streams); 2 snapshots per source datastore (8 over the 4 sources, as the global cap); 1 suspend
 * at once per source host.
 */
export const BATCH_LIMITS: BatchFigureLimits = {
  global: 8,
  streamsPerHost: 12,
  snapshotsPerDatastore: 2,
  suspendsPerHost: 1,
};

/** Temporal's event history limits (docs.temporal.io/workflow-execution/limits). */
const HISTORY_WARNING = 10_240;
const HISTORY_LIMIT = 51_200;

/** One resource: the most the lab saw at once, against the plan's limit. */
export interface ObservedResource {
  limit: number;
  max: number;
  /** Per host or datastore. */
  by: Record<string, number>;
}

/** The batch figure. */
export interface BatchFigure {
  spec: BatchLabSpec;
  limits: BatchFigureLimits;
  lab: LabProfileRecord;
  workers: { role: string; pid: number; peakRssMiB: number; killed: boolean }[];
  killed: {
    role: string;
    atSucceeded: number;
    atSeconds: number;
    streamsInFlight: number;
    /** Its copies (copyFiles attempts) started within the second before the kill. */
    copiesSeen: number;
    /** Its attempts still started right after: the copies the kill orphaned, which run again after their heartbeat timeout. */
    orphaned: number;
  } | null;
  succeeded: number;
  failed: string[];
  /** Batch start → batch end, s. */
  seconds: number;
  migrationsPerMinute: number;
  observed: {
    global: ObservedResource;
    streamsPerHost: ObservedResource & { sampledMax: Record<string, number>; samples: number };
    snapshotsPerDatastore: ObservedResource & { created: number };
    suspendsPerHost: ObservedResource & { spans: number; unmatched: string[] };
  };
  withinLimits: boolean;
  /** The batch's own peaks (its ledger). */
  batchPeaks: unknown;
  /** Most VMs waiting at once on each kind, and one example wording per kind. */
  waits: Record<string, { most: number; example: string }>;
  overhead: { median: OverheadSplit; p90OverheadMs: number; migrations: number };
  copies: { byWorker: Record<string, number>; retried: number; retriedVms: string[] };
  history: {
    events: number;
    warning: number;
    limit: number;
    perVm: number;
    /** The history's size, bytes, as the server counts it (Temporal warns at 10 MB and stops at 50 MB). */
    bytes: number;
  };
  /** Σ migrations' time in flight ÷ (global limit × first start → last close): how full the global cap was kept. */
  globalUtilisation: number;
}

/** Starts the batch lab in `dir` (replacing an earlier one there). */
async function startLab(dir: string, spec: BatchLabSpec): Promise<{ info: LabInfo; down(): Promise<void> }> {
  await labDown(dir).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  const topologyDir = `${dir}-topology`;
  mkdirSync(topologyDir, { recursive: true });
  const topology = join(topologyDir, 'topology.json');
  writeFileSync(topology, `${JSON.stringify(batchTopology(spec), null, 2)}\n`);
  const info = await labUp({ dir, topology, timeoutMs: 900_000 });
  return {
    info,
    async down() {
      await labDown(dir);
      rmSync(dir, { recursive: true, force: true });
      rmSync(topologyDir, { recursive: true, force: true });
    },
  };
}

/** Options of {@link batchFigure}. */
export interface BatchFigureOptions {
  labDir: string;
  spec?: BatchLabSpec;
  limits?: BatchFigureLimits;
  /** Keep the lab after the figure. Default false. */
  keepLab?: boolean;
  /** How long the batch may take, ms. Default 2 hours. */
  timeoutMs?: number;
}

/** Runs the batch figure on a lab of its own. */
export async function batchFigure(options: BatchFigureOptions): Promise<BatchFigure> {
  const spec = options.spec ?? BATCH_SPEC;
  const limits = options.limits ?? BATCH_LIMITS;
  log(
    `batch: starting its lab (${spec.vms} VMs, ${spec.sourceHosts} source hosts, ${spec.targetHosts} target hosts)`,
  );
  const began = performance.now();
  const lab = await startLab(options.labDir, spec);
  log(`batch: lab up after ${round((performance.now() - began) / 1000, 0)} s`);
  const workers: FigureWorker[] = [];
  try {
    const profile = await readLabProfile(lab);
    const movers = `quickmig-bench-batch-movers-${Date.now().toString(36)}`;
    const allInOne = await startWorkerProcess(lab, false, { dataMoverQueue: movers });
    workers.push({ role: 'all-in-one', proc: allInOne, peakRssMiB: Number.NaN, killed: false });
    for (const n of [1, 2]) {
      const proc = await startWorkerProcess(lab, true, { dataMoverQueue: movers });
      workers.push({ role: `data mover ${n}`, proc, peakRssMiB: Number.NaN, killed: false });
    }
    const connection = await Connection.connect({ address: lab.info.temporal.address });
    try {
      const client = new Client({ connection, namespace: lab.info.temporal.namespace });
      const figure = await runBatch(lab.info, client, allInOne.taskQueue, movers, spec, limits, workers);
      for (const w of workers) if (!w.killed) w.peakRssMiB = (await w.proc.stop()).peakRssMiB;
      return {
        ...figure,
        lab: profile,
        workers: workers.map((w) => ({
          role: w.role,
          pid: w.proc.pid,
          peakRssMiB: w.peakRssMiB,
          killed: w.killed,
        })),
      };
    } finally {
      await connection.close();
    }
  } finally {
    for (const w of workers) if (!w.killed) await w.proc.stop().catch(() => undefined);
    if (options.keepLab) log(`batch: lab kept in ${options.labDir}`);
    else await lab.down();
  }
}

/**
 * The batch's progress, asked again while the server answers UNAVAILABLE (the dev server on a loaded
 * machine once answered `shard status unknown` for a moment), for up to 5 minutes.
 */
async function progressOf(quickmig: QuickmigClient, id: string): ReturnType<QuickmigClient['batchProgress']> {
  const until = Date.now() + 300_000;
  for (;;) {
    try {
      return await quickmig.batchProgress(id);
    } catch (error) {
      if (Date.now() > until) throw error;
      log(
        `batch: progress query failed (${(error as Error).message}: ${String((error as { cause?: unknown }).cause ?? '')}); asking again`,
      );
      await sleep(2000);
    }
  }
}

/** A worker process of the figure. */
interface FigureWorker {
  role: string;
  proc: WorkerProcess;
  peakRssMiB: number;
  killed: boolean;
}

async function runBatch(
  info: LabInfo,
  client: Client,
  taskQueue: string,
  movers: string,
  spec: BatchLabSpec,
  limits: BatchFigureLimits,
  workers: FigureWorker[],
): Promise<Omit<BatchFigure, 'lab' | 'workers'>> {
  const quickmig = new QuickmigClient(client, { taskQueue });
  const control = (name: string) => {
    const ep = info.endpoints.find((e) => e.name === name);
    if (ep === undefined) throw new Error(`the batch lab has no endpoint ${name}`);
    return new LabControl(ep);
  };
  const sources = Array.from({ length: spec.sourceHosts }, (_, h) => sourceName(h));
  const targets = Array.from({ length: spec.targetHosts }, (_, h) => targetName(h));
  const names = new Map(await Promise.all(sources.map(async (s) => [s, await vmNames(control(s))] as const)));
  for (const ep of [...sources, ...targets]) {
    await control(ep).resetStreams();
    await control(ep).clearCalls();
  }
  const sampler = sampleLab(info);
  const plan = batchPlan(`bench-${Date.now().toString(36)}`, spec, limits);
  const started = performance.now();
  const { id } = await quickmig.startBatch(plan, { dataMoverTaskQueue: movers });
  log(`batch: started ${id} (${spec.vms} VMs), limits ${JSON.stringify(limits)}`);
  const waits: BatchFigure['waits'] = {};
  let killed: BatchFigure['killed'] = null;
  const killAt = Math.ceil(spec.vms / 3);
  let lastLog = 0;
  for (;;) {
    const p = await progressOf(quickmig, id);
    for (const [kind, n] of Object.entries(p.counts.waitingOn ?? {})) {
      const example = p.vms.find((v) => v.waitingFor?.kind === kind)?.waitingOn ?? '';
      const w = waits[kind] ?? { most: 0, example };
      w.most = Math.max(w.most, n as number);
      waits[kind] = w;
    }
    const seconds = (performance.now() - started) / 1000;
    const streams = sampler.streamsNow();
    // A third of the way in, the data mover running the most copies started within the last second
    // (else, 30 VMs later, data mover 1), looked for four times a second.
    if (killed === null && p.counts.succeeded >= killAt) {
      const running = p.vms.filter((v) => v.state === 'running').map((v) => v.migrationId);
      const copies = [...(await copiesInFlight(client, running, workers.slice(1), 1000)).entries()].sort(
        (a, b) => b[1] - a[1],
      )[0];
      const victim = copies?.[0] ?? (p.counts.succeeded >= killAt + 30 ? workers[1] : undefined);
      if (victim) {
        victim.peakRssMiB = (await victim.proc.kill()).peakRssMiB;
        victim.killed = true;
        // Its attempts still started once it is dead: the copies it took down with it.
        const orphaned = (await copiesInFlight(client, running, [victim])).get(victim) ?? 0;
        killed = {
          role: victim.role,
          atSucceeded: p.counts.succeeded,
          atSeconds: round(seconds, 1),
          streamsInFlight: streams,
          copiesSeen: copies?.[1] ?? 0,
          orphaned,
        };
        log(
          `batch: killed ${victim.role} (pid ${victim.proc.pid}, SIGKILL) at ${p.counts.succeeded} succeeded: ${killed.copiesSeen} copies of its own seen in flight before, ${orphaned} still started after (orphaned)`,
        );
        continue;
      }
    }
    if (seconds - lastLog >= 30) {
      lastLog = seconds;
      log(`batch: ${round(seconds, 0)} s: ${JSON.stringify(p.counts)}`);
    }
    if (p.status !== 'RUNNING') break;
    await sleep(killed === null && p.counts.succeeded >= killAt ? 250 : 2000);
  }
  const result = await quickmig.batchResult(id);
  const seconds = (performance.now() - started) / 1000;
  const lab = await sampler.stop();
  const succeeded = result.vms.filter((v) => v.state === 'succeeded').length;
  const failed = result.vms
    .filter((v) => v.state !== 'succeeded')
    .map((v) => `${v.vm}: ${v.state} at ${v.error?.step ?? '?'}: ${v.error?.message ?? ''}`);
  log(`batch: ${succeeded}/${spec.vms} succeeded in ${round(seconds, 1)} s`);

  // The histories: the batch's event count; each migration's split, and who copied.
  // The server's own count of the history's events and size.
  const described = await client.workflow.getHandle(id).describe();
  const batchEvents = described.historyLength;
  const batchBytes = described.historySize ?? Number.NaN;
  const children = result.vms.filter((v) => v.startedAt !== null);
  const times = await eachLimited(children, 6, async (v) =>
    migrationTimes((await client.workflow.getHandle(v.migrationId).fetchHistory()).events ?? []),
  );
  const byWorker: Record<string, number> = {};
  const role = (identity: string) =>
    workers.find((w) => identity.startsWith(`${w.proc.pid}@`))?.role ?? identity;
  for (const t of times) for (const i of t.copyIdentity) byWorker[role(i)] = (byWorker[role(i)] ?? 0) + 1;
  const retriedVms = children.filter((_, i) => times[i]?.copyRetried).map((v) => v.vm);
  const ok = times.filter((_, i) => children[i]?.state === 'succeeded');
  const pick = (f: (t: OverheadSplit) => number) => round(median(ok.map(f)), 0);

  // The lab's counters against the limits.
  const folders = await Promise.all(
    targets.map(async (t) => ({ calls: lab.calls.get(t) ?? [], folderOf: await vmFolders(control(t)) })),
  );
  const snapshots = Object.fromEntries(sources.map((s) => [s, openSnapshots(lab.calls.get(s) ?? [])]));
  const suspends = Object.fromEntries(
    sources.map((s) => {
      const { spans, unmatched } = suspendSpans(lab.calls.get(s) ?? [], (m) => names.get(s)?.get(m), folders);
      return [s, { max: mostAtOnce(spans), spans: spans.length, unmatched }];
    }),
  );
  const streamsBy = Object.fromEntries(Object.entries(lab.streams).map(([h, s]) => [h, s.gaugeMax]));
  const observed: BatchFigure['observed'] = {
    global: {
      limit: limits.global,
      max: mostAtOnce(times.map((t) => ({ from: t.startMs, to: t.closeMs }))),
      by: {},
    },
    streamsPerHost: {
      limit: limits.streamsPerHost,
      max: Math.max(0, ...Object.values(streamsBy)),
      by: streamsBy,
      sampledMax: Object.fromEntries(Object.entries(lab.streams).map(([h, s]) => [h, s.sampledMax])),
      samples: lab.samples,
    },
    snapshotsPerDatastore: {
      limit: limits.snapshotsPerDatastore,
      max: Math.max(0, ...Object.values(snapshots).map((s) => s.max)),
      by: Object.fromEntries(Object.entries(snapshots).map(([s, v]) => [`${s}/datastore1`, v.max])),
      created: Object.values(snapshots).reduce((n, s) => n + s.created, 0),
    },
    suspendsPerHost: {
      limit: limits.suspendsPerHost,
      max: Math.max(0, ...Object.values(suspends).map((s) => s.max)),
      by: Object.fromEntries(Object.entries(suspends).map(([s, v]) => [`${s}.lab`, v.max])),
      spans: Object.values(suspends).reduce((n, s) => n + s.spans, 0),
      unmatched: Object.values(suspends).flatMap((s) => s.unmatched),
    },
  };
  const first = Math.min(...times.map((t) => t.startMs));
  const last = Math.max(...times.map((t) => t.closeMs));
  const inFlight = times.reduce((sum, t) => sum + (t.closeMs - t.startMs), 0);
  const globalUtilisation = round(inFlight / (limits.global * (last - first)), 3);
  const withinLimits = Object.values(observed).every((o) => o.max <= o.limit);
  return {
    spec,
    limits,
    killed,
    succeeded,
    failed,
    seconds: round(seconds, 1),
    migrationsPerMinute: round(succeeded / (seconds / 60), 1),
    observed,
    withinLimits,
    globalUtilisation,
    batchPeaks: result.maxRunning,
    waits,
    overhead: {
      median: {
        totalMs: pick((t) => t.totalMs),
        temporalMs: pick((t) => t.temporalMs),
        soapMs: pick((t) => t.soapMs),
        transferMs: pick((t) => t.transferMs),
        slotWaitMs: pick((t) => t.slotWaitMs),
        queueMs: pick((t) => t.queueMs),
        overheadMs: pick((t) => t.overheadMs),
      },
      p90OverheadMs: round(p90(ok.map((t) => t.overheadMs)), 0),
      migrations: ok.length,
    },
    copies: { byWorker, retried: retriedVms.length, retriedVms },
    history: {
      events: batchEvents,
      warning: HISTORY_WARNING,
      limit: HISTORY_LIMIT,
      perVm: round(batchEvents / spec.vms, 1),
      bytes: batchBytes,
    },
  };
}

/** The 50-VM figures of the same (or the last) full run, to set the batch beside. */
export interface BatchBaseline {
  /** `concurrency`: N migrations started at once on one in-process worker. */
  concurrency?: { migrations: number; migrationsPerMinute: number } | null;
  /** `overhead`: one tiny VM alone, split as here. */
  overhead?: { totalMs: { best: number }; temporalMs: number; soapMs: number; transferMs: number } | null;
  /** Where the baseline comes from when not from this run. */
  from?: string;
}

/** The batch figure's section of summary.md. */
export function batchMarkdown(f: BatchFigure, baseline: BatchBaseline = {}): string {
  const o = f.observed;
  const by = (r: Record<string, number>) =>
    Object.entries(r)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  const m = f.overhead.median;
  const c = baseline.concurrency;
  const alone = baseline.overhead;
  const lines = [
    `## Batch: ${f.spec.vms} VMs, three workers, one killed`,
    '',
    `${f.spec.vms} tiny running VMs (1–4 MiB disk, 16 MiB memory, SmartSwitch) on ${f.spec.sourceHosts} source ESXi hosts ` +
      `(one datastore each) to ${f.spec.targetHosts} target hosts, one batch plan with limits global ${f.limits.global}, ` +
      `streamsPerHost ${f.limits.streamsPerHost}, snapshotsPerDatastore ${f.limits.snapshotsPerDatastore}, suspendsPerHost ` +
      `${f.limits.suspendsPerHost}. Workers: ${f.workers.map((w) => `${w.role} (peak RSS ${w.peakRssMiB} MiB${w.killed ? ', killed' : ''})`).join(', ')}. ` +
      (f.killed
        ? `The ${f.killed.role} was killed (SIGKILL) ${f.killed.atSeconds} s in, at ${f.killed.atSucceeded} succeeded; it had started ${f.killed.copiesSeen} cop${f.killed.copiesSeen === 1 ? 'y' : 'ies'} within the second before; its copies still unfinished right after (orphaned): ${f.killed.orphaned}; the lab's last sample before the kill counted ${f.killed.streamsInFlight} /folder streams in flight over all hosts.`
        : 'No worker was killed.'),
    '',
    `Lab profile: ${f.lab.description}.`,
    '',
    `**${f.succeeded}/${f.spec.vms} succeeded** in ${round(f.seconds / 60, 1)} min: **${f.migrationsPerMinute} migrations per minute**` +
      (c
        ? ` (${c.migrations} tiny VMs started at once on one worker, without limits: ${c.migrationsPerMinute} per minute${baseline.from ? `, ${baseline.from}` : ''})`
        : '') +
      '.',
    ...(f.failed.length > 0 ? ['', 'Failed:', ...f.failed.map((x) => `- ${x}`)] : []),
    '',
    '| resource (in flight: Temporal; the others: the lab’s own counters) | limit | most at once | by host / datastore |',
    '|---|---|---|---|',
    `| migrations in flight (Temporal's child start → close) | ${o.global.limit} | ${o.global.max} | |`,
    `| /folder streams per host (GET /quickmig/streams, every change; ${o.streamsPerHost.samples} one-second samples) | ${o.streamsPerHost.limit} | ${o.streamsPerHost.max} | ${by(o.streamsPerHost.by)} (sampled: ${by(o.streamsPerHost.sampledMax)}) |`,
    `| migration snapshots open per source datastore (call logs; ${o.snapshotsPerDatastore.created} taken) | ${o.snapshotsPerDatastore.limit} | ${o.snapshotsPerDatastore.max} | ${by(o.snapshotsPerDatastore.by)} |`,
    `| suspend → target power-on per source host (call logs; ${o.suspendsPerHost.spans} switchovers${o.suspendsPerHost.unmatched.length ? `, ${o.suspendsPerHost.unmatched.length} without a target power-on` : ''}) | ${o.suspendsPerHost.limit} | ${o.suspendsPerHost.max} | ${by(o.suspendsPerHost.by)} |`,
    '',
    `Within every limit: **${f.withinLimits ? 'yes' : 'NO'}**.` +
      (f.globalUtilisation === undefined
        ? ''
        : ` The global cap was ${round(f.globalUtilisation * 100, 0)} % used (migrations' time in flight ÷ ${f.limits.global} × first start → last end).`) +
      ` Waits the batch showed (most VMs at once on each): ` +
      (Object.entries(f.waits)
        .map(([k, w]) => `${k} ${w.most} (\`${w.example}\`)`)
        .join('; ') || 'none') +
      '.',
    '',
    `Per migration (median of ${f.overhead.migrations}): ${round(m.totalMs / 1000, 2)} s from its start to its end = Temporal ${round(m.temporalMs / 1000, 2)} (of which activities waiting for a worker ${round(m.queueMs / 1000, 2)}) + SOAP ${round(m.soapMs / 1000, 2)} + transfer ${round(m.transferMs / 1000, 2)} + waiting for a suspend slot ${round(m.slotWaitMs / 1000, 2)} s; ` +
      `**overhead (total − transfer − slot wait) ${round(m.overheadMs / 1000, 2)} s** (90th percentile ${round(f.overhead.p90OverheadMs / 1000, 2)} s)` +
      (alone
        ? `; one tiny VM alone: ${round(alone.totalMs.best / 1000, 2)} s = Temporal ${round(alone.temporalMs / 1000, 2)} + SOAP ${round(alone.soapMs / 1000, 2)} + transfer ${round(alone.transferMs / 1000, 2)}, overhead ${round((alone.totalMs.best - alone.transferMs) / 1000, 2)} s`
        : '') +
      '.',
    '',
    `Copies by worker (the attempt that completed): ${by(f.copies.byWorker)}; ${f.copies.retried} migration(s) copied again after the kill (their copy's heartbeat timed out)${f.copies.retried ? `: ${f.copies.retriedVms.slice(0, 10).join(', ')}${f.copies.retried > 10 ? ', …' : ''}` : ''}.`,
    '',
    `The batch's history: **${f.history.events} events** (${f.history.perVm} per VM; Temporal warns at ${f.history.warning} and stops at ${f.history.limit})` +
      (f.history.bytes === undefined
        ? ''
        : `, ${round(f.history.bytes / 2 ** 20, 2)} MiB (warning at 10 MB, limit 50 MB)`) +
      '.',
  ];
  return `${lines.join('\n')}\n`;
}
