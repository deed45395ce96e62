/**
 * The worker's telemetry as an operator's Prometheus and log pipeline see it, in the lab: `quickmig worker
 * --metrics-port --log-format json` runs a SmartSwitch migration that completes and one that fails after its
 * plan (a NoPermission fault on the source's snapshot), then /metrics is scraped and the JSON lines read.
 * Checks the names, types, units and labels src/telemetry/metrics declares, the values a user would check
 * (bytes copied, downtime in seconds, outcomes with their method), the SDK metrics the dashboard and alerts
 * use, the image's readiness check against the real endpoint, and one log line per business event with the
 * migration id and no task token, secret or empty error.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import { freePorts } from '../../src/lab/processes';
import { projectRoot } from '../../src/lab/tools';
import type { MetricDefinition } from '../../src/telemetry/metrics';
import {
  COPIED_BYTES,
  COPIES_IN_PROGRESS,
  DOWNTIME,
  ENDPOINT_UP,
  MIGRATIONS,
  QUICKMIG_METRICS,
  SDK_METRICS,
  SERVICE_DOWNTIME,
} from '../../src/telemetry/metrics';
import type { CliProcess } from '../cli/support';
import { labEnv, runCli, startWorkerProcess, stopProcess } from '../cli/support';
import { controlOf, endpoint, passwordOf, startPrivateLab, stopPrivateLab } from '../support/lab';

interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Scrape {
  types: Map<string, string>;
  series: Series[];
}

/** Parses the Prometheus text exposition format (what /metrics serves). */
function parseExposition(text: string): Scrape {
  const types = new Map<string, string>();
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not an exposition line: ${line}`);
    const labels = Object.fromEntries(
      [...(sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [
        m[1],
        m[2],
      ]),
    );
    series.push({ name: sample[1] as string, labels, value: Number(sample[3]) });
  }
  return { types, series };
}

/** The series of a metric (for a histogram, those of its `_bucket`, `_sum` and `_count`). */
const seriesOf = (scrape: Scrape, def: Pick<MetricDefinition, 'name' | 'type'>) =>
  scrape.series.filter((s) =>
    def.type === 'histogram'
      ? [`${def.name}_bucket`, `${def.name}_sum`, `${def.name}_count`].includes(s.name)
      : s.name === def.name,
  );

const sum = (series: Series[]) => series.reduce((total, s) => total + s.value, 0);

let lab: LabInfo;
let worker: CliProcess;
let env: NodeJS.ProcessEnv;
let metricsPort: number;
let scrape: Scrape;
let lines: Record<string, unknown>[];

beforeAll(async () => {
  lab = await startPrivateLab('telemetry');
  env = labEnv(lab);
  [metricsPort] = (await freePorts(1)) as [number];
  worker = await startWorkerProcess(lab, [
    '--metrics-port',
    `127.0.0.1:${metricsPort}`,
    '--log-format',
    'json',
  ]);

  const completed = await runCli(
    ['migrate', '--vm', 'esx-a/ir-app01', '--to', 'esx-b', '--datastore', 'datastore1', '--finalize-ir'],
    env,
  );
  expect(completed.code, completed.stderr).toBe(0);
  // Fails after the plan: the source host refuses the snapshot (permanent), and the migration rolls back.
  await controlOf(lab, 'esx-b').addFault({
    kind: 'soap',
    method: 'CreateSnapshot_Task',
    fault: 'NoPermission',
  });
  const failed = await runCli(
    ['migrate', '--vm', 'esx-b/util01', '--to', 'esx-a', '--datastore', 'datastore1'],
    env,
  );
  expect(failed.code).toBe(1);

  scrape = parseExposition(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
  lines = worker.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
});

afterAll(async () => {
  await stopProcess(worker);
  if (lab) await stopPrivateLab(lab.dir);
});

describe('worker telemetry (integration)', () => {
  it("serves quickmig's metrics with the declared names, types, units and snake_case labels, never an empty value", () => {
    // Every metric the two migrations recorded (the over-budget counter needs a missed downtime budget).
    for (const def of [
      COPIED_BYTES,
      COPIES_IN_PROGRESS,
      MIGRATIONS,
      DOWNTIME,
      SERVICE_DOWNTIME,
      ENDPOINT_UP,
    ]) {
      expect(scrape.types.get(def.name), `# TYPE of ${def.name}`).toBe(def.type);
      const series = seriesOf(scrape, def);
      expect(series.length, `${def.name} has no series`).toBeGreaterThan(0);
      for (const s of series) {
        const labels = Object.keys(s.labels).filter((l) => l !== 'service_name' && l !== 'le');
        expect(labels.sort(), `${s.name} labels`).toEqual([...def.labels].sort());
        for (const [label, value] of Object.entries(s.labels)) {
          expect(label).toMatch(/^[a-z][a-z0-9_]*$/);
          expect(value, `${s.name}{${label}} is empty`).not.toBe('');
        }
      }
    }
    for (const def of QUICKMIG_METRICS) {
      if (def.type === 'counter') expect(def.name).toMatch(/_total$/);
      if (def.unit !== '') expect(def.name).toContain(`_${def.unit}`);
    }
  });

  it('reports every vSphere endpoint of the configuration usable (quickmig_endpoint_up 1)', () => {
    const configured = Object.keys(
      (JSON.parse(readFileSync(lab.workerConfig, 'utf8')) as { endpoints: Record<string, unknown> })
        .endpoints,
    );
    expect(configured.length).toBeGreaterThan(0);
    const up = Object.fromEntries(seriesOf(scrape, ENDPOINT_UP).map((s) => [s.labels.endpoint, s.value]));
    expect(up).toEqual(Object.fromEntries(configured.map((name) => [name, 1])));
  });

  it('counts the bytes copied per endpoint pair, the migrations by outcome with their method, the downtime in seconds', () => {
    const copied = seriesOf(scrape, COPIED_BYTES).filter(
      (s) => s.labels.source_endpoint === 'esx-a' && s.labels.target_endpoint === 'esx-b',
    );
    // ir-app01 has 256 MiB of disk data, all of it copied.
    expect(sum(copied)).toBeGreaterThanOrEqual(256 * 1024 * 1024);

    const migrations = seriesOf(scrape, MIGRATIONS);
    expect(migrations).toContainEqual(
      expect.objectContaining({
        labels: expect.objectContaining({
          outcome: 'completed',
          method: 'quick-migration',
          mode: 'smartswitch',
        }),
        value: 1,
      }),
    );
    // The failed run carries the method and mode it had planned, not "".
    expect(migrations).toContainEqual(
      expect.objectContaining({
        labels: expect.objectContaining({
          outcome: 'failed',
          method: 'quick-migration',
          mode: 'smartswitch',
        }),
        value: 1,
      }),
    );

    const downtime = seriesOf(scrape, DOWNTIME).filter((s) => s.labels.mode === 'smartswitch');
    const count = downtime.find((s) => s.name === `${DOWNTIME.name}_count`)?.value;
    const seconds = downtime.find((s) => s.name === `${DOWNTIME.name}_sum`)?.value ?? -1;
    expect(count).toBe(1);
    // Seconds, not milliseconds: the one observation is the downtime the migration measured and logged
    // (its switchover-ended line, in ms), over 1000, however long this machine took for it.
    const ended = lines.find(
      (l) => l.migrationId === 'quickmig-esx-a-ir-app01' && l.event === 'switchover-ended',
    );
    expect(typeof ended?.downtimeMs).toBe('number');
    expect(seconds).toBeGreaterThan(0);
    expect(Math.abs(seconds - (ended?.downtimeMs as number) / 1000)).toBeLessThan(0.0015);
    // The declared buckets reached the exporter.
    expect(downtime.some((s) => s.labels.le === '0.25')).toBe(true);
    // No copy is running any more.
    expect(sum(seriesOf(scrape, COPIES_IN_PROGRESS))).toBe(0);
  });

  it('serves the SDK metrics the dashboard and alerts use, by the Prometheus conventions', () => {
    for (const def of SDK_METRICS) {
      expect(scrape.types.get(def.name), `# TYPE of ${def.name}`).toBe(def.type);
      const series = seriesOf(scrape, def);
      expect(series.length, `${def.name} has no series`).toBeGreaterThan(0);
      for (const label of def.labels)
        expect(
          series.some((s) => label in s.labels),
          `${def.name}{${label}}`,
        ).toBe(true);
    }
    expect(
      sum(
        scrape.series.filter((s) => s.name === 'temporal_num_pollers' && s.labels.task_queue === 'quickmig'),
      ),
    ).toBeGreaterThan(0);
  });

  it("the image's readiness check passes against the running worker", async () => {
    const code = await new Promise<number>((resolve) =>
      execFile(
        process.execPath,
        [join(projectRoot, 'scripts', 'healthcheck.mjs'), '--ready'],
        { env: { PATH: process.env.PATH ?? '', QUICKMIG_METRICS_PORT: `127.0.0.1:${metricsPort}` } },
        (error) => resolve(error ? Number(error.code ?? 1) : 0),
      ),
    );
    expect(code).toBe(0);
  });

  it('logs one JSON line per business event, with the migration id, and no task token, secret or empty error', () => {
    const events = (id: string) => lines.filter((l) => l.migrationId === id && typeof l.event === 'string');
    const ok = events('quickmig-esx-a-ir-app01');
    const kinds = ok.map((l) => l.event);
    expect(kinds[0]).toBe('migration-started');
    expect(kinds.at(-1)).toBe('migration-completed');
    expect(kinds.filter((k) => k === 'switchover-began')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'switchover-ended')).toHaveLength(1);
    expect(ok.filter((l) => l.event === 'phase-changed').map((l) => l.phase)).toEqual(
      expect.arrayContaining(['config', 'bulk-copy', 'switchover', 'finalize']),
    );
    const ended = ok.find((l) => l.event === 'switchover-ended');
    const done = ok.find((l) => l.event === 'migration-completed');
    expect(typeof ended?.downtimeMs).toBe('number');
    expect(done).toMatchObject({
      method: 'quick-migration',
      mode: 'smartswitch',
      downtimeMs: ended?.downtimeMs,
    });
    expect(done?.bytesCopied).toBeGreaterThanOrEqual(256 * 1024 * 1024);

    const bad = events('quickmig-esx-b-util01');
    expect(bad.map((l) => l.event)).toEqual(expect.arrayContaining(['migration-started', 'rolled-back']));
    const failed = bad.find((l) => l.event === 'migration-failed');
    expect(failed).toMatchObject({ level: 'ERROR', method: 'quick-migration', failedStep: 'snapshot' });
    expect(String(failed?.errorMessage)).toMatch(/permission/i);

    const raw = worker.stderr;
    expect(raw).not.toMatch(/taskToken/i);
    expect(raw).not.toContain('"error":{}');
    for (const name of ['esx-a', 'esx-b', 'vcenter'])
      expect(raw).not.toContain(passwordOf(endpoint(lab, name)));
  });
});
