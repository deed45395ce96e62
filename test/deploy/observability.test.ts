/**
 * deploy/observability: the Grafana dashboard and the Prometheus alert rules use only metrics the worker
 * defines (src/telemetry/metrics: quickmig's own and the SDK's it exports), with labels those metrics carry;
 * the four alerts the operators need exist with a severity and a summary; and, where `promtool` is
 * installed (Debian package `prometheus`), the rule file is valid and its unit tests (alerts.test.yaml) pass.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectRoot } from '../../src/lab/tools';
import { QUICKMIG_METRICS, SDK_METRICS } from '../../src/telemetry/metrics';

const dir = join(projectRoot, 'deploy', 'observability');

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string };
}
const alerts = parse(readFileSync(join(dir, 'alerts.yaml'), 'utf8')) as { groups: { rules: Rule[] }[] };
const rules = alerts.groups.flatMap((g) => g.rules);

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
const dashboard = JSON.parse(readFileSync(join(dir, 'grafana-dashboard.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: { name: string; definition?: string }[] };
};
const panels = (list: Panel[]): Panel[] => list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
const dashboardExprs = [
  ...panels(dashboard.panels).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr })),
  ),
  ...dashboard.templating.list.flatMap((v) =>
    v.definition ? [{ where: `$${v.name}`, expr: v.definition }] : [],
  ),
];
const ruleExprs = rules.map((r) => ({ where: r.alert, expr: r.expr }));

/** Every series name a PromQL expression reads, with the labels it matches or groups by. */
function metricsIn(expr: string): { metric: string; labels: string[] }[] {
  const found: { metric: string; labels: string[] }[] = [];
  // Grafana's variables are not PromQL: $__range, $__rate_interval, $task_queue.
  const text = expr.replace(/\$\w+/g, '5m').replace(/"[^"]*"/g, '""');
  const grouping = [...text.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)].flatMap((m) =>
    (m[1] ?? '').split(',').map((l) => l.trim()),
  );
  for (const m of text.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?/g)) {
    const [, name, matchers] = m;
    const after = text.slice((m.index ?? 0) + m[0].length);
    if (!name || after.startsWith('(')) continue; // a function
    if (/^(by|without|on|ignoring|and|or|unless|bool|offset|group_left|group_right)$/.test(name)) continue;
    // Label names inside a grouping clause are not series.
    const before = text.slice(0, m.index);
    if (/\b(?:by|without|on|ignoring)\s*\([^)]*$/.test(before)) continue;
    // Metric names in quickmig's expressions all have a prefix; label_values(metric, label) reads a label.
    if (!/^(quickmig|temporal)_/.test(name)) continue;
    const matched = [...(matchers ?? '').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map(
      (l) => l[1] as string,
    );
    found.push({ metric: name, labels: [...matched, ...grouping] });
  }
  return found;
}

/** Series names the worker serves, with the labels each carries. */
const served = new Map<string, Set<string>>();
for (const def of [...QUICKMIG_METRICS, ...SDK_METRICS]) {
  const names =
    def.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => `${def.name}${s}`) : [def.name];
  for (const name of names)
    served.set(name, new Set([...def.labels, ...(name.endsWith('_bucket') ? ['le'] : []), 'service_name']));
}
// Labels Prometheus adds to every scraped series.
const TARGET_LABELS = ['instance', 'job'];

describe('deploy/observability', () => {
  it('the dashboard and the alerts use only metrics the worker serves, with labels they carry', () => {
    const uses = [...dashboardExprs, ...ruleExprs].flatMap(({ where, expr }) =>
      metricsIn(expr).map((use) => ({ where, ...use })),
    );
    expect(uses.length).toBeGreaterThan(10);
    for (const { where, metric, labels } of uses) {
      const known = served.get(metric);
      expect(
        known,
        `${where}: ${metric} is not a metric the worker serves (src/telemetry/metrics.ts)`,
      ).toBeDefined();
      for (const label of labels.filter((l) => l !== '' && !TARGET_LABELS.includes(l)))
        expect([...(known ?? [])], `${where}: ${metric} has no label ${label}`).toContain(label);
    }
    // Every quickmig metric appears on the dashboard.
    const onDashboard = new Set(dashboardExprs.flatMap(({ expr }) => metricsIn(expr).map((u) => u.metric)));
    for (const def of QUICKMIG_METRICS)
      expect(
        [...onDashboard].some((m) => m === def.name || m.startsWith(`${def.name}_`)),
        `${def.name} is not on the dashboard`,
      ).toBe(true);
  });

  it('reads the metric names of PromQL as Prometheus does (the check above can fail)', () => {
    expect(
      metricsIn(
        'sum by (method, mode) (rate(quickmig_downtime_seconds_bucket{task_queue=~"$q"}[$__rate_interval]))',
      ),
    ).toEqual([{ metric: 'quickmig_downtime_seconds_bucket', labels: ['task_queue', 'method', 'mode'] }]);
    expect(metricsIn('a_metric > 0 unless quickmig_nope_total')).toEqual([
      { metric: 'quickmig_nope_total', labels: [] },
    ]);
    expect(served.has('quickmig_nope_total')).toBe(false);
  });

  it('alerts on a failed migration, a downtime over budget, a stalled copy and a task queue without workers', () => {
    const byName = Object.fromEntries(rules.map((r) => [r.alert, r]));
    for (const [name, metric] of [
      ['QuickmigMigrationFailed', 'quickmig_migrations_total'],
      ['QuickmigDowntimeOverBudget', 'quickmig_downtime_over_budget_total'],
      ['QuickmigCopyStalled', 'quickmig_copied_bytes_total'],
      ['QuickmigNoWorker', 'temporal_num_pollers'],
    ] as const) {
      const rule = byName[name];
      expect(rule, `alert ${name}`).toBeDefined();
      expect(rule?.expr).toContain(metric);
      expect(rule?.labels?.severity).toMatch(/^(warning|critical)$/);
      expect(rule?.annotations?.summary).toBeTruthy();
      expect(rule?.annotations?.description).toBeTruthy();
    }
  });

  const promtool = spawnSync('promtool', ['--version']).status === 0;
  it.skipIf(!promtool)('promtool: the rule file is valid and its unit tests pass', () => {
    expect(() => execFileSync('promtool', ['check', 'rules', 'alerts.yaml'], { cwd: dir })).not.toThrow();
    const run = spawnSync('promtool', ['test', 'rules', 'alerts.test.yaml'], { cwd: dir, encoding: 'utf8' });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('SUCCESS');
  });
});
