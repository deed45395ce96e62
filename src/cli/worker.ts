/**
 * `quickmig worker`: runs the worker until Ctrl-C or SIGTERM. The only quickmig process that holds
 * vSphere credentials (from its configuration file).
 */
import type { EndpointState } from '../activities/endpoints';
import { checkEndpoints, unusableConfiguration } from '../activities/endpoints';
import { loadWorkerConfig, workerConfigPath } from '../config/config';
import { ConfigError } from '../config/errors';
import { LAB_ENVIRONMENT } from '../config/lab-paths';
import { createWorkers, monitorEndpoints, publishEndpointDirectory } from '../worker';
import { command, outputOf } from './command';
import { CliError, ExitCode } from './errors';

/** Environment variables the worker command reads (besides the temporal CLI's TEMPORAL_* ones). */
export const WORKER_ENVIRONMENT = {
  /** Worker configuration file, when --config is not given. */
  config: 'QUICKMIG_CONFIG',
  /** Prometheus endpoint, when --metrics-port is not given: PORT or HOST:PORT. */
  metricsPort: 'QUICKMIG_METRICS_PORT',
  /** `text` or `json`, when --log-format is not given. */
  logFormat: 'QUICKMIG_LOG_FORMAT',
} as const;

/** TEMPORAL_* variables read through the configuration (src/config, @temporalio/envconfig). */
export const TEMPORAL_ENVIRONMENT = ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY'] as const;

/** `PORT` → `0.0.0.0:PORT`; `HOST:PORT` as is. */
export function metricsBindAddress(value: string): string {
  const bind = /^\d+$/.test(value) ? `0.0.0.0:${value}` : value;
  const port = Number(bind.slice(bind.lastIndexOf(':') + 1));
  if (!bind.includes(':') || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new CliError(
      `--metrics-port: give PORT or HOST:PORT (got ${JSON.stringify(value)})`,
      ExitCode.usage,
    );
  return bind;
}

const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

/** `quickmig worker`: runs the worker in this process until SIGINT or SIGTERM. */
export const workerCommand = command({
  meta: { name: 'worker', description: 'Run the worker: migration workflows and their vSphere activities' },
  args: {
    config: {
      type: 'string',
      valueHint: 'FILE',
      description: `Worker configuration (default: ${WORKER_ENVIRONMENT.config}, else the lab's worker-config.json)`,
    },
    lab: {
      type: 'string',
      valueHint: 'DIR',
      description: `Serve the lab started with quickmig lab up --lab DIR: its worker configuration (default: ${LAB_ENVIRONMENT}, else .quickmig/lab)`,
    },
    'data-mover-queue': {
      type: 'string',
      valueHint: 'Q',
      description: 'Also serve data-mover activities on task queue Q (workers near the storage)',
    },
    'data-mover-only': {
      type: 'boolean',
      description:
        'Serve only the data-mover activities on --data-mover-queue: no workflows, no control activities (a worker beside the storage; start a full worker elsewhere)',
    },
    'metrics-port': {
      type: 'string',
      valueHint: '[HOST:]PORT',
      description: `Serve Prometheus metrics on /metrics (PORT alone binds 0.0.0.0); default: ${WORKER_ENVIRONMENT.metricsPort}, else none`,
    },
    'log-format': {
      type: 'string',
      valueHint: 'text|json',
      description: `json: one object per line with migrationId (default: ${WORKER_ENVIRONMENT.logFormat}, else text)`,
    },
    'log-level': { type: 'string', valueHint: 'LEVEL', description: `${LEVELS.join(', ')} (default INFO)` },
  },
  notes: `The worker holds the credentials of its configuration; it stops on Ctrl-C or SIGTERM after the
running activities are cancelled. At start it logs in to every endpoint and logs each one's state; it
refuses to start (exit 3) when every endpoint fails for a reason of the configuration (login refused,
certificate pin or trust), and runs with a warning when an endpoint is only unreachable (it may come
back). It publishes its endpoint names for clients (the endpoint directory, README "The CLI"). TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (or a temporal CLI profile)
override the file's temporal section.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const metrics = args['metrics-port'] ?? process.env[WORKER_ENVIRONMENT.metricsPort];
    const logFormat = args['log-format'] ?? process.env[WORKER_ENVIRONMENT.logFormat] ?? 'text';
    if (logFormat !== 'text' && logFormat !== 'json')
      throw new CliError(`--log-format: use text or json (got ${JSON.stringify(logFormat)})`, ExitCode.usage);
    const logLevel = (args['log-level'] ?? 'INFO').toUpperCase();
    if (!LEVELS.includes(logLevel as (typeof LEVELS)[number]))
      throw new CliError(`--log-level: use ${LEVELS.join(', ')}`, ExitCode.usage);
    const dataMoverOnly = args['data-mover-only'] === true;
    if (dataMoverOnly && !args['data-mover-queue'])
      throw new CliError(
        '--data-mover-only: give the data movers their task queue with --data-mover-queue Q (the workflows pass it as dataMoverTaskQueue)',
        ExitCode.usage,
      );
    const config = loadWorkerConfig(workerConfigPath(args.config, process.env, args.lab));
    const log = (level: 'INFO' | 'WARN', message: string, fields: Record<string, unknown> = {}) => {
      if (logFormat === 'json')
        process.stderr.write(
          `${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`,
        );
      else out.progress(level === 'WARN' ? `warning: ${message}` : message);
    };
    const states = await checkEndpoints(config.endpoints);
    for (const state of states)
      log(state.problem ? 'WARN' : 'INFO', endpointLine(state), { endpoint: state });
    if (unusableConfiguration(states))
      throw new ConfigError(
        `no endpoint of ${config.source ?? 'the worker configuration'} can be used:\n  ${states.map((s) => `${s.name}: ${s.problem}`).join('\n  ')}`,
      );
    const workers = await createWorkers(config, {
      ...(args['data-mover-queue'] ? { dataMoverTaskQueue: args['data-mover-queue'] } : {}),
      dataMoverOnly,
      telemetry: {
        logFormat,
        logLevel: logLevel as (typeof LEVELS)[number],
        ...(metrics ? { metricsBindAddress: metricsBindAddress(metrics) } : {}),
      },
    });
    // quickmig_endpoint_up: the states above, then a fresh check every few minutes; a change is logged.
    const stopMonitor = monitorEndpoints(config, states, (state) =>
      log(state.problem ? 'WARN' : 'INFO', `now: ${endpointLine(state)}`, { endpoint: state }),
    );
    const stop = () => {
      stopMonitor();
      workers.shutdown();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const queues = dataMoverOnly
      ? `data movers only, task queue ${args['data-mover-queue']}`
      : `task queue ${config.taskQueue}${args['data-mover-queue'] ? ` (+ data movers on ${args['data-mover-queue']})` : ''}`;
    const where = `worker on ${config.temporalAddress} namespace ${config.namespace}, ${queues}; endpoints ${[...config.endpoints.keys()].join(', ')}${metrics ? `; metrics on http://${metricsBindAddress(metrics)}/metrics` : ''}`;
    log('INFO', where);
    if (!dataMoverOnly)
      await publishEndpointDirectory(workers, config, states).catch((error: unknown) =>
        log(
          'WARN',
          `could not publish the endpoint names (clients then learn of an unknown endpoint from the worker): ${(error as Error).message}`,
        ),
      );
    await workers.run();
  },
});

/** One endpoint's state at start, as the worker logs it. */
export function endpointLine(state: EndpointState): string {
  if (state.problem) return `endpoint ${state.name} (${state.url}): ${state.problem}`;
  return `endpoint ${state.name} (${state.url}): login ok, certificate ${state.certificate}, ${state.product ?? state.kind}, API ${state.apiVersion}`;
}
