/** `quickmig approve ID`: approve the switchover of a migration started with `--switchover manual`. */
import { CONNECTION_ARGS, ID_ARG, oneId } from './args';
import { command, outputOf } from './command';
import { withClient } from './connect';

/** `quickmig approve ID`. */
export const approveCommand = command({
  meta: { name: 'approve', description: 'Approve a manual switchover' },
  args: { ...ID_ARG, ...CONNECTION_ARGS },
  notes: `A migration started with --switchover manual waits in phase awaiting-approval, the source running
on its snapshot. Refused (exit 1) when there is nothing to approve.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const id = oneId(args);
    const { approvedAt } = await withClient(args, (client) => client.approve(id));
    if (args.json) out.json({ id, approvedAt });
    else out.text(`Approved the switchover of ${id} at ${approvedAt}`);
  },
});
