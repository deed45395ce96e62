/** How the CLI shows progress, reports, plans and lists to a person. Pure functions of their input. */
import type { MigrationSummary } from '../client/migrations';
import type { LiveProgress } from '../client/progress';
import type { MigrationPlan } from '../planner/plan';
import type { BatchProgress, BatchVm } from '../workflows/batch';
import type { MigrationResult } from '../workflows/definitions';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `268435456` → `256.0 MiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** `1234` → `1.23 s`; `65000` → `1m05s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m${rest}s` : `${m}m${rest}s`;
}

/** A text progress bar of `width` cells. */
export function bar(done: number, total: number, width = 24): string {
  const ratio = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(ratio * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

/**
 * One status line: phase and step, then a bar with bytes, rate and ETA while bytes move, the running
 * downtime at switchover, or the wait for approval.
 */
export function progressLine(p: LiveProgress, id: string): string {
  const head = `${p.phase}${p.step && p.step !== p.phase ? `/${p.step}` : ''}`.padEnd(24);
  const parts = [head];
  if (p.bytes.total > 0) {
    const pct = Math.floor((p.bytes.done / p.bytes.total) * 100);
    parts.push(
      `${bar(p.bytes.done, p.bytes.total)} ${String(pct).padStart(3)}%  ${formatBytes(p.bytes.done)} / ${formatBytes(p.bytes.total)}`,
    );
    if (p.rateBytesPerSec) parts.push(`${formatBytes(p.rateBytesPerSec)}/s`);
    if (p.etaSeconds !== null)
      parts.push(`ETA ${p.etaSeconds < 60 ? `${p.etaSeconds} s` : formatDuration(p.etaSeconds * 1000)}`);
  }
  if (p.downtimeSoFarMs !== null)
    parts.push(`downtime ${formatDuration(p.downtimeSoFarMs)} (source stopped)`);
  else if (p.downtimeMs !== null) parts.push(`downtime ${formatDuration(p.downtimeMs)}`);
  const rounds = p.precopy?.rounds ?? [];
  if (rounds.length > 0 && p.downtimeSoFarMs === null && p.downtimeMs === null) {
    const projected = p.precopy?.projection ? `, switchover ~${formatDuration(p.precopy.projection.ms)}` : '';
    const pc = p.precopy;
    const aim = pc?.targetMs && pc.targetMs !== pc.budgetMs ? `, aim ${formatDuration(pc.targetMs)}` : '';
    const budget = pc?.budgetMs ? ` (budget ${formatDuration(pc.budgetMs)}${aim})` : '';
    parts.push(`pre-copy round ${rounds.length}${projected}${budget}`);
  }
  if (p.waitingFor && !p.awaitingApproval) parts.push(`waiting: ${p.waitingFor}`);
  if (p.awaitingApproval)
    parts.push(`waiting for approval${p.waitingFor ? ` (${p.waitingFor})` : ''}: quickmig approve ${id}`);
  if (p.transfer && p.transfer.attempt > 1) parts.push(`(copy attempt ${p.transfer.attempt})`);
  return parts.join('  ');
}

/** One line about the plan, shown once when the migration knows it. */
export function planLine(plan: MigrationPlan): string {
  const method = plan.method === 'vmotion' ? 'vMotion' : 'Quick Migration';
  const what = [method, plan.mode ? `mode ${plan.mode}` : '', plan.relocation ? `(${plan.relocation})` : '']
    .filter(Boolean)
    .join(' ');
  const why = plan.reasons.filter((r) => /^R[1-8]-/.test(r.rule)).map((r) => `[${r.rule}] ${r.decision}`);
  return [`plan: ${what} → ${plan.targetName} on ${plan.configDatastore}`, ...why.map((w) => `  ${w}`)].join(
    '\n',
  );
}

const METHOD_NAMES: Record<string, string> = { vmotion: 'vMotion', 'quick-migration': 'Quick Migration' };

/** The report after a migration, as lines. */
export function reportLines(
  result: MigrationResult,
  extra: { id: string; durationMs: number | null; uiLink?: string | undefined },
): string[] {
  const verified = result.verified.filter((f) => !f.skipped || f.sha256Target);
  const hashed = result.verified.filter((f) => f.sha256Source !== null && f.sha256Target !== null);
  const mismatched = hashed.filter((f) => f.sha256Source !== f.sha256Target);
  const skipped = result.verified.filter((f) => f.skipped).length;
  const verification =
    result.verified.length === 0
      ? 'nothing copied by quickmig (vSphere moved the files)'
      : mismatched.length > 0
        ? `${mismatched.length} file(s) DIFFER: ${mismatched.map((f) => f.target).join(', ')}`
        : hashed.length === result.verified.length
          ? `${hashed.length} files verified, SHA-256 of source = target${skipped ? ` (${skipped} complete from an earlier attempt)` : ''}`
          : `${verified.length} files copied, sizes checked (${hashed.length} hashed)`;
  const downtime =
    result.downtimeMs === null
      ? 'none (the VM did not run during the move, or vMotion kept it running)'
      : `${formatDuration(result.downtimeMs)} (source ${result.mode === 'cold' ? 'stopped' : 'suspended'} → target ${result.mode === 'cold' ? 'started' : 'resumed'})`;
  const phases = Object.entries(result.phases)
    .filter(([, ms]) => (ms ?? 0) > 0)
    .map(([phase, ms]) => `${phase} ${formatDuration(ms ?? 0)}`)
    .join(', ');
  const lines = [
    `Migration ${extra.id} completed${extra.durationMs !== null ? ` in ${formatDuration(extra.durationMs)}` : ''}`,
    `  method        ${METHOD_NAMES[result.method] ?? result.method}${result.mode ? `, mode ${result.mode}` : ''}${result.relocation ? ` (${result.relocation})` : ''}`,
    `  target        ${result.target.name} on ${result.target.endpoint} host ${result.target.host}, datastore ${result.target.datastores.join(', ')}; ${result.target.powerState}, ${result.target.snapshots} snapshot(s)`,
    `  downtime      ${downtime}`,
    ...serviceLines(result),
    `  bytes         ${formatBytes(result.bytesCopied)} copied (${result.bytesCopied} bytes)`,
    `  verification  ${verification}`,
    `  source        ${result.source.action}: ${result.source.detail}`,
  ];
  if (result.instantRecovery) {
    const ir = result.instantRecovery;
    lines.push(
      `  instant rec.  ${ir.datastore} ${ir.unmounted ? 'unmounted (no VM uses it any more)' : `still mounted: used by ${ir.usedBy.join(', ')}`}`,
    );
  }
  if (result.precopy && result.precopy.rounds.length > 0) {
    const pc = result.precopy;
    const sizes = pc.rounds.map((r) => formatBytes(r.bytes)).join(', ');
    const projected = pc.projection ? `; projected switchover ${formatDuration(pc.projection.ms)}` : '';
    const budget =
      pc.budgetMs === null
        ? ''
        : `; budget ${formatDuration(pc.budgetMs)} ${pc.budgetMet === true ? 'met' : pc.budgetMet === false ? 'MISSED' : ''}`;
    lines.push(`  pre-copy      ${pc.rounds.length} round(s): ${sizes}${projected}${budget}`.trimEnd());
  }
  if (result.commitWindow) {
    const w = result.commitWindow;
    lines.push(
      `  commit window ${formatDuration(w.afterMs)} from ${w.openedAt}; ended ${w.endedAt} by ${w.endedBy === 'commit' ? 'the commit update' : "the window's end"}`,
    );
  }
  if (result.test) {
    const t = result.test;
    const boot =
      t.bootMs === null
        ? 'no guest heartbeat within the wait'
        : `${formatDuration(t.bootMs)} to its guest heartbeat`;
    const real =
      t.projectedDowntimeMs === null
        ? 'no projection'
        : `${formatDuration(t.projectedDowntimeMs)} (service ${formatDuration(t.projectedServiceDowntimeMs ?? 0)}, ${t.mode})`;
    const measured = t.afterTest
      ? `; with the test's measurements ${formatDuration(t.afterTest.downtimeMs)} (service ${formatDuration(t.afterTest.serviceDowntimeMs)})`
      : '';
    const isolation =
      t.isolated === 'test-network'
        ? `on ${t.network?.name ?? 'the test network'} (${t.network?.adapters.length ?? 0} adapter(s) connected there)`
        : '(adapters disconnected)';
    lines.push(
      `  test          ${t.vm.name} booted isolated ${isolation} in ${boot}; real run projected downtime ${real}${measured}`,
      `  test cleanup  ${t.kept ? 'kept until cleanup; ' : ''}${t.cleanup.join('; ')} at ${t.cleanedAt}`,
    );
  }
  if (phases) lines.push(`  phases        ${phases}`);
  for (const w of result.warnings) lines.push(`  warning       ${w}`);
  if (extra.uiLink) lines.push(`  Temporal UI   ${extra.uiLink}`);
  return lines;
}

/** The service downtime, how the source stopped, the questions answered and the projection, when measured. */
function serviceLines(result: MigrationResult): string[] {
  const sw = result.switchover;
  if (!sw) return [];
  const lines: string[] = [];
  if (sw.stop !== null) {
    const service =
      result.serviceDowntimeMs == null
        ? 'not measured (no guest heartbeat on the source or the target)'
        : `${formatDuration(result.serviceDowntimeMs)} (source guest's last heartbeat → target guest's heartbeat)`;
    lines.push(`  service       ${service}`);
    const stops = {
      suspend: 'suspended',
      'guest-shutdown': 'guest shut down through VMware Tools',
      'power-off': 'powered off hard (options.shutdown.mode power-off)',
      'power-off-after-timeout': 'powered off hard: the guest did not stop within options.shutdown.timeoutMs',
    } as const;
    lines.push(`  stop          ${stops[sw.stop]}`);
  }
  const p = sw.projection;
  if (p) {
    const again = p.atSwitchover ? `; at the switchover ${formatDuration(p.atSwitchover.downtimeMs)}` : '';
    lines.push(
      `  projection    downtime ${formatDuration(p.projectedDowntimeMs)}, service ${formatDuration(p.projectedServiceDowntimeMs)}${again}${p.ratio === null ? '' : `; measured ÷ projected ${p.ratio.toFixed(2)}`}`,
    );
  }
  for (const a of sw.answered)
    lines.push(`  question      answered ${a.choice} to ${a.messageIds.join(', ') || a.text}`);
  if (sw.hardware) lines.push(`  hardware      ${sw.hardware.detail}`);
  return lines;
}

/** The migrations of `list` as a table. */
export function listLines(items: readonly MigrationSummary[]): string[] {
  if (items.length === 0) return ['No migrations match.'];
  const rows = items.map((m) => [
    m.id,
    m.status,
    m.vm ?? '',
    m.phase ?? '',
    [m.method, m.mode].filter(Boolean).join('/'),
    m.startedAt.toISOString().replace(/\.\d+Z$/, 'Z'),
  ]);
  const header = ['ID', 'STATUS', 'VM', 'PHASE', 'METHOD', 'STARTED'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}

/** `11 migrations: 2 pending, 3 running, 5 succeeded, 1 failed`. */
export function batchCountsLine(p: BatchProgress): string {
  const { total, pending, running, succeeded, failed, cancelled } = p.counts;
  const parts = [
    pending ? `${pending} pending` : '',
    running ? `${running} running` : '',
    `${succeeded} succeeded`,
    failed ? `${failed} failed` : '',
    cancelled ? `${cancelled} cancelled` : '',
  ].filter(Boolean);
  const waiting = Object.entries(p.counts.waitingOn ?? {})
    .filter(([, n]) => n)
    .map(([kind, n]) => `${n} on ${kind}`);
  if (waiting.length > 0) parts.push(`waiting: ${waiting.join(', ')}`);
  return `${total} migration(s): ${parts.join(', ')}${p.cancelRequested ? ' (cancel requested: nothing more starts)' : ''}`;
}

/** `limits: global 3 (max seen 3), per source host 2 (max seen 2), ...`: each limit beside the batch's peak. */
export function batchLimitsLine(p: BatchProgress): string {
  const peak = (values: Record<string, number>) => Math.max(0, ...Object.values(values));
  const one = (label: string, limit: number | undefined, seen: number) =>
    `${label} ${limit ?? 'unlimited'} (max seen ${seen})`;
  return `limits: ${[
    one('global', p.limits.global, p.maxRunning.global),
    one('per source host', p.limits.perSourceHost, peak(p.maxRunning.perSourceHost)),
    one('per target datastore', p.limits.perTargetDatastore, peak(p.maxRunning.perTargetDatastore)),
    // Resource admission (batches started since it): copy streams per host, snapshots per datastore.
    ...(p.maxRunning.streamsPerHost
      ? [one('copy streams per host', p.limits.streamsPerHost, peak(p.maxRunning.streamsPerHost))]
      : []),
    ...(p.maxRunning.snapshotsPerDatastore
      ? [
          one(
            'snapshots per datastore',
            p.limits.snapshotsPerDatastore,
            peak(p.maxRunning.snapshotsPerDatastore),
          ),
        ]
      : []),
  ].join(', ')}`;
}

/** One line about a VM that changed state, for the progress stream of `migrate --plan --wait`. */
export function batchVmLine(vm: BatchVm): string {
  switch (vm.state) {
    case 'running':
      return `${vm.vm}: started ${vm.migrationId} (${vm.sourceHost} → ${vm.targetDatastores.join(', ')})`;
    case 'succeeded':
      return `${vm.vm}: succeeded, ${vmOutcome(vm)}`;
    case 'failed':
      return `${vm.vm}: failed${vm.error?.step ? ` at ${vm.error.step}` : ''}: ${vm.error?.message ?? 'unknown cause'}`;
    case 'cancelled':
      return `${vm.vm}: cancelled (${vm.error?.message ?? 'the batch was cancelled'})`;
    default:
      return `${vm.vm}: ${vm.state}`;
  }
}

function vmOutcome(vm: BatchVm): string {
  if (!vm.result) return '';
  const downtime =
    vm.result.downtimeMs === null ? 'no downtime' : `downtime ${formatDuration(vm.result.downtimeMs)}`;
  return `${downtime}, ${formatBytes(vm.result.bytesCopied)} copied`;
}

/** The per-VM table of a batch; a failed VM gets its cause on the line below. */
export function batchLines(p: BatchProgress): string[] {
  const header = [
    'VM',
    'STATE',
    'SOURCE HOST',
    'TARGET DATASTORE',
    'METHOD',
    'DOWNTIME',
    'BYTES',
    'MIGRATION',
  ];
  const rows = p.vms.map((vm) => [
    vm.vm,
    vm.state,
    vm.sourceHost ?? '',
    vm.targetDatastores.join(', '),
    [vm.method === 'quick-migration' ? 'quick' : vm.method, vm.mode].filter(Boolean).join('/'),
    vm.result ? (vm.result.downtimeMs === null ? 'none' : formatDuration(vm.result.downtimeMs)) : '',
    vm.result ? formatBytes(vm.result.bytesCopied) : '',
    vm.startedAt === null ? '' : vm.migrationId,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const lines = [fmt(header)];
  p.vms.forEach((vm, i) => {
    lines.push(fmt(rows[i] ?? []));
    if (vm.error && vm.state !== 'cancelled')
      lines.push(`    ${vm.error.step ? `at ${vm.error.step}: ` : ''}${vm.error.message}`);
    if (vm.state === 'queued' && vm.waitingOn) lines.push(`    waiting: ${vm.waitingOn}`);
  });
  return lines;
}
