/** The quickmig CLI's entry point: the one place that turns errors into messages and exit codes. */

import { MigrationFailedError, MigrationNotFoundError, QuickmigClientError } from '../client/failures';
import { ConfigError } from '../config/errors';
import { LabError } from '../lab/errors';
import { RequestValidationError } from '../request/errors';
import { CliError, ExitCode } from './errors';
import type { Output } from './output';
import { consoleOutput } from './output';

const USAGE = `Usage: quickmig <command> [options]      (quickmig <command> --help for its options)

Commands:
  demo                  Start the lab and a worker, migrate an instant-recovery VM with SmartSwitch
                        while its guest writes, print the report; stop everything (--keep: leave the lab)
  plan [request.json]   Dry run: method, mode, reasons and preflight findings; changes nothing
  migrate [request.json] | --vm ENDPOINT/NAME --to ENDPOINT --datastore NAME ...
                        Start a migration and follow it (--detach to return at once)
  migrate --plan plan.yaml [--wait]
                        Start a batch of migrations from a plan, within its concurrency limits;
                        print its id (--wait: follow it and print the per-VM results)
  watch ID              Follow a migration or a batch until it ends, then print its report
  status ID             Where a migration or a batch is now
  list                  Migrations, filtered by --vm, --phase, --status
  approve ID            Approve a manual switchover
  cancel ID             Cancel a migration: it rolls back and the source runs as before
  worker                Run the worker (--config FILE; default QUICKMIG_CONFIG, else the lab's)
  codec-server          The Temporal UI's codec endpoint for encrypted payloads (--key-file FILE)
  lab up|status|down    Manage the local lab (Temporal + simulated vSphere)

The CLI holds no vSphere credentials: plan and migrate run on a worker. It finds Temporal through
--address/--namespace, TEMPORAL_ADDRESS/TEMPORAL_NAMESPACE or a temporal CLI profile, else the lab
running in ./.quickmig/lab, else localhost:7233.

Every command takes --json for machine-readable output. Exit codes: 0 ok, 1 failed (the migration
failed or was cancelled, Temporal unreachable, ...), 2 wrong command line, 3 invalid input or
configuration (the request, an unknown VM or endpoint, an unknown migration id), 4 blocked by
preflight findings (nothing was changed).`;

type Command = (args: string[], out: Output) => Promise<void>;

// Each command's module loads when it runs: a worker process never loads the client, the lab or the
// renderers (and their dependencies), which keeps its memory down (bench/TUNING.md).
const commands: Record<string, () => Promise<Command>> = {
  approve: async () => (await import('./control')).approveCommand,
  cancel: async () => (await import('./control')).cancelCommand,
  'codec-server': async () => (await import('./codec')).codecServerCommand,
  demo: async () => (await import('./demo')).demoCommand,
  lab: async () => (await import('./lab')).labCommand,
  list: async () => (await import('./control')).listCommand,
  migrate: async () => (await import('./migrate')).migrateCommand,
  plan: async () => (await import('./migrate')).planCommand,
  status: async () => (await import('./migrate')).statusCommand,
  watch: async () => (await import('./migrate')).watchCommand,
  worker: async () => (await import('./worker')).workerCommand,
};

/** The exit code for an error, and whether its message is meant for the user (else: a bug, with stack). */
function classify(error: unknown): { code: number; known: boolean } {
  if (error instanceof CliError) return { code: error.exitCode, known: true };
  if (error instanceof RequestValidationError || error instanceof ConfigError)
    return { code: ExitCode.invalidInput, known: true };
  if (error instanceof MigrationNotFoundError) return { code: ExitCode.invalidInput, known: true };
  if (error instanceof MigrationFailedError) {
    if (error.rejected) return { code: ExitCode.invalidInput, known: true };
    if (error.blocked) return { code: ExitCode.blocked, known: true };
    return { code: ExitCode.failed, known: true };
  }
  if (error instanceof QuickmigClientError || error instanceof LabError)
    return { code: ExitCode.failed, known: true };
  if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
    return { code: ExitCode.usage, known: true };
  return { code: ExitCode.failed, known: false };
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function runCli(argv: string[], out: Output = consoleOutput): Promise<number> {
  const [name, ...args] = argv;
  try {
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      out.text(USAGE);
      return name ? ExitCode.ok : ExitCode.usage;
    }
    const load = commands[name];
    if (!load) throw new CliError(`unknown command '${name}'\n\n${USAGE}`, ExitCode.usage);
    await (await load())(args, out);
    return ExitCode.ok;
  } catch (error) {
    const { code, known } = classify(error);
    out.progress(known ? (error as Error).message : String((error as Error).stack ?? error));
    return code;
  }
}

process.exitCode = await runCli(process.argv.slice(2));
