/**
 * The migrationBatch workflow end to end on a lab of its own (fixtures/batch-topology.json: two source
 * ESXi hosts with small running VMs, a target host with two datastores and one too small for anything),
 * a real worker, and the CLI as a user runs it. It checks what an operator would: every VM has an
 * outcome, failures carry their cause and stop nothing else, targets run with the source's bytes, and
 * the limits held, proven from Temporal's own start and close times of the child workflows rather
 * than from the batch's word.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveBatchProgress } from '../../src/client/batches';
import { MigrationCancelledError } from '../../src/client/failures';
import { QuickmigClient } from '../../src/client/migrations';
import type { LabInfo } from '../../src/lab/lab';
import { projectRoot } from '../../src/lab/tools';
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import type { BatchVm } from '../../src/workflows/batch';
import { progressQuery } from '../../src/workflows/definitions';
import type { planMigration } from '../../src/workflows/plan-migration';
import { labEnv, runCli } from '../cli/support';
import { HistoryRecorder } from '../support/histories';
import { controlOf, startPrivateLab, stopPrivateLab } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { startWorker, workflowBundle } from '../support/worker';
import { connect } from '../vsphere/helpers';

const TOPOLOGY = join(projectRoot, 'test', 'workflows', 'fixtures', 'batch-topology.json');
const LIMITS = { global: 3, perSourceHost: 2, perTargetDatastore: 2 };
/** The host each VM runs on, from the topology: the test's own knowledge, not the batch's. */
const HOST_OF: Record<string, string> = Object.fromEntries([
  ...['b01', 'b02', 'b03', 'b04', 'b05', 'b06', 'c01', 'c02'].map((vm) => [vm, 'src-a/src-a.lab']),
  ...['b07', 'b08', 'b09', 'b10', 'b11', 'c03', 'c04'].map((vm) => [vm, 'src-b/src-b.lab']),
]);

let lab: LabInfo;
let worker: TestWorker;
const histories = new HistoryRecorder();
let quickmig: QuickmigClient;
const clients: Record<string, VSphereClient> = {};
const client = (name: string) => clients[name] as VSphereClient;

beforeAll(async () => {
  lab = await startPrivateLab('batch', TOPOLOGY);
  worker = await startWorker(lab);
  quickmig = new QuickmigClient(worker.client, { taskQueue: worker.taskQueue });
  for (const name of ['src-a', 'src-b', 'dst']) clients[name] = await connect(lab, name);
});

afterAll(async () => {
  if (worker) await histories.record();
  await Promise.all(Object.values(clients).map((c) => c.close()));
  await worker?.stop();
  if (lab) await stopPrivateLab(lab.dir);
});

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function vmNamed(endpoint: string, name: string): Promise<VmFacts | undefined> {
  const vm = (await client(endpoint).inventory.listVms()).find((v) => v.name === name);
  return vm ? client(endpoint).facts.vm(vm.ref) : undefined;
}

const flatFile = (endpoint: string, datastore: string, vm: string) =>
  join(lab.dir, 'datastores', endpoint, datastore, vm, `${vm}-flat.vmdk`);

/** The child workflows Temporal holds for a batch, from its visibility store. */
async function childrenOf(batchId: string): Promise<WorkflowExecutionInfo[]> {
  const out: WorkflowExecutionInfo[] = [];
  for await (const wf of worker.client.workflow.list({ query: `ParentWorkflowId = '${batchId}'` }))
    out.push(wf);
  return out;
}

/**
 * The most intervals open at once, per key, from Temporal's start and close times. A close and a start
 * at the same instant do not overlap (the batch starts the next child only after it saw one close).
 */
function maxOverlap(intervals: { keys: string[]; start: number; end: number }[]): Map<string, number> {
  const events = intervals.flatMap((i) => [
    { at: i.start, delta: 1, keys: i.keys },
    { at: i.end, delta: -1, keys: i.keys },
  ]);
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const open = new Map<string, number>();
  const max = new Map<string, number>();
  for (const e of events)
    for (const key of e.keys) {
      const n = (open.get(key) ?? 0) + e.delta;
      open.set(key, n);
      max.set(key, Math.max(max.get(key) ?? 0, n));
    }
  return max;
}

describe('migrationBatch (integration)', () => {
  it('planMigration plans a batch VM as a dry run: the plan names the method, and the VM stays where it is', async () => {
    const handle = await worker.client.workflow.start<typeof planMigration>('planMigration', {
      taskQueue: worker.taskQueue,
      workflowId: `plan-b01-${Date.now()}`,
      args: [{ source: { endpoint: 'src-a', name: 'b01' }, target: { endpoint: 'dst', datastore: 'ds1' } }],
    });
    histories.add('plan-b01', handle);
    const plan = await handle.result();
    expect(plan.blocked).toBe(false);
    expect(plan.method).toBe('quick-migration');
    expect(plan.mode).toBe('smartswitch');
    expect(plan.disks.map((d) => d.to)).toEqual(['ds1']);
    expect(plan.steps).toEqual([
      'preflight',
      'make-folders',
      'snapshot',
      'bulk-copy',
      'suspend',
      'delta-copy',
      'register-target',
      'resume',
      'consolidate',
      'finalize-source',
    ]);
    const b01 = await vmNamed('src-a', 'b01');
    expect(b01?.powerState).toBe('poweredOn');
    expect((await client('dst').inventory.listVms()).map((v) => v.name)).not.toContain('b01');
  });

  it('migrates 12 planned VMs within global 3 / per host 2 / per datastore 2; three failures stop nothing else', async () => {
    const t0 = Date.now();
    // b02 fails mid-migration (its snapshot is refused, permanently) and rolls back.
    const b02 = (await client('src-a').inventory.listVms()).find((v) => v.name === 'b02');
    await controlOf(lab, 'src-a').addFault({
      kind: 'soap',
      method: 'CreateSnapshot_Task',
      object: b02?.ref.value as string,
      fault: 'InsufficientResourcesFault',
      count: 1,
    });
    const name = `it-${randomBytes(3).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'quickmig-batch-'));
    const planFile = join(dir, 'plan.yaml');
    writeFileSync(
      planFile,
      `# 12 VMs from two hosts to two datastores; nope99 does not exist, b06 goes to a datastore too small
name: ${name}
defaults:
  source: { endpoint: src-a }
  target: { endpoint: dst, datastore: ds1 }
limits: { global: ${LIMITS.global}, perSourceHost: ${LIMITS.perSourceHost}, perTargetDatastore: ${LIMITS.perTargetDatastore} }
migrations:
  - source: { name: b01 }
  - source: { name: b02 }
  - source: { name: b03 }
  - source: { name: b04 }
    target: { datastore: ds2 }
  - source: { name: nope99 }
  - source: { name: b05 }
    target: { datastore: ds2 }
  - source: { name: b06 }
    target: { datastore: tiny }
  - source: { endpoint: src-b, name: b07 }
  - source: { endpoint: src-b, name: b08 }
    target: { datastore: ds2 }
  - source: { endpoint: src-b, name: b09 }
  - source: { endpoint: src-b, name: b10 }
    target: { datastore: ds2 }
  - source: { endpoint: src-b, name: b11 }
`,
    );
    const datastoreOf: Record<string, string> = {
      b04: 'ds2',
      b05: 'ds2',
      b06: 'tiny',
      b08: 'ds2',
      b10: 'ds2',
    };
    const dsOf = (vm: string) => `dst/${datastoreOf[vm] ?? 'ds1'}`;
    const succeeded = ['b01', 'b03', 'b04', 'b05', 'b07', 'b08', 'b09', 'b10', 'b11'];

    // As a user runs it: validate, start, wait, print the results; exit 1 because some VMs failed.
    const env = labEnv(lab);
    const run = await runCli(
      ['migrate', '--plan', planFile, '--wait', '--json', '--task-queue', worker.taskQueue],
      env,
    );
    const wallMs = Date.now() - t0;
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(
      /3 of 12 migration\(s\) in batch quickmig-batch-it-\w+ did not succeed: src-a\/b02, src-a\/nope99, src-a\/b06/,
    );
    const result = JSON.parse(run.stdout) as LiveBatchProgress;
    const batchId = `quickmig-batch-${name}`;
    expect(result.id).toBe(batchId);
    expect(result.status).toBe('COMPLETED');

    // Every VM has an outcome; the three failures carry their cause and step.
    expect(result.vms).toHaveLength(12);
    expect(result.counts).toEqual({
      total: 12,
      pending: 0,
      running: 0,
      succeeded: 9,
      failed: 3,
      cancelled: 0,
    });
    const byName = new Map(result.vms.map((v) => [v.vm.split('/')[1] as string, v]));
    const vm = (n: string) => byName.get(n) as BatchVm;
    expect(vm('nope99')).toMatchObject({ state: 'failed', startedAt: null });
    expect(vm('nope99').error).toMatchObject({ type: 'RequestValidationError', step: 'preflight' });
    expect(vm('nope99').error?.message).toMatch(/source\.name: .*nope99.*check the name or identifier/);
    expect(vm('b06')).toMatchObject({ state: 'failed', startedAt: null });
    expect(vm('b06').error).toMatchObject({ type: 'PreflightBlockedError', step: 'preflight' });
    expect(vm('b06').error?.message).toMatch(/datastore 'tiny' needs .* free/);
    expect(vm('b02').state).toBe('failed');
    expect(vm('b02').error).toMatchObject({ type: 'MigrationFailed', step: 'snapshot' });
    expect(vm('b02').error?.message).toMatch(/failed at step snapshot: .*Insufficient/i);
    expect(vm('b02').error?.undone).toContain('deleted the target folders [ds1] b02');

    // The successful targets exist, run on the planned datastore, and hold the source's bytes.
    for (const n of succeeded) {
      const v = vm(n);
      expect(v.state, `${n}: ${JSON.stringify(v.error)}`).toBe('succeeded');
      expect(v.sourceHost).toBe(HOST_OF[n]);
      expect(v.targetDatastores).toEqual([dsOf(n)]);
      expect(v.result?.downtimeMs).toBeGreaterThan(0);
      expect(v.result?.bytesCopied).toBeGreaterThan(4 << 20);
      const target = await vmNamed('dst', n);
      expect(target?.powerState, n).toBe('poweredOn');
      expect(target?.snapshots, n).toEqual([]);
      expect(target?.disks.map((d) => d.chain.length)).toEqual([1]);
      const [srcEndpoint] = (HOST_OF[n] as string).split('/') as [string];
      expect(await vmNamed(srcEndpoint, n), `${n} left its source`).toBeUndefined();
      expect(await sha256(flatFile('dst', datastoreOf[n] ?? 'ds1', n)), n).toBe(
        await sha256(flatFile(srcEndpoint, 'datastore1', n)),
      );
    }
    // The failures changed nothing: the sources run as before, nothing of them on the target.
    for (const n of ['b02', 'b06']) {
      const source = await vmNamed('src-a', n);
      expect(source?.powerState, n).toBe('poweredOn');
      expect(source?.snapshots, n).toEqual([]);
      expect(await vmNamed('dst', n), n).toBeUndefined();
    }
    expect(existsSync(join(lab.dir, 'datastores', 'dst', 'ds1', 'b02'))).toBe(false);

    // Temporal's records: one child per started VM, each started once, under the derived id.
    const children = await childrenOf(batchId);
    const started = [...succeeded, 'b02'];
    expect(children.map((c) => c.workflowId).sort()).toEqual(
      started.map((n) => `${batchId}-${HOST_OF[n]?.split('/')[0]}-${n}`).sort(),
    );
    for (const n of ['nope99', 'b06'])
      await expect(
        worker.client.workflow.getHandle(`${batchId}-src-a-${n}`).describe(),
      ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    const described = await Promise.all(
      children.map((c) => worker.client.workflow.getHandle(c.workflowId).describe()),
    );
    const intervals = described.map((d) => {
      const n = d.workflowId.slice(-3);
      expect(d.parentExecution?.workflowId).toBe(batchId);
      expect(d.status.name).toBe(n === 'b02' ? 'FAILED' : 'COMPLETED');
      return {
        vm: n,
        keys: ['global', `host:${HOST_OF[n]}`, `ds:${dsOf(n)}`],
        start: d.startTime.getTime(),
        end: (d.closeTime as Date).getTime(),
      };
    });
    const observed = maxOverlap(intervals);
    const perKey = (prefix: string) =>
      Math.max(...[...observed].filter(([k]) => k.startsWith(prefix)).map(([, n]) => n));
    const seen = {
      global: observed.get('global') ?? 0,
      perSourceHost: perKey('host:'),
      perTargetDatastore: perKey('ds:'),
    };
    console.log(
      `batch of 12: wall ${wallMs} ms; max concurrency from Temporal's records ${JSON.stringify(seen)}, ` +
        `self-reported ${JSON.stringify(result.maxRunning)}, limits ${JSON.stringify(LIMITS)}; child durations ` +
        intervals.map((i) => `${i.vm} ${i.end - i.start} ms`).join(', '),
    );
    expect(seen.global).toBeLessThanOrEqual(LIMITS.global);
    expect(seen.perSourceHost).toBeLessThanOrEqual(LIMITS.perSourceHost);
    expect(seen.perTargetDatastore).toBeLessThanOrEqual(LIMITS.perTargetDatastore);
    // The limits were exercised, not met by running one VM at a time.
    expect(seen.global).toBeGreaterThanOrEqual(2);
    // The batch's own account agrees: it never held more slots than allowed, and its slots span the children.
    expect(result.maxRunning.global).toBeLessThanOrEqual(LIMITS.global);
    expect(result.maxRunning.global).toBeGreaterThanOrEqual(seen.global);
    for (const n of Object.values(result.maxRunning.perSourceHost)) expect(n).toBeLessThanOrEqual(2);
    for (const n of Object.values(result.maxRunning.perTargetDatastore)) expect(n).toBeLessThanOrEqual(2);
    // b02's failure stopped nothing: migrations started after it had failed, and completed.
    const b02End = intervals.find((i) => i.vm === 'b02')?.end as number;
    expect(intervals.filter((i) => i.vm !== 'b02' && i.start > b02End).length).toBeGreaterThan(0);

    // The batch's history replays against the workflow code (determinism under real interleavings).
    histories.add('batch-limits', worker.client.workflow.getHandle(batchId));
    const history = await worker.client.workflow.getHandle(batchId).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, batchId);

    // status tells a batch from a migration by the id; list still lists migrations.
    const status = await runCli(['status', batchId, '--task-queue', worker.taskQueue], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`${batchId}  COMPLETED  batch ${name}`);
    expect(status.stdout).toMatch(/12 migration\(s\): 9 succeeded, 3 failed/);
    expect(status.stdout).toMatch(/limits: global 3 \(max seen [1-3]\), per source host 2 \(max seen [12]\)/);
    expect(status.stdout).toMatch(
      /src-b\/b11\s+succeeded\s+src-b\/src-b\.lab\s+dst\/ds1\s+quick\/smartswitch/,
    );
    expect(status.stdout).toMatch(/src-a\/nope99\s+failed[\s\S]*at preflight: source\.name/);
    const single = await runCli(['status', `${batchId}-src-b-b11`, '--task-queue', worker.taskQueue], env);
    expect(single.code, single.stderr).toBe(0);
    expect(single.stdout).toMatch(/Migration quickmig-batch-it-\w+-src-b-b11 completed/);
    const list = await runCli(['list', '--json', '--vm', 'src-b/b11'], env);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { id: string }[]).map((m) => m.id)).toContain(`${batchId}-src-b-b11`);
  });

  it('cancelling a batch cancels its running migrations (they roll back) and starts no more', async () => {
    const started = await quickmig.startBatch({
      defaults: { target: { endpoint: 'dst', datastore: 'ds1' }, options: { switchover: 'manual' } },
      limits: { global: 2 },
      migrations: [
        { source: { endpoint: 'src-a', name: 'c01' } },
        { source: { endpoint: 'src-a', name: 'c02' } },
        { source: { endpoint: 'src-b', name: 'c03' } },
        { source: { endpoint: 'src-b', name: 'c04' } },
      ],
    });
    histories.add('batch-cancel', worker.client.workflow.getHandle(started.id));
    // Two migrations run (waiting for their switchover approval, their snapshots taken); two wait for a slot.
    let progress = await quickmig.batchProgress(started.id);
    // A bound on the wait, not a speed: two small bulk copies take seconds, minutes on a busy machine.
    const deadline = Date.now() + 240_000;
    const waiting = async () => {
      if (progress.counts.running !== 2 || progress.counts.pending !== 2) return false;
      const running = progress.vms.filter((v) => v.state === 'running');
      const phases = await Promise.all(
        running.map((v) =>
          worker.client.workflow
            .getHandle(v.migrationId)
            .query(progressQuery)
            .catch(() => null),
        ),
      );
      return phases.every((p) => p?.awaitingApproval === true);
    };
    while (!(await waiting())) {
      expect(Date.now(), `still ${JSON.stringify(progress.counts)} after 240 s`).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 250));
      progress = await quickmig.batchProgress(started.id);
    }
    const ran = progress.vms.filter((v) => v.state === 'running');

    await quickmig.cancelBatch(started.id);
    await expect(quickmig.batchResult(started.id)).rejects.toBeInstanceOf(MigrationCancelledError);
    const final = await quickmig.batchProgress(started.id);
    expect(final.status).toBe('CANCELLED');
    expect(final.cancelRequested).toBe(true);
    expect(final.counts).toMatchObject({ total: 4, cancelled: 4, running: 0, pending: 0 });
    for (const v of final.vms) {
      const wasRunning = ran.some((r) => r.index === v.index);
      expect(v.startedAt !== null, v.vm).toBe(wasRunning);
      const describe = worker.client.workflow.getHandle(v.migrationId).describe();
      if (wasRunning) expect((await describe).status.name, v.vm).toBe('CANCELLED');
      else await expect(describe, v.vm).rejects.toBeInstanceOf(WorkflowNotFoundError);
      // Every source runs as before, without the migration's snapshot; nothing is left on the target.
      const [endpoint, name] = v.vm.split('/') as [string, string];
      const source = await vmNamed(endpoint, name);
      expect(source?.powerState, v.vm).toBe('poweredOn');
      expect(source?.snapshots, v.vm).toEqual([]);
      expect(await vmNamed('dst', name), v.vm).toBeUndefined();
      expect(existsSync(join(lab.dir, 'datastores', 'dst', 'ds1', name)), v.vm).toBe(false);
    }
    // The cancellation path replays deterministically too.
    const history = await worker.client.workflow.getHandle(started.id).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, started.id);
  });
});
