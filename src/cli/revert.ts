/** `quickmig revert ID`: within a migration's commit window, bring the source back and remove the target. */
import { CONNECTION_ARGS, ID_ARG, oneId } from './args';
import { command, outputOf } from './command';
import { oneMigration, withClient } from './connect';
import { CliError, ExitCode } from './errors';

/** `quickmig revert ID [--keep-target-changes]`. */
export const revertCommand = command({
  meta: { name: 'revert', description: 'Revert a migration within its commit window: the source runs again' },
  args: {
    ...ID_ARG,
    'keep-target-changes': {
      type: 'boolean',
      description:
        "Bring the target's disk changes since the switchover back to the source (not supported: refused, see notes)",
    },
    ...CONNECTION_ARGS,
  },
  notes: `A migration with options.commit.afterMs waits in phase committing after its switchover: the target
runs, the source is kept powered off as <name>_migrated, still registered. revert stops the target,
unregisters it and deletes its folders, renames the source back and powers it on when it ran before;
it waits until that is done. The source comes back as it was at the switchover: what the target
wrote since is lost (the command says so). --keep-target-changes is refused: the target's disks are
full copies without change tracking from the switchover on, so there is no delta to copy back.
Refused (exit 1) outside the window, with the reason: before the target runs, after the window's end
or a commit, or for a migration without a window.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const id = oneId(args);
    if (args['keep-target-changes'])
      throw new CliError(
        `--keep-target-changes is not supported: the target's disks are full copies consolidated at the switchover, with no change tracking from the switchover on, so its changes since cannot be copied back as a delta. Run 'quickmig revert ${id}' without it to restore the source as it was at the switchover (the target's changes are then lost), or commit and migrate the VM back to keep them`,
        ExitCode.usage,
      );
    const outcome = await withClient(args, async (client) => {
      await oneMigration(client, id, 'revert');
      return client.revert(id);
    });
    if (args.json) {
      out.json({ id, ...outcome });
      return;
    }
    out.text(`Reverted ${id} at ${outcome.revertedAt}:`);
    for (const step of outcome.steps) out.text(`  - ${step}`);
    out.text(
      `  source ${outcome.source.name} (${outcome.source.moref}) on ${outcome.source.endpoint}: ${outcome.source.powerState}`,
    );
    for (const warning of outcome.warnings) out.progress(`warning: ${warning}`);
  },
});
