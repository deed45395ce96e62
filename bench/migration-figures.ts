/**
 * Migration figures, through the real stack: quickmig workers on the lab's Temporal server, workflows
 * started with @temporalio/client. The downtime and budget migrations run in `quickmig worker` processes,
 * as deployed; overhead and concurrency in an in-process worker (`createWorkers`, as `quickmig worker`
 * wires it).
 *
 * - downtime: `result.downtimeMs` (source stopped → target running) of SmartSwitch and Cold at each disk
 *   size, one pass (the changes copied once, at switchover, as Veeam does) and warm (pre-copy rounds to a
 *   downtime budget), with the same guest write rate switched on right before each migration; plus where
 *   the switchover's time went, read from the workflow history.
 * - memory: peak RSS of the processes that copied the downtime migrations' bytes, the largest 8 GiB: the
 *   `quickmig worker` process in one sweep over every size, a `quickmig worker --data-mover-only` process
 *   (workflows and control steps still on the first) in the other.
 * - overhead: a migration of a tiny VM, end to end, split into Temporal, SOAP and transfer time.
 * - concurrency: N tiny VMs migrated at once on the one worker.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { LabControl } from '../src/lab/control';
import type { MigrationRequestInput } from '../src/request/request';
import type { VSphereClient } from '../src/vsphere';
import type { MigrationResult } from '../src/workflows/definitions';
import { quickMigration } from '../src/workflows/quick-migration';
import type { LabWorker } from '../test/support/lab-worker';
import { startLabWorker } from '../test/support/lab-worker';
import { imageRuntime } from './image-runtime';
import type { BenchLab, DowntimeRuns } from './lab';
import { budgetVm, downtimeVm } from './lab';
import type { Samples } from './measure';
import { log, round, samples } from './measure';

/** The bench's worker: test/support/lab-worker.ts, on a queue named after the bench. */
export type BenchWorker = LabWorker;

/** Starts the worker for the lab (worker logs at WARN and above). */
export function startBenchWorker(lab: BenchLab): Promise<BenchWorker> {
  return startLabWorker(lab.info, { queuePrefix: 'quickmig-bench' });
}

/** Where a migration runs: the worker's task queue, and the data movers' when they have their own. */
export interface Route {
  taskQueue: string;
  dataMoverTaskQueue?: string;
}

function start(
  w: BenchWorker,
  request: MigrationRequestInput,
  route: Route = { taskQueue: w.taskQueue },
): Promise<WorkflowHandle<typeof quickMigration>> {
  const { taskQueue, dataMoverTaskQueue } = route;
  return w.client.workflow.start(quickMigration, {
    taskQueue,
    workflowId: `bench-${request.source.name}-${randomUUID().slice(0, 8)}`,
    args: dataMoverTaskQueue === undefined ? [request] : [request, { dataMoverTaskQueue }],
  });
}

/** A `quickmig worker` process: workflows, control activities and copies, as the command runs by default. */
export interface WorkerProcess {
  taskQueue: string;
  pid: number;
  /** Stops it; resolves with its peak RSS (VmHWM) and RSS just before the stop, MiB. */
  stop(): Promise<{ peakRssMiB: number; rssMiB: number }>;
  /** Kills it with SIGKILL (no shutdown: its running activities are lost); resolves with its RSS just before. */
  kill(): Promise<{ peakRssMiB: number; rssMiB: number }>;
}

/** Where a `quickmig worker` process polls, besides its role. */
export interface WorkerProcessOptions {
  /** The workflow task queue (not for `--data-mover-only`). Default: a fresh one. */
  taskQueue?: string;
  /** `--data-mover-queue Q`: data movers on Q (for `--data-mover-only`, its only queue). Default: a fresh one for `--data-mover-only`, none otherwise. */
  dataMoverQueue?: string;
}

const CLI = fileURLToPath(new URL('../bin/quickmig.js', import.meta.url));

/** Peak (VmHWM) and current (VmRSS) resident set of a process, MiB, from one read of `/proc/<pid>/status`. */
function rssOf(pid: number): { peakRssMiB: number; rssMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (key: string) =>
    round(Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024, 1);
  return { peakRssMiB: mib('VmHWM'), rssMiB: mib('VmRSS') };
}

/**
 * Starts `quickmig worker` for the lab on a task queue of its own (a copy of the lab's configuration);
 * with `dataMoverOnly`, `quickmig worker --data-mover-only` serving only the copies on that queue.
 */
export async function startWorkerProcess(
  lab: Pick<BenchLab, 'info'>,
  dataMoverOnly = false,
  options: WorkerProcessOptions = {},
): Promise<WorkerProcess> {
  const fresh = `quickmig-bench-${dataMoverOnly ? 'movers' : 'process'}-${randomUUID().slice(0, 8)}`;
  const taskQueue = dataMoverOnly ? (options.dataMoverQueue ?? fresh) : (options.taskQueue ?? fresh);
  const config = JSON.parse(readFileSync(lab.info.workerConfig, 'utf8')) as Record<string, unknown>;
  const configFile = join(lab.info.dir, `${fresh}.json`);
  writeFileSync(configFile, JSON.stringify(dataMoverOnly ? config : { ...config, taskQueue }));
  const role = dataMoverOnly
    ? ['--data-mover-only', '--data-mover-queue', taskQueue]
    : options.dataMoverQueue
      ? ['--data-mover-queue', options.dataMoverQueue]
      : [];
  // The worker image's node flags and environment (Dockerfile): the figure is that of the worker as deployed.
  const image = imageRuntime();
  const args = [...image.nodeArgs, CLI, 'worker', '--config', configFile, ...role, '--log-level', 'WARN'];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...image.env },
  });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    // The command prints where it polls once its workers are created.
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes(`task queue ${taskQueue}`)) resolve();
    });
    void exited.then((code) =>
      reject(new Error(`quickmig worker exited ${code} before it was ready:\n${err}`)),
    );
  });
  const pid = child.pid as number;
  return {
    taskQueue,
    pid,
    async stop() {
      const rss = rssOf(pid);
      child.kill('SIGTERM');
      await exited;
      return rss;
    },
    async kill() {
      const rss = rssOf(pid);
      child.kill('SIGKILL');
      await exited;
      return rss;
    },
  };
}

const request = (
  vm: string,
  mode: 'smartswitch' | 'cold' | 'auto' = 'auto',
  options: NonNullable<MigrationRequestInput['options']> = {},
): MigrationRequestInput => ({
  source: { endpoint: 'esx-a', name: vm },
  target: { endpoint: 'esx-b', datastore: 'datastore1' },
  options: { method: 'quick-migration', mode, ...options },
});

/** One activity execution read from a workflow history. */
export interface ActivitySpan {
  name: string;
  scheduledMs: number;
  startedMs: number;
  endedMs: number;
}

type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;
const ms = (t: Ts) => (t ? Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6 : 0);
const id = (v: unknown) => Number(String(v ?? 0));

/** The activity executions of a finished workflow, in order, and its start and close times. */
export async function activitySpans(
  handle: WorkflowHandle,
): Promise<{ spans: ActivitySpan[]; startMs: number; closeMs: number }> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const spans = new Map<number, ActivitySpan>();
  for (const e of events) {
    const t = ms(e.eventTime as Ts);
    if (e.activityTaskScheduledEventAttributes) {
      spans.set(id(e.eventId), {
        name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
        scheduledMs: t,
        startedMs: t,
        endedMs: t,
      });
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const s = spans.get(id(started.scheduledEventId));
      if (s) s.startedMs = t;
    }
    const ended =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (ended) {
      const s = spans.get(id(ended.scheduledEventId));
      if (s) s.endedMs = t;
    }
  }
  return {
    spans: [...spans.values()].sort((a, b) => a.scheduledMs - b.scheduledMs),
    startMs: ms(events[0]?.eventTime as Ts),
    closeMs: ms(events.at(-1)?.eventTime as Ts),
  };
}

/** Where a switchover's time went: each activity between the source's stop and the target's start. */
export interface SwitchoverStep {
  activity: string;
  /** Scheduled → started (Temporal dispatch), ms. */
  queueMs: number;
  /** Started → completed, ms. */
  runMs: number;
}

function switchoverSteps(spans: ActivitySpan[]): SwitchoverStep[] {
  const power = spans.filter((s) => s.name === 'setPowerState');
  // Since patch SWITCHOVER_TRUTH, stopSource stops the source and startTarget starts the target; before
  // it, the first setPowerState stopped the source and the second started the target.
  const stop = spans.find((s) => s.name === 'stopSource') ?? power[0];
  const startTarget = spans.find((s) => s.name === 'startTarget') ?? power[1];
  if (stop === undefined || startTarget === undefined) return [];
  return spans
    .filter((s) => s.scheduledMs >= stop.scheduledMs && s.endedMs <= startTarget.endedMs)
    .map((s) => ({
      activity: s.name,
      queueMs: round(s.startedMs - s.scheduledMs, 0),
      runMs: round(s.endedMs - s.startedMs, 0),
    }));
}

/** How a downtime migration copies: one pass (the changes once, at switchover, as Veeam does) or warm. */
export type DowntimeVariant = 'one-pass' | 'warm';

/** The downtime budget of the warm variant, ms; above it the workflow switches over anyway (and says so). */
export const WARM_BUDGET_MS = 1000;

/** Downtime figures of one mode, size and variant. */
export interface DowntimeFigure {
  mode: 'smartswitch' | 'cold';
  variant: DowntimeVariant;
  sizeMiB: number;
  /** Warm: pre-copy rounds of the best run, and whether the budget was met (measured downtime). */
  precopy: {
    rounds: number;
    deltaMiB: number[];
    projectedMs: number | null;
    budgetMet: boolean | null;
  } | null;
  downtimeMs: Samples;
  /** Bytes copied by the whole migration (bulk + delta), best run. */
  bytesCopied: number;
  /** Time of the whole migration, best run, s. */
  totalSeconds: number;
  /** The switchover of the run with the best downtime. */
  switchover: SwitchoverStep[];
}

/** Removes what a migration left, so the next one has the disk space: the target VM and the kept source files. */
async function cleanUp(a: VSphereClient, b: VSphereClient, vm: string): Promise<void> {
  for (const v of await b.inventory.listVms()) {
    if (v.name === vm) await b.vms.destroy(v.ref).catch(() => undefined);
  }
  await b.files.delete(`[datastore1] ${vm}`).catch(() => undefined);
  await a.files.delete(`[datastore1] ${vm}`).catch(() => undefined);
}

/**
 * SmartSwitch and Cold at every size, one pass and warm (maxDowntimeMs WARM_BUDGET_MS), `runs[variant]`
 * times each (interleaved: run N of every size before run N + 1), at `guestBytesPerSec`; run N on
 * `routes[(N - 1) % routes.length]`.
 */
export async function downtimeFigures(
  lab: BenchLab,
  w: BenchWorker,
  sizesMiB: number[],
  runs: DowntimeRuns,
  guestBytesPerSec: number,
  routes: Route[] = [{ taskQueue: w.taskQueue }],
): Promise<{ figures: DowntimeFigure[]; largestMiB: number }> {
  const [a, b] = await Promise.all([lab.connect('esx-a'), lab.connect('esx-b')]);
  const control = new LabControl(lab.endpoint('esx-a'));
  const largest = Math.max(...sizesMiB);
  type Run = { downtime: number; result: MigrationResult; seconds: number; steps: SwitchoverStep[] };
  const raw = new Map<string, Run[]>();
  const variants: DowntimeVariant[] = ['one-pass', 'warm'];
  const modes = ['smartswitch', 'cold'] as const;
  try {
    for (let run = 1; run <= Math.max(...variants.map((v) => runs[v])); run++) {
      for (const mib of sizesMiB) {
        for (const mode of modes) {
          for (const variant of variants) {
            if (run > runs[variant]) continue;
            const vm = downtimeVm(mode, mib, run, variant === 'warm');
            await control.setGuestRate(vm, guestBytesPerSec);
            const started = performance.now();
            const options =
              variant === 'warm'
                ? { maxDowntimeMs: WARM_BUDGET_MS, precopy: { onBudgetMiss: 'switchover' as const } }
                : {};
            const handle = await start(w, request(vm, mode, options), routes[(run - 1) % routes.length]);
            const result = await handle.result();
            const seconds = (performance.now() - started) / 1000;
            if (result.mode !== mode || result.downtimeMs === null) {
              throw new Error(`${vm}: expected a ${mode} migration with a downtime, got ${result.mode}`);
            }
            const steps = switchoverSteps((await activitySpans(handle)).spans);
            const key = `${mode} ${mib} ${variant}`;
            raw.set(key, [...(raw.get(key) ?? []), { downtime: result.downtimeMs, result, seconds, steps }]);
            const rounds = result.precopy?.rounds ?? [];
            log(
              `downtime ${mode} ${variant} ${mib} MiB run ${run}: ${result.downtimeMs} ms (migration ${round(seconds, 1)} s, ` +
                `${round(result.bytesCopied / 2 ** 20, 0)} MiB copied` +
                (rounds.length > 0
                  ? `; ${rounds.length} pre-copy round(s) of ${rounds.map((r) => round(r.bytes / 2 ** 20, 1)).join('/')} MiB, projected ${result.precopy?.projection?.ms} ms`
                  : '') +
                `; switchover: ${steps.map((s) => `${s.activity} ${s.queueMs}+${s.runMs}`).join(', ')})`,
            );
            await cleanUp(a, b, vm);
          }
        }
      }
    }
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
  const figures: DowntimeFigure[] = [];
  for (const variant of variants) {
    for (const mib of sizesMiB) {
      for (const mode of modes) {
        const list = raw.get(`${mode} ${mib} ${variant}`) ?? [];
        const best = list.reduce((x, y) => (y.downtime < x.downtime ? y : x));
        const pc = best.result.precopy;
        figures.push({
          mode,
          variant,
          sizeMiB: mib,
          precopy: pc
            ? {
                rounds: pc.rounds.length,
                deltaMiB: pc.rounds.map((r) => round(r.bytes / 2 ** 20, 1)),
                projectedMs: pc.projection?.ms ?? null,
                budgetMet: pc.budgetMet,
              }
            : null,
          downtimeMs: samples(
            list.map((l) => l.downtime),
            'lower',
          ),
          bytesCopied: best.result.bytesCopied,
          totalSeconds: round(Math.min(...list.map((l) => l.seconds)), 1),
          switchover: best.steps,
        });
      }
    }
  }
  return { figures, largestMiB: largest };
}

/** The budget figure's setting: a guest writing 6 MiB/s on source storage that serves 12 MiB/s. */
export const BUDGET = {
  maxDowntimeMs: 2000,
  guestBytesPerSec: 6 * 2 ** 20,
  storageBytesPerSec: 12 * 2 ** 20,
} as const;

/** One warm migration against a downtime budget: what the workflow projected and what it measured. */
export interface BudgetRun {
  mode: 'smartswitch' | 'cold';
  rounds: number;
  deltaMiB: number[];
  /** The projection the switchover had to fit: maxDowntimeMs less the headroom. */
  targetMs: number | null;
  projectedMs: number | null;
  downtimeMs: number;
  budgetMet: boolean;
}

/** The downtime-budget figure: every run, how many met the budget, and how far measured was from projected. */
export interface BudgetFigure {
  maxDowntimeMs: number;
  guestBytesPerSec: number;
  storageBytesPerSec: number;
  runs: BudgetRun[];
  met: number;
  worstDowntimeMs: number;
  /** Measured − projected downtime, ms: mean and largest. */
  projectionErrorMs: { mean: number; max: number };
}

/**
 * Warm migrations that need several pre-copy rounds to fit BUDGET.maxDowntimeMs (the converging case of
 * test/workflows/warm.integration.test.ts, measured here instead of asserted): SmartSwitch and Cold, `runs`
 * times each. The budget is met when the measured downtime (source stopped → target running) fits it.
 */
export async function budgetFigure(
  lab: BenchLab,
  w: BenchWorker,
  runs: number,
  route?: Route,
): Promise<BudgetFigure> {
  const [a, b] = await Promise.all([lab.connect('esx-a'), lab.connect('esx-b')]);
  const control = new LabControl(lab.endpoint('esx-a'));
  const list: BudgetRun[] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      for (const mode of ['smartswitch', 'cold'] as const) {
        const vm = budgetVm(mode, run);
        await control.addFault({
          kind: 'bandwidth',
          method: 'GET',
          path: `/${vm}/`,
          bytesPerSec: BUDGET.storageBytesPerSec,
        });
        await control.setGuestRate(vm, BUDGET.guestBytesPerSec);
        const options = {
          maxDowntimeMs: BUDGET.maxDowntimeMs,
          precopy: { maxRounds: 10, onBudgetMiss: 'switchover' as const },
        };
        const result = await (await start(w, request(vm, mode, options), route)).result();
        const pc = result.precopy;
        if (result.downtimeMs === null || pc === null) throw new Error(`${vm}: no warm switchover`);
        const r: BudgetRun = {
          mode,
          rounds: pc.rounds.length,
          deltaMiB: pc.rounds.map((x) => round(x.bytes / 2 ** 20, 1)),
          targetMs: pc.targetMs,
          projectedMs: pc.projection?.ms ?? null,
          downtimeMs: result.downtimeMs,
          budgetMet: result.downtimeMs <= BUDGET.maxDowntimeMs,
        };
        list.push(r);
        log(
          `budget ${mode} run ${run}: ${r.rounds} round(s) of ${r.deltaMiB.join('/')} MiB, projected ${r.projectedMs} ms ` +
            `(aim ${r.targetMs} ms), measured ${r.downtimeMs} ms, budget ${BUDGET.maxDowntimeMs} ms ${r.budgetMet ? 'met' : 'MISSED'}`,
        );
        await cleanUp(a, b, vm);
      }
    }
  } finally {
    await control.clearFaults();
    await Promise.all([a.close(), b.close()]);
  }
  const errors = list
    .filter((r) => r.projectedMs !== null)
    .map((r) => r.downtimeMs - (r.projectedMs as number));
  return {
    ...BUDGET,
    runs: list,
    met: list.filter((r) => r.budgetMet).length,
    worstDowntimeMs: Math.max(...list.map((r) => r.downtimeMs)),
    projectionErrorMs: {
      mean: round(errors.reduce((x, y) => x + y, 0) / Math.max(1, errors.length), 0),
      max: Math.max(...errors),
    },
  };
}

/** The overhead figure: a tiny VM's migration split into Temporal, SOAP and transfer time. */
export interface OverheadFigure {
  totalMs: Samples;
  /** Of the best run. */
  temporalMs: number;
  soapMs: number;
  transferMs: number;
  activities: number;
}

/** Migrates `vms` one after another and splits the best one's time by where it went. */
export async function overheadFigures(lab: BenchLab, w: BenchWorker, vms: string[]): Promise<OverheadFigure> {
  const runs: {
    totalMs: number;
    temporalMs: number;
    soapMs: number;
    transferMs: number;
    activities: number;
  }[] = [];
  for (const vm of vms) {
    const started = performance.now();
    const handle = await start(w, request(vm));
    await handle.result();
    const totalMs = performance.now() - started;
    const { spans } = await activitySpans(handle);
    const run = (names: (n: string) => boolean) =>
      spans.filter((s) => names(s.name)).reduce((sum, s) => sum + (s.endedMs - s.startedMs), 0);
    const transferMs = run((n) => n === 'copyFiles');
    const soapMs = run((n) => n !== 'copyFiles');
    runs.push({
      totalMs,
      transferMs,
      soapMs,
      temporalMs: totalMs - transferMs - soapMs,
      activities: spans.length,
    });
    log(
      `overhead ${vm}: ${round(totalMs, 0)} ms = Temporal ${round(totalMs - transferMs - soapMs, 0)} + SOAP ${round(soapMs, 0)} + transfer ${round(transferMs, 0)} (${spans.length} activities)`,
    );
  }
  void lab;
  const best = runs.reduce((x, y) => (y.totalMs < x.totalMs ? y : x));
  return {
    totalMs: samples(
      runs.map((r) => r.totalMs),
      'lower',
    ),
    temporalMs: round(best.temporalMs, 0),
    soapMs: round(best.soapMs, 0),
    transferMs: round(best.transferMs, 0),
    activities: best.activities,
  };
}

/** The concurrency figure. */
export interface ConcurrencyFigure {
  migrations: number;
  succeeded: number;
  failed: string[];
  seconds: number;
  migrationsPerMinute: number;
}

/** Starts a migration of every VM at once and waits for all of them. */
export async function concurrencyFigure(w: BenchWorker, vms: string[]): Promise<ConcurrencyFigure> {
  const started = performance.now();
  const handles = await Promise.all(vms.map((vm) => start(w, request(vm))));
  const outcomes = await Promise.allSettled(handles.map((h) => h.result()));
  const seconds = (performance.now() - started) / 1000;
  const failed = outcomes.flatMap((o, i) =>
    o.status === 'rejected' ? [`${vms[i]}: ${failureMessage(o.reason)}`] : [],
  );
  log(`concurrency: ${vms.length} migrations in ${round(seconds, 1)} s, ${failed.length} failed`);
  return {
    migrations: vms.length,
    succeeded: vms.length - failed.length,
    failed,
    seconds: round(seconds, 2),
    migrationsPerMinute: round((vms.length - failed.length) / (seconds / 60), 1),
  };
}

function failureMessage(reason: unknown): string {
  const e = reason as { message?: string; cause?: { message?: string } };
  return e?.cause?.message ?? e?.message ?? String(reason);
}

/** Task waits in the switchover path (suspend, power on): WaitForUpdatesEx against polling. */
export interface TaskWaitFigure {
  /** Suspend + power-on of one VM, ms. */
  updatesMs: Samples;
  pollMs: Samples;
}

/** Suspends and resumes `vm` `runs` times with each wait strategy, alternating. */
export async function taskWaitFigure(lab: BenchLab, vm: string, runs: number): Promise<TaskWaitFigure> {
  const a = await lab.connect('esx-a');
  const updates: number[] = [];
  const poll: number[] = [];
  try {
    const ref = (await a.inventory.listVms()).find((v) => v.name === vm)?.ref;
    if (ref === undefined) throw new Error(`no VM ${vm}`);
    for (let i = 0; i < runs; i++) {
      for (const strategy of ['updates', 'poll'] as const) {
        const t = performance.now();
        await a.vms.suspend(ref, { strategy });
        await a.vms.powerOn(ref, {}, { strategy });
        (strategy === 'updates' ? updates : poll).push(performance.now() - t);
      }
    }
  } finally {
    await a.close();
  }
  log(
    `task waits: updates ${updates.map((x) => round(x, 0)).join('/')} ms, poll ${poll.map((x) => round(x, 0)).join('/')} ms`,
  );
  return { updatesMs: samples(updates, 'lower'), pollMs: samples(poll, 'lower') };
}
