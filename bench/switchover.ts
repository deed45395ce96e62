/**
 * `npm run bench:switchover [-- --quick] [-- --runs N] [-- --memory 1,4,8] [-- --modes smartswitch,cold]
 * [-- --verify none|size|sha256] [-- --out DIR] [-- --lab-dir DIR] [-- --keep-lab]`:
 * the downtime-by-memory figures alone (bench/switchover-figures.ts), on a bench lab holding only their
 * VMs, with the migrations in a `quickmig worker` process as deployed. Writes `switchover-latest.json`
 * and puts its section into `summary.md` (the rest of the summary stays the last full run's).
 *
 * Full: 1, 4 and 8 GiB × SmartSwitch and Cold, 1 run each by default, about 8 minutes on 2 cores and
 * 20 GiB of free disk at its peak (an 8 GiB suspend state on each side). `--quick`: 1 GiB only.
 */
import { existsSync, mkdirSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { projectRoot } from '../src/lab/tools';
import type { Verify } from '../src/request/request';
import { startBenchLab } from './lab';
import { log, round } from './measure';
import { startWorkerProcess } from './migration-figures';
import type { SwitchoverMode } from './switchover-figures';
import {
  readLabProfile,
  switchoverFigures,
  switchoverMarkdown,
  switchoverTargets,
} from './switchover-figures';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string', default: '1' },
    memory: { type: 'string' },
    modes: { type: 'string', default: 'smartswitch,cold' },
    verify: { type: 'string' },
    out: { type: 'string', default: join(projectRoot, 'bench', 'results') },
    'lab-dir': { type: 'string', default: join(projectRoot, '.quickmig', 'bench-switchover-lab') },
    'keep-lab': { type: 'boolean', default: false },
  },
});
const quick = values.quick === true;
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  throw new Error(`--runs must be a whole number of at least 1, got '${values.runs}'`);
}
const memoryGiB = (values.memory ?? (quick ? '1' : '1,4,8')).split(',').map(Number);
if (memoryGiB.some((g) => !Number.isInteger(g) || g < 1)) {
  throw new Error(`--memory must list whole GiB (e.g. 1,4,8), got '${values.memory}'`);
}
const modes = values.modes.split(',') as SwitchoverMode[];
if (modes.some((m) => m !== 'smartswitch' && m !== 'cold')) {
  throw new Error(`--modes must list smartswitch and/or cold, got '${values.modes}'`);
}
const verify = values.verify as Verify | undefined;
if (verify !== undefined && !['none', 'size', 'sha256'].includes(verify)) {
  throw new Error(`--verify must be none, size or sha256, got '${verify}'`);
}
/** The guest write rate during each migration, as the other downtime figures use: 1 MiB/s. */
const GUEST_WRITE_BYTES_PER_SEC = 1024 * 1024;
const SECTION = '## Downtime by memory size';

/** Replaces the summary's downtime-by-memory section (or puts it before the chart) with `section`. */
function intoSummary(file: string, section: string): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# quickmig benchmark\n';
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(SECTION));
  const section_ = section.trimEnd().split('\n');
  if (start >= 0) {
    let end = lines.findIndex((l, i) => i > start && (l.startsWith('## ') || l.startsWith('![')));
    if (end < 0) end = lines.length;
    lines.splice(start, end - start, ...section_, '');
  } else {
    const chart = lines.findIndex((l) => l.startsWith('!['));
    lines.splice(chart < 0 ? lines.length : chart, 0, ...section_, '');
  }
  writeFileSync(file, lines.join('\n'));
}

async function main(): Promise<void> {
  const began = performance.now();
  const loadStart = loadavg()[0] ?? 0;
  const labDir = values['lab-dir'] as string;
  mkdirSync(join(labDir, '..'), { recursive: true });
  const s = statfsSync(join(labDir, '..'));
  const needGiB = quick ? 4 : 20;
  if ((s.bavail * s.bsize) / 2 ** 30 < needGiB) {
    throw new Error(`the sweep needs about ${needGiB} GiB of free disk`);
  }
  log(`starting the switchover bench lab in ${labDir} (${memoryGiB.join(', ')} GiB, ${runs} run(s))`);
  const lab = await startBenchLab(labDir, {
    transferMiB: [],
    multiDiskMiB: [],
    downtimeMiB: [],
    downtimeRuns: { 'one-pass': 0, warm: 0 },
    budgetRuns: 0,
    tinyVms: 0,
    switchoverMemoryGiB: memoryGiB,
    switchoverRuns: runs,
  });
  try {
    const profile = await readLabProfile(lab);
    log(`lab profile: ${profile.description}`);
    // The migrations run in a `quickmig worker` process; this process only starts them and reads results.
    const connection = await Connection.connect({ address: lab.info.temporal.address });
    const client = new Client({ connection, namespace: lab.info.temporal.namespace });
    const proc = await startWorkerProcess(lab);
    let figures: Awaited<ReturnType<typeof switchoverFigures>>;
    try {
      figures = await switchoverFigures(
        lab,
        client,
        { taskQueue: proc.taskQueue },
        {
          memoryGiB,
          modes,
          ...(verify ? { verify } : {}),
          runs,
          guestBytesPerSec: GUEST_WRITE_BYTES_PER_SEC,
          profile,
        },
      );
    } finally {
      await proc.stop();
      await connection.close();
    }
    const durationSeconds = round((performance.now() - began) / 1000, 0);
    const machine = {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      os: `${type()} ${release()}`,
      node: process.version,
      loadAverage: { start: round(loadStart, 2), end: round(loadavg()[0] ?? 0, 2) },
      shared: true,
    };
    const results = {
      schema: 1,
      quick,
      startedAt: new Date(Date.now() - (performance.now() - began)).toISOString(),
      durationSeconds,
      machine,
      lab: profile,
      downtimeByMemory: figures,
      targets: switchoverTargets(figures),
    };
    const out = values.out as string;
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'switchover-latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    const conditions =
      `Run alone (\`npm run bench:switchover${quick ? ' -- --quick' : ''}\`, ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC, ` +
      `${round(durationSeconds / 60, 1)} min) on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB RAM, ` +
      `shared with other work: load average ${machine.loadAverage.start} at the start, ${machine.loadAverage.end} at the end; ` +
      "figures in `switchover-latest.json`; the rest of this summary is the last full run's.";
    const section = switchoverMarkdown(figures, profile, conditions);
    intoSummary(join(out, 'summary.md'), section);
    process.stdout.write(section);
    log(`wrote ${join(out, 'switchover-latest.json')} and its section of summary.md in ${durationSeconds} s`);
  } finally {
    if (values['keep-lab']) log(`lab kept in ${labDir}`);
    else await lab.down();
  }
}

await main();
