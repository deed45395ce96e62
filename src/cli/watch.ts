/** `quickmig watch ID`: follow a migration or a batch until it ends, then print its report. */
import { CONNECTION_ARGS, ID_ARG, oneId } from './args';
import { command, outputOf } from './command';
import { withClient } from './connect';
import { followAndReport, followBatch } from './follow';

/** `quickmig watch ID`. */
export const watchCommand = command({
  meta: { name: 'watch', description: 'Follow a migration or a batch until it ends, then print its report' },
  args: { ...ID_ARG, ...CONNECTION_ARGS },
  notes: `Ctrl-C asks whether to cancel the migration (roll back) or detach. For a batch id (quickmig migrate
--plan): a line per VM as it starts and ends, then the per-VM results.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const id = oneId(args);
    await withClient(args, async (client) => {
      if ((await client.kindOf(id)) === 'batch') await followBatch(client, id, out, args.json === true);
      else await followAndReport(client, id, out, args.json === true);
    });
  },
});
