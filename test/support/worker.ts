/**
 * A real quickmig worker for integration tests, in the test process, against the shared lab: the same
 * wiring as `quickmig worker` (createWorkers), on a task queue of the test's own.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadWorkerConfig } from '../../src/config/config';
import type { LabInfo } from '../../src/lab/lab';
import type { QuickmigWorkers } from '../../src/worker';
import { createWorkers, WORKFLOWS_PATH } from '../../src/worker';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
let runtimeInstalled = false;

/** Worker logs at WARN and above: the tests' own output stays readable. */
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

/** The workflow bundle, built once per test process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: Runtime.instance().logger });
  return bundle;
}

/** A running worker and a client on the same task queue. */
export interface TestWorker {
  taskQueue: string;
  client: Client;
  workers: QuickmigWorkers;
  stop(): Promise<void>;
}

/** Starts a worker for the lab on a fresh task queue (and a separate data-mover queue when asked). */
export async function startWorker(
  lab: LabInfo,
  options: { dataMoverQueue?: boolean } = {},
): Promise<TestWorker> {
  quietRuntime();
  const taskQueue = `quickmig-test-${randomUUID().slice(0, 8)}`;
  const config = { ...loadWorkerConfig(lab.workerConfig, {}), taskQueue };
  const connection = await NativeConnection.connect({ address: lab.temporal.address });
  const workers = await createWorkers(config, {
    connection,
    workflowBundle: await workflowBundle(),
    ...(options.dataMoverQueue ? { dataMoverTaskQueue: `${taskQueue}-data` } : {}),
  });
  const running = workers.run();
  const clientConnection = await Connection.connect({ address: lab.temporal.address });
  const client = new Client({ connection: clientConnection, namespace: lab.temporal.namespace });
  return {
    taskQueue,
    client,
    workers,
    async stop() {
      workers.shutdown();
      await running;
      await connection.close();
      await clientConnection.close();
    },
  };
}
