/**
 * `quickmig migrate`: starts one migration and follows it to its report, or with `--plan FILE` a batch
 * of migrations within the plan's limits.
 */
import type { ArgsDef } from 'citty';
import type { QuickmigClient } from '../client/migrations';
import { CONNECTION_ARGS, REQUEST_ARGS, REQUEST_FILE_ARG, refusePlanWithRequest } from './args';
import { command, outputOf } from './command';
import { withClient } from './connect';
import { CliError, ExitCode } from './errors';
import { followAndReport, followBatch } from './follow';
import type { Output } from './output';
import { planFrom, requestFileOf, requestFrom } from './request';

/** Options of `migrate` beyond the request and the connection. */
const MIGRATE_ARGS = {
  id: {
    type: 'string',
    valueHint: 'ID',
    description: 'Workflow id (default quickmig-<endpoint>-<vm>: one migration per VM at a time)',
  },
  detach: { type: 'boolean', description: 'Start and return; follow later with quickmig watch ID' },
  'data-mover-queue': {
    type: 'string',
    valueHint: 'Q',
    description: 'Task queue of the data-mover activities (workers near the storage)',
  },
  plan: {
    type: 'string',
    valueHint: 'FILE',
    description:
      'A batch: validate the plan (YAML, or JSON by extension), start it and print its id (default quickmig-batch-<name>); each VM runs as its own migration <batch id>-<endpoint>-<vm>, within the plan limits',
  },
  wait: {
    type: 'boolean',
    description:
      'With --plan: follow the batch to its end, print the per-VM results; exit 1 when any VM failed. Ctrl-C stops waiting; the batch goes on',
  },
} as const satisfies ArgsDef;

/** `quickmig migrate [request.json] [request flags] [options]` and `quickmig migrate --plan FILE`. */
export const migrateCommand = command({
  meta: { name: 'migrate', description: 'Start a migration and follow it (--plan FILE: a batch of them)' },
  args: {
    ...REQUEST_FILE_ARG,
    ...MIGRATE_ARGS,
    ...REQUEST_ARGS,
    ...CONNECTION_ARGS,
    json: { type: 'boolean', description: 'The report (or the started id with --detach) as JSON on stdout' },
  },
  notes: `Follows the migration: phase, a bar with bytes, rate and ETA, the downtime at switchover; then a
report (method, mode, duration, downtime, bytes, verification, the source). Ctrl-C asks whether to
cancel (roll back) or detach (the migration goes on).

  e.g. quickmig migrate --vm esx-a/app01 --to esx-b --datastore LocalDS_0
       quickmig migrate examples/quick-migration-smartswitch.json --switchover manual
       quickmig migrate --plan examples/batch-plan.yaml --wait   (schema/migration-plan.schema.json)`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    if (args.plan !== undefined) {
      refusePlanWithRequest(args);
      return migratePlan(args.plan, args, out);
    }
    if (args.wait) throw new CliError('--wait goes with --plan', ExitCode.usage, { showUsage: true });
    const request = requestFrom(requestFileOf(args), args);
    await withClient(args, async (client) => {
      await warnWithoutWorker(client, out, 'migration');
      const started = await client.start(request, startOptions(args));
      const link = client.uiLink(started.id, started.runId);
      out.progress(`started migration ${started.id} of ${started.vm}${link ? ` (${link})` : ''}`);
      if (args.detach) {
        if (args.json) out.json({ ...started, uiLink: link ?? null });
        else {
          out.text(started.id);
          out.progress(
            `follow it with: quickmig watch ${started.id}   cancel it with: quickmig cancel ${started.id}`,
          );
        }
        return;
      }
      await followAndReport(client, started.id, out, args.json === true);
    });
  },
});

/** The options of `migrate` that `migratePlan` reads. */
type PlanValues = Parameters<typeof withClient>[0] & {
  id?: string | undefined;
  wait?: boolean | undefined;
  'data-mover-queue'?: string | undefined;
};

/** `quickmig migrate --plan FILE [--wait]`: validate, start the batch, and follow it when asked. */
async function migratePlan(file: string, values: PlanValues, out: Output): Promise<void> {
  const plan = planFrom(file);
  await withClient(values, async (client) => {
    await warnWithoutWorker(client, out, 'batch');
    const started = await client.startBatch(plan, startOptions(values));
    const link = client.uiLink(started.id, started.runId);
    out.progress(`started batch ${started.id} of ${started.count} migration(s)${link ? ` (${link})` : ''}`);
    if (!values.wait) {
      if (values.json) out.json({ ...started, uiLink: link ?? null });
      else {
        out.text(started.id);
        out.progress(`follow it with: quickmig status ${started.id}   or: quickmig watch ${started.id}`);
      }
      return;
    }
    await followBatch(client, started.id, out, values.json === true);
  });
}

/** Says so when no worker polls the task queue: the workflow would wait without a word. */
async function warnWithoutWorker(client: QuickmigClient, out: Output, what: string): Promise<void> {
  if ((await client.workerCount()) === 0) {
    out.progress(
      `no worker polls task queue '${client.taskQueue}' yet: the ${what} waits until one starts (quickmig worker)`,
    );
  }
}

/** The start options the flags set: the workflow id and the data mover's task queue. */
function startOptions(values: { id?: string | undefined; 'data-mover-queue'?: string | undefined }) {
  return {
    ...(values.id ? { id: values.id } : {}),
    ...(values['data-mover-queue'] ? { dataMoverTaskQueue: values['data-mover-queue'] } : {}),
  };
}
