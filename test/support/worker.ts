/**
 * A real quickmig worker for integration tests, in the test process (./lab-worker.ts: the same wiring
 * as `quickmig worker`), on a task queue of the test's own.
 */
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { LabInfo } from '../../src/lab/lab';
import type { MigrationProgress } from '../../src/workflows/definitions';
import { progressQuery } from '../../src/workflows/definitions';
import type { LabWorker } from './lab-worker';
import { labWorkflowBundle, startLabWorker } from './lab-worker';

/** A running worker and a client on the same task queue. */
export type TestWorker = LabWorker;

/** The workflow bundle, built once per test process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  return labWorkflowBundle();
}

/** Starts a worker for the lab on a fresh task queue. */
export function startWorker(lab: LabInfo): Promise<TestWorker> {
  return startLabWorker(lab, { queuePrefix: 'quickmig-test' });
}

/**
 * Asks a migration's progress every 250 ms until `until` holds; fails when it rolled back or was
 * refused, or after `timeoutMs`.
 */
export async function progressUntil(
  handle: { query: (q: typeof progressQuery) => Promise<MigrationProgress> },
  until: (p: MigrationProgress) => boolean,
  timeoutMs = 180_000,
): Promise<MigrationProgress> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await handle.query(progressQuery);
    if (until(p)) return p;
    if (p.phase === 'rolled-back' || p.phase === 'refused') throw new Error(`migration ended: ${p.error}`);
    if (Date.now() > deadline) throw new Error(`still in ${p.phase}/${p.step}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
