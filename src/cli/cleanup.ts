/** `quickmig cleanup ID`: remove the test VM a test migration kept (options.test.keep). */
import { CONNECTION_ARGS, ID_ARG, oneId } from './args';
import { command, outputOf } from './command';
import { oneMigration, withClient } from './connect';

/** `quickmig cleanup ID`. */
export const cleanupCommand = command({
  meta: { name: 'cleanup', description: 'Remove the test VM of a test migration started with --keep-test' },
  args: { ...ID_ARG, ...CONNECTION_ARGS },
  notes: `A test migration with options.test.keep (--test --keep-test) boots <name>-test on the target,
isolated, and keeps it running in phase testing. cleanup powers it off, unregisters it and deletes its
files; the copied disks stay in the target folder with quickmig-test.json for the real migration to
reuse (unless options.test.keepDisks is false: then the folders go). The migration then completes with its test report (boot time, projected downtime). Refused
(exit 1) for a migration that keeps no test VM.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const id = oneId(args);
    const { cleanedAt, cleanup } = await withClient(args, async (client) => {
      await oneMigration(client, id, 'cleanup');
      return client.cleanupTest(id);
    });
    if (args.json) out.json({ id, cleanedAt, cleanup });
    else out.text(`Cleaned up ${id} at ${cleanedAt}: ${cleanup.join('; ')}`);
  },
});
