/** Exit codes of the quickmig CLI (documented in the README). */
export const ExitCode = {
  ok: 0,
  /** The operation failed (a migration failed, the lab could not start, ...). */
  failed: 1,
  /** The command line is wrong: unknown command or option, missing argument. */
  usage: 2,
  /** Input or configuration is invalid (request, topology, worker configuration, unknown migration id). */
  invalidInput: 3,
  /** Preflight found blocking problems: `plan` shows them, `migrate` refused to start; nothing changed. */
  blocked: 4,
} as const;

/** Options of a CliError. */
export interface CliErrorOptions {
  cause?: unknown;
  /** Print the command's help after the message (a command line the user should compare with it). Default false. */
  showUsage?: boolean;
}

/** Thrown by commands for any failure the user should see; the CLI's main prints it and exits with its code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  /** Whether the command's help follows the message. */
  readonly showUsage: boolean;
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.failed,
    options: CliErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.showUsage = options.showUsage ?? false;
  }
}
