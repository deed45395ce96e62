import { explainDowntime } from './downtime';
import type { FactValue, MigrationPlan } from './plan';

const METHOD_NAMES: Record<MigrationPlan['method'], string> = {
  vmotion: 'vMotion',
  'quick-migration': 'Quick Migration',
};

function fact(value: FactValue): string {
  if (Array.isArray(value)) return value.length === 0 ? '[]' : `[${value.join(', ')}]`;
  return String(value);
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const seconds = (ms: number) =>
  ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;

/** Renders a plan as text lines for `quickmig plan` and the workflow memo; no trailing newlines. */
export function explainPlan(plan: MigrationPlan): string[] {
  const errors = plan.findings.filter((f) => f.severity === 'error').length;
  const what = [
    METHOD_NAMES[plan.method],
    plan.relocation ? `(${plan.relocation})` : '(nothing changes)',
    plan.mode ? `mode ${plan.mode}` : '',
  ].filter(Boolean);
  const lines = [
    `Plan for ${plan.vm}: ${what.join(' ')} — ${plan.blocked ? `BLOCKED by ${errors} error(s)` : 'ready'}`,
    `  target: ${plan.targetName}, ends ${plan.targetPowerState}; configuration on ${plan.configDatastore}`,
  ];
  for (const d of plan.disks) lines.push(`  disk ${d.label}: ${d.from} → ${d.to}`);
  lines.push(`  steps: ${plan.steps.join(' → ')}`);
  if (plan.estimate) {
    const e = plan.estimate;
    lines.push(
      `  copy: ${mib(e.bytes)} (${e.basis}) at ${Math.round(e.rate.bps / 1e6)} MB/s (${e.rate.source}) ≈ ${seconds(e.copyMs)}`,
    );
  }
  lines.push('Why:');
  for (const r of plan.reasons) {
    const used = Object.entries(r.facts).map(([k, v]) => `${k}=${fact(v)}`);
    lines.push(`  [${r.rule}] ${r.decision}`);
    if (used.length > 0) lines.push(`      facts: ${used.join(', ')}`);
  }
  if (plan.downtime) lines.push(...explainDowntime(plan.downtime, plan.mode));
  if (plan.findings.length > 0) {
    lines.push('Findings:');
    for (const f of plan.findings) {
      lines.push(`  ${f.severity.padEnd(7)} ${f.code}${f.field ? ` (${f.field})` : ''}: ${f.message}`);
    }
  }
  return lines;
}
