/**
 * Data movers near the data: with a data-mover task queue, the copies run on the workers serving that
 * queue (e.g. next to the target storage) while the control steps stay on the main queue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import { labDown } from '../../src/lab/lab';
import { quickMigration } from '../../src/workflows/quick-migration';
import { startPrivateLab } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { startWorker } from '../support/worker';

let lab: LabInfo;
let worker: TestWorker;

beforeAll(async () => {
  lab = await startPrivateLab('data-mover');
  worker = await startWorker(lab, { dataMoverQueue: true });
});

afterAll(async () => {
  await worker?.stop();
  if (lab) await labDown(lab.dir);
});

describe('data-mover task queue (integration)', () => {
  it('runs the copies on the data-mover queue and everything else on the main queue', async () => {
    const dataQueue = `${worker.taskQueue}-data`;
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

    const scheduled = ((await handle.fetchHistory()).events ?? []).flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a ? [{ type: a.activityType?.name, queue: a.taskQueue?.name }] : [];
    });
    const copies = scheduled.filter((s) => s.type === 'copyFiles');
    expect(copies.length).toBeGreaterThan(0);
    expect(new Set(copies.map((c) => c.queue))).toEqual(new Set([dataQueue]));
    expect(new Set(scheduled.filter((s) => s.type !== 'copyFiles').map((s) => s.queue))).toEqual(
      new Set([worker.taskQueue]),
    );
  });
});
