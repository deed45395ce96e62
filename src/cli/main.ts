/** The quickmig CLI's entry point: the one place that turns errors into messages and exit codes. */

import { MigrationFailedError, MigrationNotFoundError, QuickmigClientError } from '../client/failures';
import { ConfigError } from '../config/errors';
import { LabError } from '../lab/errors';
import { RequestValidationError } from '../request/errors';
import { command, runCommandLine } from './command';
import { CliError, ExitCode } from './errors';
import type { Output } from './output';
import { consoleOutput } from './output';

/**
 * The command tree. Each command's module loads when it runs: a worker process never loads the client,
 * the lab or the renderers (and their dependencies), which keeps its memory down (bench/TUNING.md).
 */
const quickmig = command({
  meta: { name: 'quickmig', description: 'Migrate running VMware VMs with minimum disruption' },
  subCommands: {
    demo: () => import('./demo').then((m) => m.demoCommand),
    plan: () => import('./plan').then((m) => m.planCommand),
    inventory: () => import('./inventory').then((m) => m.inventoryCommand),
    endpoints: () => import('./endpoints').then((m) => m.endpointsCommand),
    migrate: () => import('./migrate').then((m) => m.migrateCommand),
    watch: () => import('./watch').then((m) => m.watchCommand),
    status: () => import('./status').then((m) => m.statusCommand),
    list: () => import('./list').then((m) => m.listCommand),
    approve: () => import('./approve').then((m) => m.approveCommand),
    cancel: () => import('./cancel').then((m) => m.cancelCommand),
    worker: () => import('./worker').then((m) => m.workerCommand),
    'codec-server': () => import('./codec').then((m) => m.codecServerCommand),
    lab: () => import('./lab').then((m) => m.labCommand),
  },
  notes: `The CLI holds no vSphere credentials: plan, migrate, inventory and endpoints run on a worker. It finds Temporal through
--address/--namespace, TEMPORAL_ADDRESS/TEMPORAL_NAMESPACE or a temporal CLI profile, else the lab
running in ./.quickmig/lab, else localhost:7233.

Every command takes --json for machine-readable output. Exit codes: 0 ok, 1 failed (the migration
failed or was cancelled, Temporal unreachable, ...), 2 wrong command line, 3 invalid input or
configuration (the request, an unknown VM or endpoint, an unknown migration id), 4 blocked by
preflight findings (nothing was changed).`,
});

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
  return { code: ExitCode.failed, known: false };
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function runCli(argv: string[], out: Output = consoleOutput): Promise<number> {
  try {
    await runCommandLine(quickmig, argv, out);
    return ExitCode.ok;
  } catch (error) {
    const { code, known } = classify(error);
    out.progress(known ? (error as Error).message : String((error as Error).stack ?? error));
    return code;
  }
}

process.exitCode = await runCli(process.argv.slice(2));
