/**
 * A quickmig worker for a running lab, in the calling process, wired as `quickmig worker` wires it
 * (createWorkers), on a task queue of its own, with a Temporal client beside it. Integration tests and
 * the benchmark drive migrations through it.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadWorkerConfig } from '../../src/config/config';
import type { LabInfo } from '../../src/lab/lab';
import type { QuickmigWorkers } from '../../src/worker';
import { bundleWorkflows, createWorkers } from '../../src/worker';

/** A running worker and a client on the same task queue. */
export interface LabWorker {
  taskQueue: string;
  client: Client;
  workers: QuickmigWorkers;
  /** Shuts the worker down and closes both connections. */
  stop(): Promise<void>;
}

/** Options of `startLabWorker`. */
export interface LabWorkerOptions {
  /** Task queue name prefix; a random suffix is added. Default 'quickmig-lab'. */
  readonly queuePrefix?: string;
}

let runtimeInstalled = false;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Worker logs at WARN and above, once per process: the caller's own output stays readable. */
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

/** The workflow bundle, built once per process. */
export function labWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  quietRuntime();
  bundle ??= bundleWorkflows(Runtime.instance().logger);
  return bundle;
}

/** Starts a worker for the lab on a fresh task queue. */
export async function startLabWorker(lab: LabInfo, options: LabWorkerOptions = {}): Promise<LabWorker> {
  const workflowBundle = await labWorkflowBundle();
  const taskQueue = `${options.queuePrefix ?? 'quickmig-lab'}-${randomUUID().slice(0, 8)}`;
  const config = { ...loadWorkerConfig(lab.workerConfig, {}), taskQueue };
  const connection = await NativeConnection.connect({ address: lab.temporal.address });
  const workers = await createWorkers(config, {
    connection,
    workflowBundle,
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
