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
    revert: () => import('./revert').then((m) => m.revertCommand),
    commit: () => import('./commit').then((m) => m.commitCommand),
    cleanup: () => import('./cleanup').then((m) => m.cleanupCommand),
    worker: () => import('./worker').then((m) => m.workerCommand),
    'codec-server': () => import('./codec').then((m) => m.codecServerCommand),
    lab: () => import('./lab').then((m) => m.labCommand),
  },
  notes: `The CLI holds no vSphere credentials: plan, migrate, inventory and endpoints run on a worker. It finds Temporal through
--address/--namespace, --lab DIR, TEMPORAL_ADDRESS/TEMPORAL_NAMESPACE or a temporal CLI profile, else
the lab in QUICKMIG_LAB or ./.quickmig/lab, else localhost:7233.

Every command takes --json for machine-readable output: stdout holds one JSON document, the result or
{"error": {"name", "message", "exitCode", ...}}. Durations take units (2s, 1500ms, 1m); times print as
ISO 8601. A closed pipe (| head) ends the output quietly. Exit codes: 0 ok, 1 failed (the migration
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

/**
 * An error as the JSON object `--json` prints on stdout: `{"error": {name, message, exitCode, ...}}`
 * with the error's own context fields (problems, migrationId, step, undone, ...); the message without
 * the help text that follows a usage error.
 */
function errorJson(error: unknown, exitCode: number): { error: Record<string, unknown> } {
  const e = error instanceof Error ? error : new Error(String(error));
  const context: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(e)) {
    if (key === 'cause' || key === 'stack' || key === 'showUsage' || typeof value === 'function') continue;
    context[key] = value;
  }
  for (const key of ['rejected', 'blocked'] as const)
    if (e instanceof MigrationFailedError) context[key] = e[key];
  // A usage error carries the command's help after its message (withUsage): the message alone is the error.
  const message = e instanceof CliError && e.cause instanceof CliError ? e.cause.message : e.message;
  return { error: { ...context, name: e.name, message, exitCode } };
}

/** Whether a command line asks for JSON (`--json` before any `--`). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/**
 * Runs the CLI with `argv` (without node and script) and returns the exit code. Errors go to stderr as
 * a message. With `--json` stdout holds exactly one JSON document: the command's result (a blocked
 * plan, a finished batch with failures), or, when the command printed none, the error (errorJson).
 */
export async function runCli(argv: string[], out: Output = consoleOutput): Promise<number> {
  let printedJson = false;
  const tracked: Output = {
    ...out,
    interactive: out.interactive,
    json: (value) => {
      printedJson = true;
      out.json(value);
    },
  };
  try {
    await runCommandLine(quickmig, argv, tracked);
    return ExitCode.ok;
  } catch (error) {
    const { code, known } = classify(error);
    out.progress(known ? (error as Error).message : String((error as Error).stack ?? error));
    if (wantsJson(argv) && !printedJson) out.json(errorJson(error, code));
    return code;
  }
}

/**
 * A closed pipe (`quickmig status ID | head -3`) ends the process quietly: the reader has what it wanted,
 * so there is no one to tell. Exit 0, as the output that was read is complete as far as the reader cares.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}
quietOnClosedPipe(process.stdout);
quietOnClosedPipe(process.stderr);

process.exitCode = await runCli(process.argv.slice(2));
