/** `quickmig list`: migrations, newest first, filtered through the search attributes. */
import { CONNECTION_ARGS } from './args';
import { command, outputOf } from './command';
import { withClient } from './connect';
import { CliError, ExitCode } from './errors';
import { listLines } from './render';

/** `quickmig list [--vm ENDPOINT/NAME] [--phase PHASE] [--status STATUS] [--limit N]`. */
export const listCommand = command({
  meta: { name: 'list', description: 'Migrations, newest first, filtered by --vm, --phase, --status' },
  args: {
    vm: {
      type: 'string',
      valueHint: 'ENDPOINT/NAME',
      description: 'Only this VM (search attribute QuickmigVm)',
    },
    phase: {
      type: 'string',
      valueHint: 'PHASE',
      description:
        'preflight, config, bulk-copy, awaiting-approval, switchover, relocate, finalize, done, rolling-back, rolled-back',
    },
    status: {
      type: 'string',
      valueHint: 'STATUS',
      description: 'running, completed, failed, cancelled, terminated, timed-out',
    },
    limit: { type: 'string', valueHint: 'N', description: 'At most N (default 50)' },
    ...CONNECTION_ARGS,
  },
  notes: `The same query works in the Temporal UI and with: temporal workflow list --query
"QuickmigVm='esx-a/app01' AND QuickmigPhase='awaiting-approval'"`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const limit = args.limit === undefined ? undefined : Number(args.limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
      throw new CliError('--limit: give a whole number of at least 1', ExitCode.usage);
    const items = await withClient(args, (client) =>
      client.list({
        ...(args.vm ? { vm: args.vm } : {}),
        ...(args.phase ? { phase: args.phase } : {}),
        ...(args.status ? { status: args.status } : {}),
        ...(limit ? { limit } : {}),
      }),
    );
    if (args.json) out.json(items);
    else for (const line of listLines(items)) out.text(line);
  },
});
