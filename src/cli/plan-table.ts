/**
 * The dry run as a table an operator can sign off: one row per VM with what it copies, how long the copy
 * takes at the stated rate, the projected downtime of each eligible mode and whether it is ready; totals
 * under a batch. Pure functions of the plans.
 */
import type { MigrationPlan } from '../planner/plan';
import { formatBytes, formatDuration } from './render';
import type { Column, TableFormat } from './table';
import { renderTable } from './table';

/** One VM of a dry run: its plan, or why the worker refused the request. */
export interface PlannedVm {
  /** `endpoint/name` of the source. */
  vm: string;
  /** `endpoint datastore` of the target. */
  target: string;
  plan: MigrationPlan | null;
  /** The refusal (unknown VM, invalid field) when there is no plan. */
  error: string | null;
}

/** Totals of a dry run. */
export interface PlanTotals {
  vms: number;
  ready: number;
  blocked: number;
  refused: number;
  bytes: number;
  /** Sum of the copies at their stated rates, ms: the copies one after the other. */
  copyMs: number;
  /**
   * Target datastores the VMs together need more of than is free, though each VM alone fits: the later
   * migrations of the batch would fail for space.
   */
  overcommitted: { datastore: string; neededBytes: number; freeBytes: number; vms: string[] }[];
}

const MODES = ['smartswitch', 'cold'] as const;

function downtimeCell(plan: MigrationPlan | null, mode: (typeof MODES)[number]): string {
  const projected = plan?.downtime?.modes.find((m) => m.mode === mode);
  if (!projected) return '-';
  // The service downtime: what the application sees, so a Cold migration's guest shutdown and boot count
  // (its VM-stopped-to-running figure alone would make Cold look faster than SmartSwitch).
  return `${formatDuration(projected.serviceDowntimeMs)}${plan?.mode === mode ? ' *' : ''}`;
}

function statusOf(row: PlannedVm): string {
  if (!row.plan) return `refused: ${row.error ?? 'no plan'}`;
  const errors = row.plan.findings.filter((f) => f.severity === 'error');
  if (errors.length > 0) return `BLOCKED: ${[...new Set(errors.map((f) => f.code))].join(', ')}`;
  const warnings = row.plan.findings.length;
  return warnings > 0 ? `ready (${warnings} warning(s))` : 'ready';
}

const COLUMNS: readonly Column<PlannedVm>[] = [
  { header: 'VM', cell: (r) => r.vm },
  { header: 'TARGET', cell: (r) => r.target },
  { header: 'METHOD', cell: (r) => r.plan?.method ?? '-' },
  { header: 'MODE', cell: (r) => r.plan?.mode ?? '-' },
  { header: 'COPY', cell: (r) => (r.plan?.estimate ? formatBytes(r.plan.estimate.bytes) : '-'), right: true },
  {
    header: 'EST. COPY TIME',
    cell: (r) => (r.plan?.estimate ? formatDuration(r.plan.estimate.copyMs) : '-'),
    right: true,
  },
  { header: 'DOWNTIME SMARTSWITCH', cell: (r) => downtimeCell(r.plan, 'smartswitch'), right: true },
  { header: 'DOWNTIME COLD', cell: (r) => downtimeCell(r.plan, 'cold'), right: true },
  { header: 'STATUS', cell: statusOf },
];

/** The totals of planned VMs. */
export function planTotals(rows: readonly PlannedVm[]): PlanTotals {
  const plans = rows.flatMap((r) => (r.plan ? [r.plan] : []));
  // Space per target datastore over every VM (endpoint and name: two endpoints may share a name).
  const byDatastore = new Map<string, { neededBytes: number; freeBytes: number; vms: string[] }>();
  for (const row of rows) {
    const endpoint = row.target.split(' ')[0];
    for (const need of row.plan?.estimate?.space ?? []) {
      if (need.freeBytes === null || need.neededBytes === 0) continue;
      const key = `${endpoint} ${need.datastore}`;
      const entry = byDatastore.get(key) ?? { neededBytes: 0, freeBytes: need.freeBytes, vms: [] };
      entry.neededBytes += need.neededBytes;
      entry.vms.push(row.vm);
      byDatastore.set(key, entry);
    }
  }
  const overcommitted = [...byDatastore]
    .filter(([, e]) => e.vms.length > 1 && e.neededBytes > e.freeBytes)
    .map(([datastore, e]) => ({ datastore, ...e }));
  return {
    vms: rows.length,
    ready: plans.filter((p) => !p.blocked).length,
    blocked: plans.filter((p) => p.blocked).length,
    refused: rows.length - plans.length,
    bytes: plans.reduce((sum, p) => sum + (p.estimate?.bytes ?? 0), 0),
    copyMs: plans.reduce((sum, p) => sum + (p.estimate?.copyMs ?? 0), 0),
    overcommitted,
  };
}

/**
 * The table (with a totals row when `totals`), then in text and Markdown the rates the times assume and
 * every finding, so the table is enough to sign off.
 */
export function planTableLines(rows: readonly PlannedVm[], format: TableFormat, totals: boolean): string[] {
  const t = planTotals(rows);
  const footer = totals
    ? [
        [
          'TOTAL',
          `${t.vms} VM(s)`,
          '',
          '',
          formatBytes(t.bytes),
          formatDuration(t.copyMs),
          '',
          '',
          `${t.ready} ready, ${t.blocked} blocked, ${t.refused} refused${t.overcommitted.length > 0 ? `; ${t.overcommitted.length} datastore(s) short of space` : ''}`,
        ],
      ]
    : [];
  const lines = renderTable(rows, COLUMNS, format, footer);
  if (format === 'csv') return lines;
  const bullet = format === 'markdown' ? '- ' : '  ';
  const rates = [
    ...new Set(
      rows.flatMap((r) =>
        r.plan?.estimate
          ? [`${Math.round(r.plan.estimate.rate.bps / 1e6)} MB/s (${r.plan.estimate.rate.source})`]
          : [],
      ),
    ),
  ];
  const notes: string[] = [''];
  if (rates.length > 0)
    notes.push(
      `Copy times at ${rates.join('; ')}${totals ? '; the total is the copies one after the other' : ''}.`,
    );
  notes.push(
    "Downtime: projected service downtime, source guest's last heartbeat → target guest's heartbeat (a Cold migration's guest shutdown and boot included), per mode the rules allow (* the mode chosen); quickmig plan for one VM shows each term.",
  );
  const findings = rows.flatMap((r) => [
    ...(r.error ? [`${bullet}${r.vm}: refused: ${r.error}`] : []),
    ...(r.plan?.findings ?? []).map(
      (f) => `${bullet}${r.vm}: ${f.severity} ${f.code}${f.field ? ` (${f.field})` : ''}: ${f.message}`,
    ),
  ]);
  for (const o of t.overcommitted)
    findings.push(
      `${bullet}batch: error datastore-space: ${o.datastore} has ${formatBytes(o.freeBytes)} free but ${o.vms.join(', ')} need ${formatBytes(o.neededBytes)} together; move some to another datastore or free space`,
    );
  if (findings.length > 0) notes.push('', 'Findings:', ...findings);
  return [...lines, ...notes];
}
