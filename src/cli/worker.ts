/** `quickmig worker [--config FILE] [--data-mover-queue NAME]`: runs the worker until Ctrl-C. */
import { parseArgs } from 'node:util';
import { loadWorkerConfig, workerConfigPath } from '../config/config';
import { createWorkers } from '../worker';
import type { Output } from './output';

/** Runs the worker in this process until SIGINT or SIGTERM. */
export async function workerCommand(args: string[], out: Output): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, 'data-mover-queue': { type: 'string' } },
  });
  const config = loadWorkerConfig(workerConfigPath(values.config));
  const workers = await createWorkers(config, {
    ...(values['data-mover-queue'] ? { dataMoverTaskQueue: values['data-mover-queue'] } : {}),
  });
  const stop = () => workers.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  out.progress(
    `worker on ${config.temporalAddress} namespace ${config.namespace}, task queue ${config.taskQueue}; endpoints ${[...config.endpoints.keys()].join(', ')}`,
  );
  await workers.run();
}
