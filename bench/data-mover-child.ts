/**
 * A data-mover worker process for the memory figure: only the data-mover activities (`copyFiles`), on
 * their own task queue, wired like `createWorkers` wires them (ARCHITECTURE.md: data movers can run in
 * their own workers, near the storage). Its peak RSS (VmHWM) is what copying costs a worker, without
 * the bench's own client, lab and workflow bundler in the same process.
 *
 *   node --import tsx bench/data-mover-child.ts <worker-config.json> <task queue>
 *
 * Prints `ready` when polling; on SIGTERM shuts down and prints `{"peakRssMiB":…,"rssMiB":…}`.
 */
import { readFileSync } from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createDataMoverActivities } from '../src/activities';
import { createEndpointPool } from '../src/activities/endpoints';
import { loadWorkerConfig } from '../src/config/config';

const [configFile, taskQueue] = process.argv.slice(2);
if (configFile === undefined || taskQueue === undefined)
  throw new Error('usage: data-mover-child <config> <queue>');
Runtime.install({ logger: new DefaultLogger('WARN') });
const config = loadWorkerConfig(configFile, {});
const pool = createEndpointPool(config.endpoints);
const connection = await NativeConnection.connect({ address: config.temporalAddress });
const worker = await Worker.create({
  connection,
  namespace: config.namespace,
  taskQueue,
  activities: createDataMoverActivities(pool),
});
const kib = (key: string) =>
  Number(
    /(\d+) kB/.exec(
      readFileSync('/proc/self/status', 'utf8')
        .split('\n')
        .find((l) => l.startsWith(key)) ?? '',
    )?.[1] ?? 0,
  );
process.once('SIGTERM', () => worker.shutdown());
const running = worker.run();
console.log('ready');
await running;
await pool.close();
await connection.close();
console.log(JSON.stringify({ peakRssMiB: kib('VmHWM:') / 1024, rssMiB: kib('VmRSS:') / 1024 }));
