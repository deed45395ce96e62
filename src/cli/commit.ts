/** `quickmig commit ID`: end a migration's commit window now. */
import { CONNECTION_ARGS, ID_ARG, oneId } from './args';
import { command, outputOf } from './command';
import { oneMigration, withClient } from './connect';

/** `quickmig commit ID`. */
export const commitCommand = command({
  meta: { name: 'commit', description: "End a migration's commit window now: options.source happens" },
  args: { ...ID_ARG, ...CONNECTION_ARGS },
  notes: `A migration with options.commit.afterMs waits in phase committing after its switchover, the source
kept off as <name>_migrated. commit ends the window before its time: the source is unregistered
(source keep) or deleted with its files once the target reports a guest heartbeat (source delete),
and the migration completes; no revert is possible after it. Refused (exit 1) outside the window.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const id = oneId(args);
    const { committedAt, source } = await withClient(args, async (client) => {
      await oneMigration(client, id, 'commit');
      return client.commit(id);
    });
    if (args.json) out.json({ id, committedAt, source });
    else out.text(`Committed ${id} at ${committedAt}; source ${source.action}: ${source.detail}`);
  },
});
