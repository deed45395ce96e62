/**
 * The worker side of the migration metrics (src/telemetry migrationMetricsSinks), fed the events the
 * workflow interceptor sends and scraped from a real Prometheus endpoint of the Temporal runtime: a completed
 * warm migration over its budget, a failed one before its plan. Checks the exposed names, the seconds, the
 * buckets and the labels an alert rule reads.
 */
import type { WorkflowInfo } from '@temporalio/workflow';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../src/lab/processes';
import { DOWNTIME, DOWNTIME_OVER_BUDGET, MIGRATIONS } from '../../src/telemetry/metrics';
import { installTelemetry, migrationMetricsSinks } from '../../src/telemetry/telemetry';

let metricsUrl: string;

beforeAll(async () => {
  const [port] = (await freePorts(1)) as [number];
  installTelemetry({ metricsBindAddress: `127.0.0.1:${port}`, write: () => {} });
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
});

const info = { namespace: 'default', taskQueue: 'quickmig', workflowType: 'quickMigration' } as WorkflowInfo;

/** The sample lines of one metric on /metrics, as `labels value`. */
async function samples(name: string): Promise<string[]> {
  const text = await (await fetch(metricsUrl)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`))
    .map((l) => l.slice(name.length));
}

describe('migration metrics sink', () => {
  it('counts outcomes with their method, records downtime in seconds, counts a missed budget', async () => {
    const { fn } = migrationMetricsSinks().quickmigMetrics.migrationFinished;
    const planned = { method: 'quick-migration', mode: 'cold' };
    fn(info, { outcome: 'completed', ...planned, downtimeSeconds: 2.4, overBudget: true });
    fn(info, {
      outcome: 'failed',
      method: 'unplanned',
      mode: 'unplanned',
      downtimeSeconds: null,
      overBudget: false,
    });

    const labels = 'method="quick-migration",mode="cold",namespace="default"';
    const migrations = await samples(MIGRATIONS.name);
    expect(migrations).toContainEqual(expect.stringMatching(/^\{.*outcome="completed".*\} 1$/));
    expect(migrations).toContainEqual(
      expect.stringMatching(/^\{method="unplanned",mode="unplanned",.*outcome="failed".*\} 1$/),
    );
    const overBudget = await samples(DOWNTIME_OVER_BUDGET.name);
    expect(overBudget).toEqual([expect.stringMatching(/^\{method="quick-migration",mode="cold",.*\} 1$/)]);
    expect(overBudget[0]).toContain('task_queue="quickmig"');
    expect(overBudget[0]).toContain('workflow_type="quickMigration"');

    expect(await samples(`${DOWNTIME.name}_sum`)).toEqual([expect.stringMatching(/\} 2\.4$/)]);
    const buckets = await samples(`${DOWNTIME.name}_bucket`);
    // 2.4 s falls in the 2.5 s bucket, not the 1 s one.
    expect(buckets).toContainEqual(expect.stringMatching(/le="1".*\} 0$|^\{.*le="1"\} 0$/));
    expect(buckets).toContainEqual(expect.stringMatching(/le="2\.5".*\} 1$/));
    expect(buckets.every((b) => b.includes(labels))).toBe(true);
  });
});
