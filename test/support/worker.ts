/**
 * A real quickmig worker for integration tests, in the test process (./lab-worker.ts: the same wiring
 * as `quickmig worker`), on a task queue of the test's own.
 */
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { LabInfo } from '../../src/lab/lab';
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
