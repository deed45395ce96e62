/**
 * `quickmig plan`: a dry run on the worker. One request: the method, mode, reasons, findings, bytes,
 * copy time and downtime per mode, and a table; `--plan FILE`: every VM of a batch plan, with totals.
 * Changes nothing.
 */

import { MigrationFailedError } from '../client/failures';
import type { QuickmigClient } from '../client/migrations';
import { explainPlan } from '../planner/explain';
import { RequestValidationError } from '../request/errors';
import type { MigrationRequest } from '../request/request';
import { CONNECTION_ARGS, REQUEST_ARGS, REQUEST_FILE_ARG, refusePlanWithRequest } from './args';
import { command, outputOf } from './command';
import { withClient } from './connect';
import { CliError, ExitCode } from './errors';
import type { PlannedVm } from './plan-table';
import { planTableLines, planTotals } from './plan-table';
import { planFrom, requestFileOf, requestFrom } from './request';
import { FORMAT_ARG, tableFormatOf } from './table';

/** How many plans of a batch run at once on the worker. */
const BATCH_PLAN_CONCURRENCY = 4;

const vmOf = (r: MigrationRequest) =>
  `${r.source.endpoint}/${r.source.name ?? r.source.inventoryPath ?? r.source.moref ?? r.source.instanceUuid}`;
const targetOf = (r: MigrationRequest) => `${r.target.endpoint} ${r.target.datastore}`;

/** Plans one request of a batch; a refusal of the request (unknown VM, bad field) is the row's error. */
async function planRow(client: QuickmigClient, request: MigrationRequest): Promise<PlannedVm> {
  const row = { vm: vmOf(request), target: targetOf(request) };
  try {
    return { ...row, plan: await client.plan(request), error: null };
  } catch (error) {
    if ((error instanceof MigrationFailedError && error.rejected) || error instanceof RequestValidationError)
      return { ...row, plan: null, error: error.message.replace(/\s*\n\s*/g, ' ') };
    throw error;
  }
}

/** `quickmig plan [request.json] [request flags]` and `quickmig plan --plan FILE`. */
export const planCommand = command({
  meta: {
    name: 'plan',
    description: 'Dry run: method, mode, reasons, findings, bytes, copy time and downtime; changes nothing',
  },
  args: {
    ...REQUEST_FILE_ARG,
    plan: {
      type: 'string',
      valueHint: 'FILE',
      description: 'Dry-run every VM of a batch plan (as migrate --plan takes it): a table with totals',
    },
    ...REQUEST_ARGS,
    ...FORMAT_ARG,
    ...CONNECTION_ARGS,
    json: {
      type: 'boolean',
      description: 'The plan (with --plan: every plan and the totals) as JSON on stdout',
    },
  },
  notes: `The worker resolves the VM and the target, gathers the facts and plans (the CLI holds no vSphere
credentials: a worker must run). It reports every conflict the migration would meet (the target folder
or the VM name taken, too little free space for the disk type, ...), the bytes to copy and the copy time
at a stated rate, and the projected downtime of each eligible mode. --format csv|markdown prints the
table for a change request. Exits 4 when a finding blocks a migration, 3 when a request is refused
(an unknown VM or endpoint).

  e.g. quickmig plan --vm esx-a/ir-app01 --to esx-b --datastore datastore1
       quickmig plan --plan examples/batch-plan.yaml --format markdown`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const format = tableFormatOf(args.format);
    let rows: PlannedVm[];
    if (args.plan !== undefined) {
      refusePlanWithRequest(args);
      const batch = planFrom(args.plan);
      rows = await withClient(args, async (client) => {
        await client.waitForWorker();
        const results: PlannedVm[] = new Array(batch.migrations.length);
        let next = 0;
        const lane = async () => {
          for (let i = next++; i < batch.migrations.length; i = next++)
            results[i] = await planRow(client, batch.migrations[i] as MigrationRequest);
        };
        await Promise.all(Array.from({ length: BATCH_PLAN_CONCURRENCY }, lane));
        return results;
      });
      if (args.json) out.json({ name: batch.name ?? null, migrations: rows, totals: planTotals(rows) });
      else {
        if (format === 'text') out.text(`Dry run of ${args.plan}${batch.name ? ` (${batch.name})` : ''}:`);
        for (const line of planTableLines(rows, format, true)) out.text(line);
      }
    } else {
      const request = requestFrom(requestFileOf(args), args);
      const plan = await withClient(args, (client) => client.plan(request));
      rows = [{ vm: vmOf(request), target: targetOf(request), plan, error: null }];
      if (args.json) out.json(plan);
      else {
        if (format === 'text') for (const line of [...explainPlan(plan), '']) out.text(line);
        const table = planTableLines(rows, format, false);
        // Text already listed the findings above the table.
        const end = format === 'text' ? table.indexOf('Findings:') - 1 : table.length;
        for (const line of table.slice(0, end > 0 ? end : table.length)) out.text(line);
      }
    }
    const refused = rows.filter((r) => r.error !== null);
    if (refused.length > 0)
      throw new CliError(
        `${refused.length} request(s) refused: ${refused.map((r) => `${r.vm}: ${r.error}`).join('; ')}`,
        ExitCode.invalidInput,
      );
    const blocked = rows.filter((r) => r.plan?.blocked);
    const short = planTotals(rows).overcommitted;
    if (blocked.length === 0 && short.length > 0)
      throw new CliError(
        `the batch needs more space than is free on ${short.map((o) => o.datastore).join(', ')}`,
        ExitCode.blocked,
      );
    if (blocked.length > 0) {
      const errors = blocked.flatMap((r) =>
        (r.plan?.findings ?? []).filter((f) => f.severity === 'error').map((f) => `${r.vm}: ${f.message}`),
      );
      throw new CliError(
        rows.length === 1
          ? `the plan is blocked by ${errors.length} finding(s): ${errors.map((e) => e.slice(e.indexOf(': ') + 2)).join('; ')}`
          : `${blocked.length} of ${rows.length} plan(s) blocked: ${errors.join('; ')}`,
        ExitCode.blocked,
      );
    }
  },
});
