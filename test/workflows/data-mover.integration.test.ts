/**
 * Data movers near the data: with a data-mover task queue, the copies run on the workers serving that
 * queue (e.g. next to the target storage) while the control steps stay on the main queue. Here that
 * queue is served by `quickmig worker --data-mover-only`, a process of its own, as it is deployed.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import { quickMigration } from '../../src/workflows/quick-migration';
import type { CliProcess } from '../cli/support';
import { labEnv, runCli, startWorkerProcess, stopProcess } from '../cli/support';
import { startPrivateLab, stopPrivateLab } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { startWorker } from '../support/worker';

let lab: LabInfo;
let worker: TestWorker;
let mover: CliProcess | undefined;
const dataQueue = `quickmig-movers-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  lab = await startPrivateLab('data-mover');
  worker = await startWorker(lab);
  mover = await startWorkerProcess(lab, ['--data-mover-only', '--data-mover-queue', dataQueue]);
});

afterAll(async () => {
  await stopProcess(mover);
  await worker?.stop();
  if (lab) await stopPrivateLab(lab.dir);
});

describe('data-mover task queue (integration)', () => {
  it('runs the copies on a data-mover-only worker process and everything else on the main queue', async () => {
    const handle = await worker.client.workflow.start(quickMigration, {
      taskQueue: worker.taskQueue,
      workflowId: `data-mover-off01-${Date.now()}`,
      args: [
        {
          source: { endpoint: 'esx-a', name: 'off01' },
          target: { endpoint: 'esx-b', datastore: 'datastore1' },
        },
        { dataMoverTaskQueue: dataQueue },
      ],
    });
    const result = await handle.result();
    expect(result.verified.length).toBeGreaterThan(3);
    for (const f of result.verified) expect(f.sha256Target).toBe(f.sha256Source);

    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = events.flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a ? [{ id: String(e.eventId), type: a.activityType?.name, queue: a.taskQueue?.name }] : [];
    });
    const copies = scheduled.filter((s) => s.type === 'copyFiles');
    expect(copies.length).toBeGreaterThan(0);
    expect(new Set(copies.map((c) => c.queue))).toEqual(new Set([dataQueue]));
    expect(new Set(scheduled.filter((s) => s.type !== 'copyFiles').map((s) => s.queue))).toEqual(
      new Set([worker.taskQueue]),
    );
    // The copies ran in the other process: its identity, not the in-process worker's.
    const copyIds = new Set(copies.map((c) => c.id));
    const identities = new Set(
      events.flatMap((e) => {
        const s = e.activityTaskStartedEventAttributes;
        return s && copyIds.has(String(s.scheduledEventId)) ? [s.identity] : [];
      }),
    );
    expect(identities.size).toBeGreaterThan(0);
    expect([...identities].every((i) => i?.startsWith(`${mover?.child.pid}@`))).toBe(true);
  });

  it('refuses --data-mover-only without the queue it would serve, before connecting anywhere', async () => {
    const run = await runCli(['worker', '--config', lab.workerConfig, '--data-mover-only'], labEnv(lab));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /--data-mover-only: give the data movers their task queue with --data-mover-queue/,
    );
  });
});
