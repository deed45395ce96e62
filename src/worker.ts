/**
 * The quickmig worker: runs migration workflows and their activities against the vSphere endpoints of
 * its configuration. Credentials stay here; requests name endpoints only.
 *
 * `quickmig worker [--config FILE]` starts it; `createWorkers` is the same wiring for tests and
 * embedding.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import type { Logger, WorkerOptions, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { createControlActivities, createDataMoverActivities } from './activities';
import type { EndpointPool, EndpointState } from './activities/endpoints';
import { checkEndpoints, createEndpointPool } from './activities/endpoints';
import { dataConverterFor } from './codec/codec';
import type { WorkerConfig } from './config/config';
import { packagePath } from './package-root';
import { ENDPOINT_DIRECTORY_MEMO, endpointDirectoryId, WORKFLOW_TYPES } from './request/contract';
import type { TelemetryOptions } from './telemetry/telemetry';
import {
  copiesInProgressInterceptor,
  countCopiedBytes,
  installTelemetry,
  migrationMetricsSinks,
  recordEndpointUp,
  WORKFLOW_METRICS_MODULE,
} from './telemetry/telemetry';
import type { EndpointDirectory } from './workflows/operator';

/** Path of the workflow bundle's entry point (the bundler needs a file with its extension). */
export const WORKFLOWS_PATH = packagePath('src', 'workflows', 'index.ts');

/**
 * Bundles the workflow code as the worker runs it: the workflows and the downtime metric's interceptor.
 * scripts/build.mjs prebuilds it with this (prebuiltWorkflowBundle), tests bundle it once with this.
 */
export function bundleWorkflows(logger?: Logger): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: [WORKFLOW_METRICS_MODULE],
    ...(logger ? { logger } : {}),
  });
}

/**
 * The workflow bundle that scripts/build.mjs writes beside the built modules, when this module runs from
 * dist/ (the CLI does): built from the same sources, it spares the worker a webpack run at start (about
 * 120 MiB of RSS). Undefined when running the sources (vitest, tsx); the worker then bundles at start.
 */
export function prebuiltWorkflowBundle(): string | undefined {
  const path = fileURLToPath(new URL('./workflow-bundle.js', import.meta.url));
  return existsSync(path) ? path : undefined;
}

/** Options of {@link createWorkers}. */
export interface CreateWorkersOptions {
  /** An existing connection to reuse. Default: one to `config.temporalAddress`. */
  connection?: NativeConnection;
  /**
   * Prebuilt workflow bundle (tests bundle once). Default: the build's own (prebuiltWorkflowBundle), else
   * bundled from WORKFLOWS_PATH at start.
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Task queue of data-mover activities when they get their own workers. Default: the main task queue. */
  dataMoverTaskQueue?: string;
  /**
   * Serve only the data-mover activities on `dataMoverTaskQueue` (required): a worker near the storage,
   * with no workflows and no control activities, so it never bundles workflow code. Default false.
   */
  dataMoverOnly?: boolean;
  /** Extra worker options (e.g. identity, concurrency). */
  workerOptions?: Partial<WorkerOptions>;
  /**
   * Installs the process's Temporal runtime with a logger (`logFormat: 'json'` for JSON lines carrying
   * the migration id) and a Prometheus endpoint (`metricsBindAddress`, e.g. `0.0.0.0:9464`) before
   * connecting. Default: the SDK's default runtime, no metrics endpoint. See src/telemetry.
   */
  telemetry?: TelemetryOptions;
}

/** The running workers and what to close after they stop. */
export interface QuickmigWorkers {
  workers: Worker[];
  pool: EndpointPool;
  connection: NativeConnection;
  /** Runs every worker until shutdown; then logs out of the endpoints and closes the connection if it owns it. */
  run(): Promise<void>;
  shutdown(): void;
}

/** Builds the worker (and a data-mover worker when its task queue differs) for a configuration. */
export async function createWorkers(
  config: WorkerConfig,
  options: CreateWorkersOptions = {},
): Promise<QuickmigWorkers> {
  const dataMoverQueue = options.dataMoverTaskQueue ?? config.taskQueue;
  if (options.dataMoverOnly && dataMoverQueue === config.taskQueue)
    throw new Error(
      `a data-mover-only worker needs a data-mover task queue of its own (not the main queue ${config.taskQueue})`,
    );
  if (options.telemetry) installTelemetry(options.telemetry);
  const ownsConnection = !options.connection;
  const connection =
    options.connection ??
    (await NativeConnection.connect({ address: config.temporalAddress, ...config.temporalConnection }));
  const pool = createEndpointPool(config.endpoints);
  // Payload encryption when configured: histories then hold ciphertext only (src/codec).
  const dataConverter = dataConverterFor(config.encryption?.keyFile);
  // The build's workflow bundle, unless the caller brings one or wants workflow modules of its own in it.
  const extraWorkflowModules = options.workerOptions?.interceptors?.workflowModules ?? [];
  const built = extraWorkflowModules.length === 0 ? prebuiltWorkflowBundle() : undefined;
  const workflowBundle = options.workflowBundle ?? (built ? { codePath: built } : undefined);
  // quickmig's own metrics: copies in progress (activity side; the copy counts its bytes itself), and
  // outcome and downtime per migration (workflow side; a prebuilt bundle carries it only if bundled with
  // WORKFLOW_METRICS_MODULE).
  const common = {
    connection,
    namespace: config.namespace,
    // Heartbeats reach the server at most every 0.8 x heartbeatTimeout by default (48 s for copyFiles);
    // the client's progress reads the pending copy's heartbeat details, so let them through every 2 s
    // (the copy heartbeats that often). These are RPCs, not history events.
    maxHeartbeatThrottleInterval: '2s',
    ...(dataConverter ? { dataConverter } : {}),
    // Where the workflow interceptor module reports finished migrations (src/telemetry).
    sinks: migrationMetricsSinks(),
    ...options.workerOptions,
    interceptors: {
      ...options.workerOptions?.interceptors,
      activity: [copiesInProgressInterceptor, ...(options.workerOptions?.interceptors?.activity ?? [])],
      // With a prebuilt bundle the SDK ignores (and warns about) workflow modules.
      ...(workflowBundle ? {} : { workflowModules: [WORKFLOW_METRICS_MODULE, ...extraWorkflowModules] }),
    },
  };
  // The copies count their bytes as they move (quickmig_copied_bytes_total).
  const dataMoverOptions = { bytesMoved: countCopiedBytes };
  const workflowSource = workflowBundle ? { workflowBundle } : { workflowsPath: WORKFLOWS_PATH };
  const workers = options.dataMoverOnly
    ? []
    : [
        await Worker.create({
          ...common,
          ...workflowSource,
          taskQueue: config.taskQueue,
          activities:
            dataMoverQueue === config.taskQueue
              ? { ...createControlActivities(pool), ...createDataMoverActivities(pool, dataMoverOptions) }
              : createControlActivities(pool),
        }),
      ];
  if (dataMoverQueue !== config.taskQueue) {
    workers.push(
      await Worker.create({
        ...common,
        taskQueue: dataMoverQueue,
        activities: createDataMoverActivities(pool, dataMoverOptions),
      }),
    );
  }
  return {
    workers,
    pool,
    connection,
    async run() {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        await pool.close();
        if (ownsConnection) await connection.close();
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}

/**
 * Publishes the endpoint names this worker serves (and their states at start) in the memo of its task
 * queue's directory workflow, replacing the run a previous worker started. Clients read the memo with
 * DescribeWorkflowExecution (no worker, no credentials) and refuse an unknown endpoint before starting
 * anything. Workers of one task queue share one configuration, so the last one started speaks for all.
 */
export async function publishEndpointDirectory(
  workers: QuickmigWorkers,
  config: WorkerConfig,
  states: EndpointState[] | null,
): Promise<void> {
  const dataConverter = dataConverterFor(config.encryption?.keyFile);
  const client = new Client({
    connection: workers.connection,
    namespace: config.namespace,
    ...(dataConverter ? { dataConverter } : {}),
  });
  const directory: EndpointDirectory = {
    endpoints: [...config.endpoints.keys()],
    states,
    worker: client.options.identity,
    publishedAt: new Date().toISOString(),
  };
  await client.workflow.start(WORKFLOW_TYPES.endpointDirectory, {
    taskQueue: config.taskQueue,
    workflowId: endpointDirectoryId(config.taskQueue),
    args: [directory],
    memo: { [ENDPOINT_DIRECTORY_MEMO]: directory },
    workflowIdConflictPolicy: 'TERMINATE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    staticSummary: `Endpoints of the quickmig workers on task queue ${config.taskQueue}: ${directory.endpoints.join(', ')}`,
  });
}

/** How often a running worker checks its endpoints again for `quickmig_endpoint_up`: 5 minutes. */
export const ENDPOINT_RECHECK_MS = 5 * 60_000;

/**
 * Keeps `quickmig_endpoint_up` true to the worker's endpoints: records the states of the start-up check,
 * then checks every endpoint again (a fresh login and logout each) every `intervalMs` and records the
 * result; `onChange` hears of an endpoint whose usability changed. Returns the function that stops it.
 * Needs the telemetry runtime installed (createWorkers does it).
 */
export function monitorEndpoints(
  config: WorkerConfig,
  initial: readonly EndpointState[],
  onChange: (state: EndpointState) => void,
  intervalMs = ENDPOINT_RECHECK_MS,
): () => void {
  const usable = new Map<string, boolean>();
  const record = (states: readonly EndpointState[]) => {
    for (const state of states) {
      const up = state.problem === null;
      if (usable.has(state.name) && usable.get(state.name) !== up) onChange(state);
      usable.set(state.name, up);
      recordEndpointUp(state.name, up);
    }
  };
  record(initial);
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    checkEndpoints(config.endpoints)
      .then(record)
      .catch(() => {})
      .finally(() => {
        checking = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
