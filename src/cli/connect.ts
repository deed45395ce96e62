/** How commands reach Temporal: a client from the connection flags, and an error naming the address when it is unreachable. */
import { resolveConnection } from '../client/connection';
import { QuickmigClient } from '../client/migrations';
import { LAB_ENVIRONMENT } from '../config/lab-paths';
import type { ConnectionValues } from './args';
import { connectOptionsOf } from './args';
import { CliError, ExitCode } from './errors';

/** Connects with the command's flags; an unreachable server becomes a CliError naming the address. */
export async function connectCli(values: ConnectionValues): Promise<QuickmigClient> {
  const options = connectOptionsOf(values);
  const resolved = resolveConnection(options);
  // A lab the user named and that does not run: say so rather than try localhost.
  if (resolved.lab.explicit && !resolved.lab.up && resolved.source === 'default')
    throw new CliError(
      `no lab runs in ${resolved.lab.dir} (named by ${options.labDir ? '--lab' : LAB_ENVIRONMENT}); start one with: quickmig lab up --lab ${resolved.lab.dir}`,
      ExitCode.failed,
    );
  const from: Record<typeof resolved.source, string> = {
    option: '--address',
    environment: 'TEMPORAL_ADDRESS',
    profile: 'the temporal CLI profile',
    lab: `the lab in ${resolved.lab.dir}`,
    default: `the default; no lab runs in ${resolved.lab.dir} and TEMPORAL_ADDRESS is not set`,
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
  values: ConnectionValues,
  fn: (client: QuickmigClient) => Promise<T>,
): Promise<T> {
  const client = await connectCli(values);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Refuses a batch id where a command acts on one migration (revert, commit): name each migration instead. */
export async function oneMigration(client: QuickmigClient, id: string, command: string): Promise<void> {
  if ((await client.kindOf(id)) !== 'batch') return;
  throw new CliError(
    `${id} is a batch; ${command} acts on one migration: run 'quickmig ${command} <migration id>' for each migration of the batch in its commit window (quickmig status ${id} lists them)`,
    ExitCode.usage,
  );
}
