/** `quickmig plan`: a dry run on the worker; prints the method, mode, reasons and findings, changes nothing. */
import { explainPlan } from '../planner/explain';
import { CONNECTION_ARGS, REQUEST_ARGS, REQUEST_FILE_ARG } from './args';
import { command, outputOf } from './command';
import { withClient } from './connect';
import { CliError, ExitCode } from './errors';
import { requestFileOf, requestFrom } from './request';

/** `quickmig plan [request.json] [request flags]`. */
export const planCommand = command({
  meta: {
    name: 'plan',
    description: 'Dry run: method, mode, reasons and preflight findings; changes nothing',
  },
  args: {
    ...REQUEST_FILE_ARG,
    ...REQUEST_ARGS,
    ...CONNECTION_ARGS,
    json: { type: 'boolean', description: 'The plan as JSON on stdout' },
  },
  notes: `The worker resolves the VM and the target, gathers the facts and plans (the CLI holds no vSphere
credentials: a worker must run). Exits 4 when a finding blocks the migration.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const request = requestFrom(requestFileOf(args), args);
    const plan = await withClient(args, (client) => client.plan(request));
    if (args.json) out.json(plan);
    else for (const line of explainPlan(plan)) out.text(line);
    if (plan.blocked) {
      const errors = plan.findings.filter((f) => f.severity === 'error');
      throw new CliError(
        `the plan is blocked by ${errors.length} finding(s): ${errors.map((f) => f.message).join('; ')}`,
        ExitCode.blocked,
      );
    }
  },
});
