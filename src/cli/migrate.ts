/**
 * `quickmig plan | migrate | watch | status`: a dry run, a migration with live progress and its
 * report, and following or looking at a migration by id. All go through the client API; none holds
 * vSphere credentials.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { LiveBatchProgress } from '../client/batches';
import { resolveConnection } from '../client/connection';
import { OperationRefusedError } from '../client/failures';
import { QuickmigClient } from '../client/migrations';
import type { LiveProgress } from '../client/progress';
import { explainPlan } from '../planner/explain';
import {
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  connectOptionsOf,
  hasRequestFlags,
  planFrom,
  REQUEST_HELP,
  REQUEST_OPTIONS,
  requestFrom,
} from './args';
import { CliError, ExitCode } from './errors';
import type { Output } from './output';
import {
  batchCountsLine,
  batchLimitsLine,
  batchLines,
  batchVmLine,
  formatDuration,
  planLine,
  progressLine,
  reportLines,
} from './render';

/** Connects with the command's flags; an unreachable server becomes a CliError naming the address. */
export async function connectCli(values: Parameters<typeof connectOptionsOf>[0]): Promise<QuickmigClient> {
  const options = connectOptionsOf(values);
  const resolved = resolveConnection(options);
  const from: Record<typeof resolved.source, string> = {
    option: '--address',
    environment: 'TEMPORAL_ADDRESS',
    profile: 'the temporal CLI profile',
    lab: 'the lab in ./.quickmig/lab',
    default: 'the default; no lab is up here and TEMPORAL_ADDRESS is not set',
  };
  try {
    return await QuickmigClient.connect(options);
  } catch (error) {
    throw new CliError(
      `cannot reach Temporal at ${resolved.address} (${from[resolved.source]}): ${(error as Error).message}. Start the lab (quickmig lab up) or set --address / TEMPORAL_ADDRESS`,
      ExitCode.failed,
      { cause: error },
    );
  }
}

/** Runs `fn` with a connected client and closes it afterwards. */
export async function withClient<T>(
  values: Parameters<typeof connectOptionsOf>[0],
  fn: (client: QuickmigClient) => Promise<T>,
): Promise<T> {
  const client = await connectCli(values);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

const PLAN_USAGE = `Usage: quickmig plan [request.json] [request flags] [--json]

A dry run: the worker resolves the VM and the target, gathers the facts and plans. Prints the method,
mode, the reason for each decision and the preflight findings; changes nothing. Exits 4 when a
finding blocks the migration.

${REQUEST_HELP}

${CONNECTION_HELP}`;

/** `quickmig plan`. */
export async function planCommand(args: string[], out: Output): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...CONNECTION_OPTIONS, ...REQUEST_OPTIONS },
  });
  if (values.help) return out.text(PLAN_USAGE);
  const file = requestFile(positionals, values, PLAN_USAGE);
  const request = requestFrom(file, values);
  const plan = await withClient(values, (client) => client.plan(request));
  if (values.json) out.json(plan);
  else for (const line of explainPlan(plan)) out.text(line);
  if (plan.blocked) {
    const errors = plan.findings.filter((f) => f.severity === 'error');
    throw new CliError(
      `the plan is blocked by ${errors.length} finding(s): ${errors.map((f) => f.message).join('; ')}`,
      ExitCode.blocked,
    );
  }
}

function requestFile(
  positionals: string[],
  values: Record<string, unknown>,
  usage: string,
): string | undefined {
  if (positionals.length > 1) throw new CliError(`give one request file\n\n${usage}`, ExitCode.usage);
  const file = positionals[0];
  if (!file && !hasRequestFlags(values)) {
    throw new CliError(
      `give a request file or flags such as --vm and --datastore\n\n${usage}`,
      ExitCode.usage,
    );
  }
  return file;
}

const MIGRATE_USAGE = `Usage: quickmig migrate [request.json] [request flags] [options]
       quickmig migrate --plan plan.yaml [--wait] [--id ID] [--json]

Starts the migration and follows it: phase, a bar with bytes, rate and ETA, the downtime at
switchover; then a report (method, mode, duration, downtime, bytes, verification, the source).
Ctrl-C asks whether to cancel (roll back) or detach (the migration goes on).

  e.g. quickmig migrate --vm esx-a/app01 --to esx-b --datastore LocalDS_0
       quickmig migrate examples/quick-migration-smartswitch.json --switchover manual

Options:
  --id ID                 Workflow id (default quickmig-<endpoint>-<vm>: one migration per VM at a time)
  --detach                Start and return; follow later with quickmig watch ID
  --data-mover-queue Q    Task queue of the data-mover activities (workers near the storage)
  --json                  The report (or the started id with --detach) as JSON on stdout

Batch (many VMs from a plan file: schema/migration-plan.schema.json, examples/batch-plan.yaml):
  --plan FILE             Validate the plan (YAML, or JSON by extension), start the batch and print its id
                          (default id quickmig-batch-<name>); each VM runs as its own migration
                          <batch id>-<endpoint>-<vm>, within the plan's limits
  --wait                  Follow the batch to its end, then print the per-VM results; exit 1 when any
                          VM failed. Ctrl-C stops waiting; the batch goes on (quickmig status ID)

${REQUEST_HELP}

${CONNECTION_HELP}`;

/** `quickmig migrate`. */
export async function migrateCommand(args: string[], out: Output): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      ...REQUEST_OPTIONS,
      id: { type: 'string' },
      detach: { type: 'boolean', default: false },
      'data-mover-queue': { type: 'string' },
      plan: { type: 'string' },
      wait: { type: 'boolean', default: false },
    },
  });
  if (values.help) return out.text(MIGRATE_USAGE);
  if (values.plan !== undefined) {
    if (positionals.length > 0 || hasRequestFlags(values))
      throw new CliError(
        `--plan takes no request file or request flags; put shared fields in the plan's defaults\n\n${MIGRATE_USAGE}`,
        ExitCode.usage,
      );
    return migratePlan(values.plan, values, out);
  }
  if (values.wait) throw new CliError(`--wait goes with --plan\n\n${MIGRATE_USAGE}`, ExitCode.usage);
  const file = requestFile(positionals, values, MIGRATE_USAGE);
  const request = requestFrom(file, values);
  await withClient(values, async (client) => {
    await warnWithoutWorker(client, out, 'migration');
    const started = await client.start(request, startOptions(values));
    const link = client.uiLink(started.id, started.runId);
    out.progress(`started migration ${started.id} of ${started.vm}${link ? ` (${link})` : ''}`);
    if (values.detach) {
      if (values.json) out.json({ ...started, uiLink: link ?? null });
      else {
        out.text(started.id);
        out.progress(
          `follow it with: quickmig watch ${started.id}   cancel it with: quickmig cancel ${started.id}`,
        );
      }
      return;
    }
    await followAndReport(client, started.id, out, values.json);
  });
}

const WATCH_USAGE = `Usage: quickmig watch ID [--json]
       quickmig status ID [--json]

watch follows a migration until it ends, then prints its report (Ctrl-C: cancel or detach).
status prints where it is now (and the report when it completed).
Both take a batch id too (quickmig migrate --plan): its counts, limits and per-VM results.

${CONNECTION_HELP}`;

/** `quickmig watch ID`. */
export async function watchCommand(args: string[], out: Output): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: CONNECTION_OPTIONS });
  if (values.help) return out.text(WATCH_USAGE);
  const id = idArgument(positionals, WATCH_USAGE);
  await withClient(values, async (client) => {
    if ((await client.kindOf(id)) === 'batch') return followBatch(client, id, out, values.json);
    return followAndReport(client, id, out, values.json);
  });
}

/** `quickmig status ID`. */
export async function statusCommand(args: string[], out: Output): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: CONNECTION_OPTIONS });
  if (values.help) return out.text(WATCH_USAGE);
  const id = idArgument(positionals, WATCH_USAGE);
  await withClient(values, async (client) => {
    if ((await client.kindOf(id)) === 'batch') return batchStatus(client, id, out, values.json);
    const progress = await client.progress(id);
    const result = progress.status === 'COMPLETED' ? await client.result(id) : null;
    const failure =
      progress.status === 'RUNNING' || result
        ? null
        : await client.result(id).then(
            () => null,
            (error: Error) => error.message,
          );
    const link = client.uiLink(id, progress.runId);
    if (values.json) {
      out.json({ ...progress, result, failure, uiLink: link ?? null });
      return;
    }
    out.text(`${id}  ${progress.status}  ${progress.vm}`);
    out.text(`  ${progressLine(progress, id)}`);
    if (progress.plan) out.text(planLine(progress.plan).replace(/^/gm, '  '));
    if (progress.undone.length) out.text(`  rolled back: ${progress.undone.join('; ')}`);
    if (failure) out.text(`  ${progress.status.toLowerCase()}: ${failure}`);
    else if (progress.error) out.text(`  error: ${progress.error}`);
    if (result) {
      const duration = progress.closedAt ? progress.closedAt.getTime() - progress.startedAt.getTime() : null;
      for (const line of reportLines(result, { id, durationMs: duration, uiLink: link })) out.text(line);
    } else if (link) out.text(`  Temporal UI   ${link}`);
  });
}

function idArgument(positionals: string[], usage: string): string {
  const [id, ...rest] = positionals;
  if (!id || rest.length > 0) throw new CliError(`give one migration id\n\n${usage}`, ExitCode.usage);
  return id;
}

/** Follows a migration, then prints its report; a failed or cancelled migration throws (main maps it). */
export async function followAndReport(
  client: QuickmigClient,
  id: string,
  out: Output,
  json: boolean,
  options: { allowPrompt?: boolean } = {},
): Promise<void> {
  const outcome = await follow(client, id, out, options);
  if (outcome === 'detached') {
    out.progress(
      `detached; the migration goes on. Follow it with: quickmig watch ${id}   cancel it with: quickmig cancel ${id}`,
    );
    if (json) out.json({ id, detached: true });
    return;
  }
  const result = await client.result(id);
  const summary = await client.summary(id);
  const durationMs = summary.closedAt ? summary.closedAt.getTime() - summary.startedAt.getTime() : null;
  const uiLink = client.uiLink(id, summary.runId);
  if (json)
    out.json({
      id,
      runId: summary.runId,
      status: summary.status,
      durationMs,
      uiLink: uiLink ?? null,
      result,
    });
  else for (const line of reportLines(result, { id, durationMs, uiLink })) out.text(line);
}

/**
 * Shows a migration's progress until it closes. On Ctrl-C: at a terminal, asks whether to cancel
 * (roll back), detach or keep watching; otherwise detaches (never cancels without asking).
 */
export async function follow(
  client: QuickmigClient,
  id: string,
  out: Output,
  options: { allowPrompt?: boolean; pollMs?: number } = {},
): Promise<'closed' | 'detached'> {
  const pollMs = options.pollMs ?? 500;
  let interrupted = false;
  let wake: () => void = () => {};
  const onSigint = () => {
    interrupted = true;
    wake();
  };
  process.on('SIGINT', onSigint);
  let lastStep = '';
  let lastLiveAt = 0;
  let lastLive = '';
  let planShown = false;
  let failures = 0;
  try {
    for (;;) {
      let progress: LiveProgress | undefined;
      try {
        progress = await client.progress(id);
        failures = 0;
      } catch (error) {
        // A query can fail while a worker restarts; only repeated failures end the watch.
        if (++failures >= 20) throw error;
      }
      if (progress) {
        if (!planShown && progress.plan) {
          out.progress(planLine(progress.plan));
          planShown = true;
        }
        const step = `${progress.phase}/${progress.step}/${progress.awaitingApproval}`;
        const line = progressLine(progress, id);
        const now = Date.now();
        if (step !== lastStep || (line !== lastLive && (out.interactive || now - lastLiveAt >= 1000))) {
          out.live(line);
          lastLive = line;
          lastLiveAt = now;
        }
        lastStep = step;
        if (progress.status !== 'RUNNING') return 'closed';
      }
      if (!interrupted) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      if (interrupted) {
        interrupted = false;
        const choice = await askOnInterrupt(out, options.allowPrompt ?? true);
        if (choice === 'detach') return 'detached';
        if (choice === 'cancel') {
          try {
            await client.cancel(id);
            out.progress('cancel requested: rolling back');
          } catch (error) {
            if (!(error instanceof OperationRefusedError)) throw error;
            out.progress(`${error.message}; still watching`);
          }
        }
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Asks what Ctrl-C should do; without a terminal to ask on, detaches. */
async function askOnInterrupt(out: Output, allowPrompt: boolean): Promise<'cancel' | 'detach' | 'continue'> {
  if (!allowPrompt || !out.interactive || !process.stdin.isTTY) return 'detach';
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.on('SIGINT', () => resolve('d'));
      rl.question(
        '\nCtrl-C: [c] cancel the migration and roll back, [d] detach (it goes on), [Enter] keep watching: ',
        resolve,
      );
    });
    const a = answer.trim().toLowerCase();
    return a.startsWith('c') ? 'cancel' : a.startsWith('d') ? 'detach' : 'continue';
  } finally {
    rl.close();
  }
}

/** `quickmig migrate --plan FILE [--wait]`: validate, start the batch, and follow it when asked. */
async function migratePlan(
  file: string,
  values: Parameters<typeof connectOptionsOf>[0] & {
    id?: string | undefined;
    wait?: boolean | undefined;
    json?: boolean | undefined;
    'data-mover-queue'?: string | undefined;
  },
  out: Output,
): Promise<void> {
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

/**
 * Follows a batch until it ends: a line per VM that starts or ends, the counts as a live line; then
 * the per-VM table. Throws CliError (exit 1) when any VM failed or the batch was cancelled.
 */
export async function followBatch(
  client: QuickmigClient,
  id: string,
  out: Output,
  json: boolean,
  options: { pollMs?: number } = {},
): Promise<LiveBatchProgress> {
  const seen = new Map<number, string>();
  let lastCounts = '';
  let failures = 0;
  for (;;) {
    let progress: LiveBatchProgress | undefined;
    try {
      progress = await client.batchProgress(id);
      failures = 0;
    } catch (error) {
      // A query can fail while a worker restarts; only repeated failures end the watch.
      if (++failures >= 20) throw error;
    }
    if (progress) {
      for (const vm of progress.vms) {
        if (seen.get(vm.index) === vm.state) continue;
        if (vm.state !== 'resolving' && vm.state !== 'queued') out.progress(batchVmLine(vm));
        seen.set(vm.index, vm.state);
      }
      const counts = batchCountsLine(progress);
      if (counts !== lastCounts) out.live(counts);
      lastCounts = counts;
      if (progress.status !== 'RUNNING') {
        reportBatch(progress, out, json, client.uiLink(id, progress.runId));
        return progress;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000));
  }
}

/** Prints a finished batch; throws CliError when any VM failed or the batch did not complete. */
function reportBatch(
  progress: LiveBatchProgress,
  out: Output,
  json: boolean,
  uiLink: string | undefined,
): void {
  if (json) out.json({ ...progress, uiLink: uiLink ?? null });
  else {
    const duration = progress.closedAt ? progress.closedAt.getTime() - progress.startedAt.getTime() : null;
    out.text(
      `Batch ${progress.id} ${progress.status.toLowerCase()}${duration !== null ? ` in ${formatDuration(duration)}` : ''}: ${batchCountsLine(progress)}`,
    );
    out.text(`  ${batchLimitsLine(progress)}`);
    for (const line of batchLines(progress)) out.text(`  ${line}`);
    if (uiLink) out.text(`  Temporal UI   ${uiLink}`);
  }
  const { failed, cancelled, total } = progress.counts;
  if (progress.status !== 'COMPLETED')
    throw new CliError(
      `batch ${progress.id} ended ${progress.status.toLowerCase()}: ${batchCountsLine(progress)}`,
    );
  if (failed + cancelled > 0)
    throw new CliError(
      `${failed + cancelled} of ${total} migration(s) in batch ${progress.id} did not succeed: ${progress.vms
        .filter((v) => v.state === 'failed' || v.state === 'cancelled')
        .map((v) => v.vm)
        .join(', ')}`,
    );
}

/** `quickmig status BATCH-ID`: counts, limits against the peaks, and the per-VM table. */
async function batchStatus(client: QuickmigClient, id: string, out: Output, json: boolean): Promise<void> {
  const progress = await client.batchProgress(id);
  const link = client.uiLink(id, progress.runId);
  if (json) {
    out.json({ ...progress, uiLink: link ?? null });
    return;
  }
  out.text(`${id}  ${progress.status}  batch${progress.name ? ` ${progress.name}` : ''}`);
  out.text(`  ${batchCountsLine(progress)}`);
  out.text(`  ${batchLimitsLine(progress)}`);
  for (const line of batchLines(progress)) out.text(`  ${line}`);
  if (link) out.text(`  Temporal UI   ${link}`);
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
