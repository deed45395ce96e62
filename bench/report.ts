/** The benchmark's outputs: the Markdown summary and the SVG chart, both from `latest.json`'s content. */
import type { BatchFigure } from './batch-figure';
import { batchMarkdown } from './batch-figure';
import type { BudgetFigure, DowntimeFigure } from './migration-figures';
import type { LabProfileRecord, SwitchoverFigures } from './switchover-figures';
import { switchoverMarkdown } from './switchover-figures';
import type { TransferSizeFigures } from './transfer-figures';

/** A figure against its target. */
export interface TargetCheck {
  figure: string;
  target: string;
  value: string;
  met: boolean | null;
}

/** What the report needs from the results. */
export interface ReportInput {
  quick: boolean;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; os: string; load: string };
  durationSeconds: number;
  targets: TargetCheck[];
  transfer: TransferSizeFigures[];
  multiDisk: {
    disksMiB: number[];
    quickmigParallelMBps: { best: number };
    curlPipeSequentialMBps: { best: number };
    ratio: number;
  } | null;
  downtime: DowntimeFigure[];
  budget: BudgetFigure;
  guestWriteBytesPerSec: number;
  /** The lab profile every figure ran on, as the simulators reported it. */
  labProfile: LabProfileRecord;
  /** Downtime by memory size; absent when not run. */
  switchover?: SwitchoverFigures;
  /** The batch figure (many VMs, three workers, one killed) and the same run's 50-VM figures; absent when not run. */
  batch?: BatchFigure;
  concurrency?: { migrations: number; migrationsPerMinute: number };
  overhead?: { totalMs: { best: number }; temporalMs: number; soapMs: number; transferMs: number };
  tuning: string;
}

const esc = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '–');
const pct = (spread: number) => (Number.isFinite(spread) ? `±${Math.round(spread * 100)} %` : '');

/** The Markdown summary. */
export function markdown(r: ReportInput): string {
  const lines: string[] = [];
  lines.push(`# quickmig benchmark${r.quick ? ' (--quick)' : ''}`, '');
  lines.push(
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB RAM, ${r.machine.os}, Node ${r.machine.node}. ` +
      `Load average at start/end: ${r.machine.load}. The machine was shared with other jobs, so every figure is the ` +
      `best of its runs and the spread ((worst − best) / best) is given. The run took ${fmt(r.durationSeconds / 60, 1)} min.`,
    '',
    `Lab profile of every figure: ${r.labProfile.description}.`,
    '',
  );
  lines.push('## Against the targets', '', '| figure | target | measured | met |', '|---|---|---|---|');
  for (const t of r.targets) {
    lines.push(
      `| ${t.figure} | ${t.target} | ${t.value} | ${t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('', '## Transfer (esx-a → esx-b, MB/s = 10^6 B/s)', '');
  lines.push(
    '| file | quickmig (SHA-256 on the fly) | + read-back verify | curl GET \\| curl PUT | local cp | vs curl | vs cp |',
    '|---|---|---|---|---|---|---|',
  );
  for (const t of r.transfer) {
    lines.push(
      `| ${t.sizeMiB} MiB | ${fmt(t.quickmigMBps.best)} ${pct(t.quickmigMBps.spread)} | ${fmt(t.quickmigVerifyMBps.best)} ${pct(t.quickmigVerifyMBps.spread)} | ` +
        `${fmt(t.curlPipeMBps.best)} ${pct(t.curlPipeMBps.spread)} | ${fmt(t.localCopyMBps.best)} ${pct(t.localCopyMBps.spread)} | ` +
        `${fmt(t.ratioVsCurlPipe, 2)} | ${fmt(t.ratioVsLocalCopy, 2)} |`,
    );
  }
  if (r.multiDisk) {
    lines.push(
      '',
      `Multi-disk VM (${r.multiDisk.disksMiB.length} × ${r.multiDisk.disksMiB[0]} MiB): quickmig copies the disks in parallel at ` +
        `${fmt(r.multiDisk.quickmigParallelMBps.best)} MB/s, one curl pipe moving them in turn ${fmt(r.multiDisk.curlPipeSequentialMBps.best)} MB/s ` +
        `(ratio ${fmt(r.multiDisk.ratio, 2)}).`,
    );
  }
  lines.push(
    '',
    `## Downtime (source stopped → target running), guest writing ${fmt(r.guestWriteBytesPerSec / 2 ** 10)} KiB/s`,
    '',
  );
  lines.push(
    'One pass copies what the guest wrote during the bulk copy once, at switchover (as Veeam Quick Migration',
    'does), so its downtime grows with the bulk copy, i.e. with the disk. Warm adds pre-copy rounds until the',
    'projected switchover fits `maxDowntimeMs` (1000 ms here), so the downtime follows the last delta.',
    '',
    '| disk | mode | variant | downtime ms (best) | spread | pre-copy rounds (delta MiB) | migration s | switchover steps (queue+run ms) |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const d of r.downtime) {
    const rounds = d.precopy ? `${d.precopy.rounds} (${d.precopy.deltaMiB.join(', ')})` : '–';
    lines.push(
      `| ${d.sizeMiB} MiB | ${d.mode} | ${d.variant} | ${fmt(d.downtimeMs.best)} | ${pct(d.downtimeMs.spread)} | ${rounds} | ${fmt(d.totalSeconds, 1)} | ` +
        `${d.switchover.map((s) => `${s.activity} ${s.queueMs}+${s.runMs}`).join(', ')} |`,
    );
  }
  lines.push('', budgetMarkdown(r.budget).trimEnd());
  if (r.switchover) lines.push('', switchoverMarkdown(r.switchover, r.labProfile).trimEnd());
  if (r.batch) {
    const baseline = { concurrency: r.concurrency ?? null, overhead: r.overhead ?? null };
    lines.push('', batchMarkdown(r.batch, baseline).trimEnd());
  }
  lines.push('', '![benchmark chart](chart.svg)', '', r.tuning.trim(), '');
  return lines.join('\n');
}

/** Bars: downtime per size and mode (left), throughput per contender and size (right). */
export function chart(r: ReportInput): string {
  const W = 900;
  const H = 340;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  const panel = (
    x0: number,
    title: string,
    unit: string,
    groups: { label: string; bars: { name: string; value: number }[] }[],
    colors: Record<string, string>,
  ) => {
    const pw = 420;
    const top = 40;
    const ph = 230;
    const max = Math.max(
      1,
      ...groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))),
    );
    out.push(
      `<text x="${x0 + pw / 2}" y="20" text-anchor="middle" font-size="13" font-weight="bold">${esc(title)}</text>`,
    );
    out.push(`<line x1="${x0 + 40}" y1="${top + ph}" x2="${x0 + pw}" y2="${top + ph}" stroke="#444"/>`);
    for (let i = 0; i <= 4; i++) {
      const y = top + ph - (ph * i) / 4;
      out.push(
        `<line x1="${x0 + 40}" y1="${y}" x2="${x0 + pw}" y2="${y}" stroke="#ddd"/>`,
        `<text x="${x0 + 36}" y="${y + 4}" text-anchor="end">${fmt((max * i) / 4)}</text>`,
      );
    }
    out.push(`<text x="${x0 + 8}" y="${top - 8}">${esc(unit)}</text>`);
    const gw = (pw - 50) / Math.max(1, groups.length);
    groups.forEach((g, gi) => {
      const bw = (gw - 16) / Math.max(1, g.bars.length);
      g.bars.forEach((b, bi) => {
        const v = Number.isFinite(b.value) ? b.value : 0;
        const h = (ph * v) / max;
        const x = x0 + 48 + gi * gw + bi * bw;
        out.push(
          `<rect x="${x.toFixed(1)}" y="${(top + ph - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${colors[b.name] ?? '#888'}"><title>${esc(`${g.label} ${b.name}: ${fmt(v)} ${unit}`)}</title></rect>`,
          `<text x="${(x + (bw - 2) / 2).toFixed(1)}" y="${(top + ph - h - 3).toFixed(1)}" text-anchor="middle" font-size="9">${fmt(v)}</text>`,
        );
      });
      out.push(
        `<text x="${(x0 + 48 + gi * gw + (gw - 16) / 2).toFixed(1)}" y="${top + ph + 14}" text-anchor="middle">${esc(g.label)}</text>`,
      );
    });
    let lx = x0 + 48;
    for (const [name, color] of Object.entries(colors)) {
      out.push(
        `<rect x="${lx}" y="${top + ph + 26}" width="10" height="10" fill="${color}"/>`,
        `<text x="${lx + 14}" y="${top + ph + 35}">${esc(name)}</text>`,
      );
      lx += 14 + name.length * 6.2 + 12;
    }
  };
  const sizes = [...new Set(r.downtime.map((d) => d.sizeMiB))];
  panel(
    10,
    'Downtime by disk size (lower is better; SS = SmartSwitch)',
    'ms',
    sizes.map((s) => ({
      label: s >= 1024 ? `${s / 1024} GiB` : `${s} MiB`,
      bars: (['smartswitch', 'cold'] as const).flatMap((mode) =>
        (['one-pass', 'warm'] as const).map((variant) => ({
          name: `${mode === 'smartswitch' ? 'SS' : 'Cold'} ${variant === 'warm' ? 'warm' : 'one pass'}`,
          value:
            r.downtime.find((d) => d.sizeMiB === s && d.mode === mode && d.variant === variant)?.downtimeMs
              .best ?? Number.NaN,
        })),
      ),
    })),
    {
      'SS one pass': '#9ab8d8',
      'SS warm': '#2b7bb9',
      'Cold one pass': '#f0c08a',
      'Cold warm': '#e08a3c',
    },
  );
  panel(
    470,
    'Copy throughput esx-a → esx-b (higher is better)',
    'MB/s',
    [
      ...r.transfer.map((t) => ({
        label: t.sizeMiB >= 1024 ? `${t.sizeMiB / 1024} GiB file` : `${t.sizeMiB} MiB file`,
        bars: [
          { name: 'quickmig', value: t.quickmigMBps.best },
          { name: 'curl | curl', value: t.curlPipeMBps.best },
          { name: 'local cp', value: t.localCopyMBps.best },
        ],
      })),
      ...(r.multiDisk
        ? [
            {
              label: `${r.multiDisk.disksMiB.length} disks`,
              bars: [
                { name: 'quickmig', value: r.multiDisk.quickmigParallelMBps.best },
                { name: 'curl | curl', value: r.multiDisk.curlPipeSequentialMBps.best },
              ],
            },
          ]
        : []),
    ],
    { quickmig: '#2b7bb9', 'curl | curl': '#e08a3c', 'local cp': '#aaaaaa' },
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** The downtime-budget section: every run, how many met the budget, how far measured was from projected. */
export function budgetMarkdown(b: BudgetFigure): string {
  const lines: string[] = [
    `## Downtime budget: a guest writing ${fmt(b.guestBytesPerSec / 2 ** 20)} MiB/s on storage serving ${fmt(b.storageBytesPerSec / 2 ** 20)} MiB/s, maxDowntimeMs ${b.maxDowntimeMs}`,
    '',
    'The bulk copy takes seconds on this storage, so its delta is far too large for the budget: pre-copy',
    'rounds shrink it until the projection fits the budget less its headroom (`precopy.headroom`, 20 %),',
    'then go on while another round would cut the projection by a tenth (and at least 20 ms).',
    `Met in ${b.met} of ${b.runs.length} runs; measured − projected: mean ${fmt(b.projectionErrorMs.mean)} ms, largest ${fmt(b.projectionErrorMs.max)} ms.`,
    '',
    '| mode | rounds (delta MiB) | aim ms | projected ms | measured ms | budget met |',
    '|---|---|---|---|---|---|',
  ];
  for (const x of b.runs) {
    lines.push(
      `| ${x.mode} | ${x.rounds} (${x.deltaMiB.join(', ')}) | ${x.targetMs ?? '–'} | ${x.projectedMs ?? '–'} | ${x.downtimeMs} | ${x.budgetMet ? 'yes' : 'no'} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
