/**
 * `npm run bench [-- --quick] [-- --out DIR] [-- --lab-dir DIR] [-- --keep-lab] [-- --report-only] [-- --only batch [--batch-vms N] | --only budget]`: quickmig's speed against
 * what a user would pick instead, every figure measured next to its baseline in the same run, on a lab
 * of its own (bench/lab.ts). Writes `latest.json`, `summary.md` and `chart.svg` to bench/results/ (or
 * --out). See bench/README.md for what each figure means and the tuning log.
 *
 * The lab runs the realistic profile (guests that take 20 s to shut down and 40 s to boot, suspend
 * state the size of memory, datastore and link rates): every Cold migration waits for its guest, so a
 * full run takes 67 minutes on 2 cores at a load average of 2 to 4 (31 on the old instant lab), about 25 GiB
 * of free disk at its peak. `--quick`: smaller sizes and fewer VMs,
 * 1 GiB only for the downtime by memory (21 minutes at a load average of 7 to 20 on 2 cores); the figures it cannot produce (4 GiB,
 * 8 GiB) are null. `npm run bench:switchover` runs the downtime by memory alone (bench/switchover.ts).
 * `--report-only` measures nothing: it reads `latest.json` from --out, computes the downtime-by-memory
 * limits and targets again with this version's rules, and writes the three files again.
 * `--only batch` runs the batch figure alone (bench/batch-figure.ts: 300 VMs, three workers, one
 * killed; `--batch-vms N` for fewer) on its own lab, and writes `batch-latest.json` and `batch-summary.md`,
 * beside the 50-VM figures of `latest.json` (7 to 20 minutes on 2 cores at a load average of 7 to 15).
 * A full run includes the batch figure at 300 VMs, first, which adds as much to it; --quick at 50.
 */
import { mkdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { projectRoot } from '../src/lab/tools';
import type { BatchBaseline, BatchFigure } from './batch-figure';
import { BATCH_SPEC, batchFigure, batchMarkdown } from './batch-figure';
import type { BenchLabSpec } from './lab';
import { startBenchLab } from './lab';
import { log, round } from './measure';
import type { BudgetFigure, DowntimeVariant } from './migration-figures';
import {
  budgetFigure,
  concurrencyFigure,
  downtimeFigures,
  overheadFigures,
  startBenchWorker,
  startWorkerProcess,
  taskWaitFigure,
  WARM_BUDGET_MS,
} from './migration-figures';
import type { ReportInput, TargetCheck } from './report';
import { budgetMarkdown, chart, markdown } from './report';
import { startupFigure } from './startup';
import type { LabProfileRecord, SwitchoverFigures } from './switchover-figures';
import { readLabProfile, rejudged, switchoverFigures, switchoverTargets } from './switchover-figures';
import { thinFigures } from './thin-figures';
import { multiDiskFigures, transferFigures } from './transfer-figures';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(projectRoot, 'bench', 'results') },
    'lab-dir': { type: 'string', default: join(projectRoot, '.quickmig', 'bench-lab') },
    'keep-lab': { type: 'boolean', default: false },
    'report-only': { type: 'boolean', default: false },
    only: { type: 'string' },
    'batch-vms': { type: 'string' },
  },
});
if (values.only !== undefined && values.only !== 'batch' && values.only !== 'budget') {
  throw new Error(
    `--only: the figures that run alone are 'batch' and 'budget' (got ${JSON.stringify(values.only)})`,
  );
}
const batchVms = values['batch-vms'] === undefined ? BATCH_SPEC.vms : Number(values['batch-vms']);
if (!Number.isInteger(batchVms) || batchVms < 1 || batchVms > 500) {
  throw new Error(`--batch-vms: give a whole number from 1 to 500 (got ${values['batch-vms']})`);
}
const quick = values.quick === true;

/** What each mode measures. */
const plan = quick
  ? {
      transferMiB: [1024],
      transferRuns: 2,
      multiDiskMiB: [128, 128, 128, 128],
      multiRuns: 2,
      // Thin-disk figures: a disk ~10 % allocated, by allocated data against a whole-file copy.
      thinMiB: 1024,
      downtimeMiB: [256, 1024],
      downtimeRuns: { 'one-pass': 2, warm: 2 },
      budgetRuns: 1,
      overheadRuns: 2,
      concurrency: 10,
      taskWaitRuns: 2,
      startupRuns: 2,
      switchoverMemoryGiB: [1],
      switchoverRuns: 1,
    }
  : {
      transferMiB: [1024, 4096],
      transferRuns: 2,
      multiDiskMiB: [512, 512, 512, 512],
      multiRuns: 2,
      thinMiB: 4096,
      downtimeMiB: [256, 1024, 4096, 8192],
      // The best of several runs: one noisy step (a register taking 150 ms instead of 70 on a shared box)
      // must not decide a figure. On the instant lab the warm variant ran five times (its runs spread by
      // 20 to 50 %); on the realistic lab every Cold run waits about a minute for its guest and every
      // run copies its whole thick disk, so three warm and two one-pass runs keep a full run near 80 min.
      downtimeRuns: { 'one-pass': 2, warm: 3 },
      budgetRuns: 3,
      overheadRuns: 3,
      concurrency: 50,
      taskWaitRuns: 3,
      startupRuns: 3,
      // Downtime by memory: each Cold run waits for a 20 s guest shutdown and a 40 s boot, each
      // SmartSwitch run writes, copies and reads back its whole memory (8 GiB: about a minute).
      switchoverMemoryGiB: [1, 4, 8],
      switchoverRuns: 2,
    };
/** The guest write rate of every downtime VM while it is migrated: 1 MiB/s. */
const GUEST_WRITE_BYTES_PER_SEC = 1024 * 1024;

const TUNING = fileURLToPath(new URL('./TUNING.md', import.meta.url));

function freeGiB(path: string): number {
  const s = statfsSync(path);
  return (s.bavail * s.bsize) / 2 ** 30;
}

/** What `latest.json` holds that the report is made of. */
interface ResultsFile {
  quick: boolean;
  durationSeconds: number;
  machine: Omit<ReportInput['machine'], 'load'> & { loadAverage: { start: number; end: number } };
  lab: LabProfileRecord;
  transfer: { sizes: ReportInput['transfer']; multiDisk: ReportInput['multiDisk'] };
  downtime: {
    guestWriteBytesPerSec: number;
    figures: ReportInput['downtime'];
    budget: ReportInput['budget'];
    /** Absent in results from before the downtime by memory size was measured. */
    byMemory?: SwitchoverFigures;
  };
  targets: TargetCheck[];
  /** Absent in results from before the batch figure. */
  batch?: BatchFigure;
  concurrency?: ReportInput['concurrency'];
  overhead?: ReportInput['overhead'];
}

/** Writes `latest.json`, `summary.md` and `chart.svg` into `out`, and the summary to stdout. */
function writeResults(out: string, results: ResultsFile): void {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  const report: ReportInput = {
    quick: results.quick,
    machine: {
      ...results.machine,
      load: `${results.machine.loadAverage.start} / ${results.machine.loadAverage.end}`,
    },
    durationSeconds: results.durationSeconds,
    targets: results.targets,
    transfer: results.transfer.sizes,
    multiDisk: results.transfer.multiDisk,
    downtime: results.downtime.figures,
    budget: results.downtime.budget,
    guestWriteBytesPerSec: results.downtime.guestWriteBytesPerSec,
    labProfile: results.lab,
    switchover: results.downtime.byMemory,
    ...(results.batch ? { batch: results.batch } : {}),
    ...(results.concurrency ? { concurrency: results.concurrency } : {}),
    ...(results.overhead ? { overhead: results.overhead } : {}),
    tuning: readFileSync(TUNING, 'utf8'),
  };
  writeFileSync(join(out, 'summary.md'), markdown(report));
  writeFileSync(join(out, 'chart.svg'), chart(report));
  process.stdout.write(`${markdown(report)}\n`);
}

/**
 * `--report-only`: the report of the last run written again, its downtime-by-memory limits and targets
 * computed with this version's rules from what that run measured and the lab profile it recorded.
 */
function reportOnly(out: string): number {
  const results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as ResultsFile;
  if (results.downtime.byMemory === undefined) {
    throw new Error(`${join(out, 'latest.json')} holds no downtime by memory size: nothing to compute again`);
  }
  const byMemory = rejudged(results.downtime.byMemory, results.lab);
  // Every target switchoverTargets writes, in this version's wording or an earlier one.
  const isSwitchoverTarget = (t: TargetCheck) => /^(smartswitch|cold) 4 GiB memory, /.test(t.figure);
  const first = results.targets.findIndex(isSwitchoverTarget);
  const others = results.targets.filter((t) => !isSwitchoverTarget(t));
  const at = first < 0 ? others.length : first;
  results.targets = [...others.slice(0, at), ...switchoverTargets(byMemory), ...others.slice(at)];
  results.downtime.byMemory = byMemory;
  writeResults(out, results);
  log(`wrote ${join(out, 'latest.json')}, summary.md and chart.svg again from the recorded figures`);
  return 0;
}

/** The batch of a --quick run. */
const QUICK_BATCH_VMS = 50;

/** The batch figure on a lab of its own, beside the lab of the other figures (never both at once). */
function runBatchFigure(): Promise<BatchFigure> {
  return batchFigure({
    labDir: `${values['lab-dir']}-batch`,
    // --quick: 50 VMs unless --batch-vms says otherwise (300 add 7 to 20 minutes on 2 cores).
    spec: { ...BATCH_SPEC, vms: quick && values['batch-vms'] === undefined ? QUICK_BATCH_VMS : batchVms },
    keepLab: values['keep-lab'] === true,
  });
}

/** The batch's row against the targets: all succeed, no limit exceeded. */
function batchTarget(f: BatchFigure): TargetCheck {
  return {
    figure: `batch of ${f.spec.vms} VMs, three workers (${f.killed ? `${f.killed.role} killed mid-way` : 'none killed'}), limits global ${f.limits.global} / ${f.limits.streamsPerHost} streams per host / ${f.limits.snapshotsPerDatastore} snapshots per datastore / ${f.limits.suspendsPerHost} suspend per host`,
    target: 'all succeed, no limit exceeded',
    value: `${f.succeeded}/${f.spec.vms}, ${f.migrationsPerMinute}/min, most at once: ${f.observed.global.max} in flight, ${f.observed.streamsPerHost.max} streams, ${f.observed.snapshotsPerDatastore.max} snapshots, ${f.observed.suspendsPerHost.max} suspend`,
    met: f.succeeded === f.spec.vms && f.withinLimits && f.killed !== null,
  };
}

/** `--only batch`: the batch figure alone, beside the 50-VM figures of the last full run's `latest.json`. */
async function onlyBatch(out: string): Promise<number> {
  let baseline: BatchBaseline = {};
  try {
    const last = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BatchBaseline & {
      quick: boolean;
      startedAt?: string;
    };
    baseline = {
      concurrency: last.concurrency,
      overhead: last.overhead,
      from: `from the ${last.quick ? '--quick' : 'full'} run of ${last.startedAt?.slice(0, 10) ?? 'latest.json'}`,
    };
  } catch {
    log(`no ${join(out, 'latest.json')}: the batch figure is reported without the 50-VM figures beside it`);
  }
  const loadStart = round(loadavg()[0] ?? 0, 2);
  const figure = await runBatchFigure();
  const loadEnd = round(loadavg()[0] ?? 0, 2);
  const target = batchTarget(figure);
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'batch-latest.json'),
    `${JSON.stringify({ schema: 1, startedAt: new Date().toISOString(), machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAverage: { start: loadStart, end: loadEnd } }, baseline, target, batch: figure }, null, 2)}\n`,
  );
  const md = `${batchMarkdown(figure, baseline)}\nMachine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores; load average at start/end ${loadStart} / ${loadEnd} (1 minute).\n\n| figure | target | measured | met |\n|---|---|---|---|\n| ${target.figure} | ${target.target} | ${target.value} | ${target.met ? 'yes' : '**no**'} |\n`;
  writeFileSync(join(out, 'batch-summary.md'), md);
  process.stdout.write(md);
  return target.met ? 0 : 1;
}

/**
 * `--only budget`: the downtime-budget figure alone (3 runs per mode, 1 with --quick) on a lab of its own
 * with a fresh worker, written to `budget-latest.json` and `budget-summary.md` with the lab profile and
 * the load. The full run measures it after the other downtime figures, whose copies the worker's
 * projection then starts from; here the first run projects from the lab profile's rates.
 */
async function onlyBudget(out: string): Promise<number> {
  const loadStart = round(loadavg()[0] ?? 0, 2);
  const lab = await startBenchLab(values['lab-dir'] as string, {
    transferMiB: [],
    multiDiskMiB: [],
    downtimeMiB: [],
    downtimeRuns: { 'one-pass': 0, warm: 0 },
    budgetRuns: plan.budgetRuns,
    tinyVms: 0,
    switchoverMemoryGiB: [],
    switchoverRuns: 0,
    thinMiB: [],
  });
  try {
    const profile = await readLabProfile(lab);
    const worker = await startBenchWorker(lab);
    const proc = await startWorkerProcess(lab);
    let budget: BudgetFigure;
    try {
      budget = await budgetFigure(lab, worker, plan.budgetRuns, { taskQueue: proc.taskQueue });
    } finally {
      await proc.stop();
      await worker.stop();
    }
    const loadEnd = round(loadavg()[0] ?? 0, 2);
    const machine = {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      loadAverage: { start: loadStart, end: loadEnd },
    };
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, 'budget-latest.json'),
      `${JSON.stringify({ schema: 1, startedAt: new Date().toISOString(), machine, lab: profile, budget }, null, 2)}\n`,
    );
    const md = `${budgetMarkdown(budget)}\nLab profile: ${profile.description}.\nMachine: ${machine.cpu}, ${machine.cores} cores; load average at start/end ${loadStart} / ${loadEnd} (1 minute).\n`;
    writeFileSync(join(out, 'budget-summary.md'), md);
    process.stdout.write(md);
    return budget.met === budget.runs.length ? 0 : 1;
  } finally {
    if (values['keep-lab']) log(`lab kept in ${values['lab-dir']}`);
    else await lab.down();
  }
}

async function main(): Promise<number> {
  if (values['report-only']) return reportOnly(values.out as string);
  if (values.only === 'batch') return onlyBatch(values.out as string);
  if (values.only === 'budget') return onlyBudget(values.out as string);
  const began = performance.now();
  const loadStart = loadavg()[0] ?? 0;
  const needGiB = quick ? 6 : 25;
  mkdirSync(join(values['lab-dir'] as string, '..'), { recursive: true });
  const free = freeGiB(join(values['lab-dir'] as string, '..'));
  if (free < needGiB) {
    throw new Error(`the benchmark needs about ${needGiB} GiB of free disk; ${round(free, 1)} GiB are free`);
  }
  const tiny = Array.from(
    { length: plan.overheadRuns + plan.concurrency },
    (_, i) => `tiny-${String(i + 1).padStart(2, '0')}`,
  );
  const spec: BenchLabSpec = {
    transferMiB: plan.transferMiB,
    multiDiskMiB: plan.multiDiskMiB,
    downtimeMiB: plan.downtimeMiB,
    downtimeRuns: plan.downtimeRuns,
    budgetRuns: plan.budgetRuns,
    tinyVms: tiny.length,
    switchoverMemoryGiB: plan.switchoverMemoryGiB,
    switchoverRuns: plan.switchoverRuns,
    thinMiB: [plan.thinMiB],
  };
  // First, on a lab of its own that is gone before the other figures' lab starts.
  const batch = await runBatchFigure();
  log(`starting the bench lab in ${values['lab-dir']} (${quick ? 'quick' : 'full'} run)`);
  const lab = await startBenchLab(values['lab-dir'] as string, spec);
  log(`lab up after ${round((performance.now() - began) / 1000, 1)} s`);
  let failures = 0;
  try {
    const profile = await readLabProfile(lab);
    log(`lab profile: ${profile.description}`);
    const startup = await startupFigure(lab, plan.startupRuns);
    const taskWait = await taskWaitFigure(lab, 'task-01', plan.taskWaitRuns);
    const transfer = await transferFigures(lab, plan.transferMiB, plan.transferRuns);
    const multiDisk = await multiDiskFigures(
      lab,
      plan.multiDiskMiB,
      plan.multiRuns,
      plan.multiDiskMiB.length,
    );
    const thin = await thinFigures(lab, plan.thinMiB);
    const worker = await startBenchWorker(lab);
    let overhead: Awaited<ReturnType<typeof overheadFigures>>;
    let downtime: Awaited<ReturnType<typeof downtimeFigures>>;
    let budget: BudgetFigure;
    let switchover: SwitchoverFigures;
    let concurrency: Awaited<ReturnType<typeof concurrencyFigure>>;
    let workerRss = { peakRssMiB: Number.NaN, rssMiB: Number.NaN };
    let moverRss = { peakRssMiB: Number.NaN, rssMiB: Number.NaN };
    try {
      overhead = await overheadFigures(lab, worker, tiny.slice(0, plan.overheadRuns));
      // The downtime migrations run in `quickmig worker` processes, whose peak RSS are the memory figures
      // (this process holds the bench, its client and the workflow bundler besides): one sweep over every
      // size with the copies in the worker itself, the other with them on a data-mover-only process.
      const proc = await startWorkerProcess(lab);
      const mover = await startWorkerProcess(lab, true);
      try {
        downtime = await downtimeFigures(
          lab,
          worker,
          plan.downtimeMiB,
          plan.downtimeRuns,
          GUEST_WRITE_BYTES_PER_SEC,
          [{ taskQueue: proc.taskQueue }, { taskQueue: proc.taskQueue, dataMoverTaskQueue: mover.taskQueue }],
        );
        // Before the budget figure: its copies are throttled (12 MiB/s), and the plan projects with the
        // worker's last measured copy rate, so after it every projection here would assume that rate.
        switchover = await switchoverFigures(
          lab,
          worker.client,
          { taskQueue: proc.taskQueue },
          {
            memoryGiB: plan.switchoverMemoryGiB,
            runs: plan.switchoverRuns,
            guestBytesPerSec: GUEST_WRITE_BYTES_PER_SEC,
            profile,
          },
        );
        budget = await budgetFigure(lab, worker, plan.budgetRuns, { taskQueue: proc.taskQueue });
      } finally {
        moverRss = await mover.stop();
        workerRss = await proc.stop();
      }
      concurrency = await concurrencyFigure(worker, tiny.slice(plan.overheadRuns));
    } finally {
      await worker.stop();
    }
    failures += concurrency.failed.length;

    const bySize = <T>(f: (mib: number) => T | undefined, sizes: number[]) =>
      Object.fromEntries(
        sizes.map((mib) => [mib >= 1024 ? `${mib / 1024}GiB` : `${mib}MiB`, f(mib) ?? null]),
      );
    const tf = (mib: number) => transfer.find((t) => t.sizeMiB === mib);
    // The headline downtime figures are the warm variant's (quickmig's answer to "downtime follows the
    // delta, not the disk"); the one-pass variant, Veeam's way, is the baseline beside them.
    const dt = (mode: string, mib: number, variant: DowntimeVariant = 'warm') =>
      downtime.figures.find((d) => d.mode === mode && d.sizeMiB === mib && d.variant === variant)?.downtimeMs
        .best;
    const ratio = (mode: string, variant: DowntimeVariant = 'warm') => {
      const big = dt(mode, 8192, variant);
      const small = dt(mode, 256, variant);
      return big === undefined || small === undefined ? null : round(big / small, 2);
    };
    const largestOverSmallest = (mode: string, variant: DowntimeVariant = 'warm') => {
      const big = dt(mode, Math.max(...plan.downtimeMiB), variant);
      const small = dt(mode, Math.min(...plan.downtimeMiB), variant);
      return big === undefined || small === undefined ? null : round(big / small, 2);
    };
    const results = {
      schema: 1,
      quick,
      startedAt: new Date(Date.now() - (performance.now() - began)).toISOString(),
      durationSeconds: 0,
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        memoryGiB: round(totalmem() / 2 ** 30, 1),
        os: `${type()} ${release()}`,
        node: process.version,
        loadAverage: { start: round(loadStart, 2), end: round(loadavg()[0] ?? 0, 2) },
        shared: true,
      },
      lab: profile,
      transfer: {
        ratioVsCurlPipe: bySize((m) => tf(m)?.ratioVsCurlPipe, [1024, 4096]),
        ratioVsLocalCopy: bySize((m) => tf(m)?.ratioVsLocalCopy, [1024, 4096]),
        sizes: transfer,
        multiDisk,
        thin,
      },
      downtime: {
        guestWriteBytesPerSec: GUEST_WRITE_BYTES_PER_SEC,
        variant: `warm: options.maxDowntimeMs ${WARM_BUDGET_MS}, pre-copy rounds until the projected switchover fits`,
        ms: {
          smartswitch: bySize((m) => dt('smartswitch', m), [256, 1024, 4096, 8192]),
          cold: bySize((m) => dt('cold', m), [256, 1024, 4096, 8192]),
        },
        ratio8GiBto256MiB: { smartswitch: ratio('smartswitch'), cold: ratio('cold') },
        ratioLargestToSmallest: {
          sizes: [Math.min(...plan.downtimeMiB), Math.max(...plan.downtimeMiB)],
          smartswitch: largestOverSmallest('smartswitch'),
          cold: largestOverSmallest('cold'),
        },
        onePass: {
          variant:
            'one pass: the changes since the bulk copy copied once, at switchover (Veeam Quick Migration)',
          ms: {
            smartswitch: bySize((m) => dt('smartswitch', m, 'one-pass'), [256, 1024, 4096, 8192]),
            cold: bySize((m) => dt('cold', m, 'one-pass'), [256, 1024, 4096, 8192]),
          },
          ratio8GiBto256MiB: {
            smartswitch: ratio('smartswitch', 'one-pass'),
            cold: ratio('cold', 'one-pass'),
          },
        },
        figures: downtime.figures,
        budget,
        byMemory: switchover,
      },
      overhead,
      concurrency,
      memory: {
        peakRssMiB: moverRss.peakRssMiB,
        rssAtEndMiB: moverRss.rssMiB,
        largestCopyMiB: downtime.largestMiB,
        process:
          'quickmig worker --data-mover-only (data movers beside the storage): the copies of one sweep over every downtime size',
        allInOneWorker: {
          peakRssMiB: workerRss.peakRssMiB,
          rssAtEndMiB: workerRss.rssMiB,
          process:
            'quickmig worker: workflows and control steps of every downtime and budget migration, and the copies of the other sweep',
        },
      },
      startup: { ...startup, clientMs: startup.clientMs.best, clientMsSamples: startup.clientMs },
      soap: { taskWait },
      batch,
      targets: [] as TargetCheck[],
    };
    const t = results.targets;
    for (const size of ['1GiB', '4GiB'] as const) {
      const v = results.transfer.ratioVsCurlPipe[size] ?? null;
      t.push({
        figure: `transfer ${size}: quickmig / curl pipe`,
        target: '≥ 0.95',
        value: v === null ? 'not run' : String(v),
        met: v === null ? null : v >= 0.95,
      });
    }
    // Headers: per chunk a 64 KiB head at most, and 2 KiB of grain tables per 32 MiB of the disk.
    const thinHeaders =
      Math.ceil(thin.allocatedBytes / thin.chunkBytes + 1) * 65536 + (thin.sizeMiB / 32) * 2048;
    t.push({
      figure: `thin disk ${thin.sizeMiB} MiB (~10 % allocated): bytes on the wire / allocated (time / whole-file copy: ${thin.timeOverWholeFile})`,
      target: '≤ 1.05 + headers',
      value: String(thin.wireOverAllocated),
      met: thin.wireBytes <= 1.05 * thin.allocatedBytes + thinHeaders,
    });
    t.push({
      figure: `thin disk ${thin.sizeMiB} MiB: bytes re-sent after an interruption at 60 %`,
      target: '≤ 256 MiB',
      value: `${round(thin.resentBytes / 2 ** 20, 1)} MiB (both attempts over one copy: ${round(thin.wireTwiceBytes / 2 ** 20, 1)} MiB)`,
      met: thin.wireTwiceBytes <= 256 * 2 ** 20,
    });
    t.push({
      figure: 'multi-disk VM in parallel / one curl pipe',
      target: '> 1',
      value: String(multiDisk.ratio),
      met: multiDisk.ratio > 1,
    });
    for (const mode of ['smartswitch', 'cold'] as const) {
      const v = results.downtime.ratio8GiBto256MiB[mode] ?? null;
      t.push({
        figure: `downtime 8 GiB / 256 MiB, ${mode}, warm (maxDowntimeMs ${WARM_BUDGET_MS})`,
        target: '≤ 1.2',
        value: v === null ? 'not run' : String(v),
        met: v === null ? null : v <= 1.2,
      });
    }
    t.push({
      figure: `warm downtime within maxDowntimeMs ${budget.maxDowntimeMs} (guest ${budget.guestBytesPerSec / 2 ** 20} MiB/s on ${budget.storageBytesPerSec / 2 ** 20} MiB/s storage)`,
      target: 'every run',
      value: `${budget.met}/${budget.runs.length}, worst ${budget.worstDowntimeMs} ms`,
      met: budget.met === budget.runs.length,
    });
    t.push(...switchoverTargets(switchover));
    t.push({
      figure: `${concurrency.migrations} concurrent migrations, one worker`,
      target: 'all succeed',
      value: `${concurrency.succeeded}/${concurrency.migrations}, ${concurrency.migrationsPerMinute}/min`,
      met: concurrency.failed.length === 0,
    });
    const batchCheck = batchTarget(batch);
    t.push(batchCheck);
    if (!batchCheck.met) failures++;
    t.push({
      figure: `data-mover worker (\`--data-mover-only\`) peak RSS, copies up to ${downtime.largestMiB} MiB`,
      target: '< 200 MiB',
      value: `${moverRss.peakRssMiB} MiB`,
      met: quick ? null : moverRss.peakRssMiB < 200,
    });
    t.push({
      figure: `all-in-one quickmig worker peak RSS, migrations up to ${downtime.largestMiB} MiB`,
      target: '< 200 MiB',
      value: `${workerRss.peakRssMiB} MiB`,
      met: quick ? null : workerRss.peakRssMiB < 200,
    });
    t.push({
      figure: 'client startup (WSDL + login), fresh process',
      target: '(no target)',
      value: `${round(startup.clientMs.best, 0)} ms`,
      met: null,
    });
    t.push({
      figure: 'tiny-VM migration end to end',
      target: '(no target)',
      value: `${round(overhead.totalMs.best, 0)} ms = Temporal ${overhead.temporalMs} + SOAP ${overhead.soapMs} + transfer ${overhead.transferMs}`,
      met: null,
    });
    results.durationSeconds = round((performance.now() - began) / 1000, 0);
    results.machine.loadAverage.end = round(loadavg()[0] ?? 0, 2);

    writeResults(values.out as string, results);
    log(
      `wrote ${join(values.out as string, 'latest.json')}, summary.md and chart.svg in ${results.durationSeconds} s`,
    );
  } finally {
    if (values['keep-lab']) log(`lab kept in ${values['lab-dir']}`);
    else await lab.down();
  }
  return failures === 0 ? 0 : 1;
}

process.exitCode = await main();
