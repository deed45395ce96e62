/**
 * `quickmig worker`: runs the worker until Ctrl-C or SIGTERM. The only quickmig process that holds
 * vSphere credentials (from its configuration file).
 */
import { parseArgs } from 'node:util';
import { loadWorkerConfig, workerConfigPath } from '../config/config';
import { createWorkers } from '../worker';
import { CliError, ExitCode } from './errors';
import type { Output } from './output';

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

const WORKER_USAGE = `Usage: quickmig worker [options]

Runs the quickmig worker: migration workflows and their vSphere activities, with the credentials of
its configuration. Stops on Ctrl-C or SIGTERM after the running activities are cancelled.

  --config FILE           Worker configuration (default: QUICKMIG_CONFIG, else .quickmig/lab/worker-config.json)
  --data-mover-queue Q    Also serve data-mover activities on task queue Q (workers near the storage)
  --data-mover-only       Serve only the data-mover activities on --data-mover-queue: no workflows, no
                          control activities (a worker beside the storage; start a full worker elsewhere)
  --metrics-port [HOST:]PORT
                          Serve Prometheus metrics on /metrics (PORT alone binds 0.0.0.0); default:
                          QUICKMIG_METRICS_PORT, else none
  --log-format text|json  json: one object per line with migrationId (default: QUICKMIG_LOG_FORMAT, else text)
  --log-level LEVEL       TRACE, DEBUG, INFO, WARN or ERROR (default INFO)

TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (or a temporal CLI profile) override the file's temporal section.`;

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

/** Runs the worker in this process until SIGINT or SIGTERM. */
export async function workerCommand(args: string[], out: Output): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      'data-mover-queue': { type: 'string' },
      'data-mover-only': { type: 'boolean', default: false },
      'metrics-port': { type: 'string' },
      'log-format': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return out.text(WORKER_USAGE);
  const metrics = values['metrics-port'] ?? process.env[WORKER_ENVIRONMENT.metricsPort];
  const logFormat = values['log-format'] ?? process.env[WORKER_ENVIRONMENT.logFormat] ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json')
    throw new CliError(`--log-format: use text or json (got ${JSON.stringify(logFormat)})`, ExitCode.usage);
  const logLevel = (values['log-level'] ?? 'INFO').toUpperCase();
  if (!LEVELS.includes(logLevel as (typeof LEVELS)[number]))
    throw new CliError(`--log-level: use ${LEVELS.join(', ')}`, ExitCode.usage);
  const dataMoverOnly = values['data-mover-only'];
  if (dataMoverOnly && !values['data-mover-queue'])
    throw new CliError(
      '--data-mover-only: give the data movers their task queue with --data-mover-queue Q (the workflows pass it as dataMoverTaskQueue)',
      ExitCode.usage,
    );
  const config = loadWorkerConfig(workerConfigPath(values.config));
  const workers = await createWorkers(config, {
    ...(values['data-mover-queue'] ? { dataMoverTaskQueue: values['data-mover-queue'] } : {}),
    dataMoverOnly,
    telemetry: {
      logFormat,
      logLevel: logLevel as (typeof LEVELS)[number],
      ...(metrics ? { metricsBindAddress: metricsBindAddress(metrics) } : {}),
    },
  });
  const stop = () => workers.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const queues = dataMoverOnly
    ? `data movers only, task queue ${values['data-mover-queue']}`
    : `task queue ${config.taskQueue}${values['data-mover-queue'] ? ` (+ data movers on ${values['data-mover-queue']})` : ''}`;
  const where = `worker on ${config.temporalAddress} namespace ${config.namespace}, ${queues}; endpoints ${[...config.endpoints.keys()].join(', ')}${metrics ? `; metrics on http://${metricsBindAddress(metrics)}/metrics` : ''}`;
  if (logFormat === 'json')
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), level: 'INFO', message: where })}\n`,
    );
  else out.progress(where);
  await workers.run();
}
