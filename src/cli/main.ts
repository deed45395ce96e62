/** The quickmig CLI's entry point: the one place that turns errors into messages and exit codes. */
import { ConfigError } from '../config/errors';
import { LabError } from '../lab/errors';
import { demoCommand } from './demo';
import { CliError, ExitCode } from './errors';
import { labCommand } from './lab';
import type { Output } from './output';
import { consoleOutput } from './output';
import { workerCommand } from './worker';

const USAGE = `Usage: quickmig <command> [options]

Commands:
  demo                 Start the lab and show it (--keep leaves it running)
  lab up|status|down   Manage the local lab (Temporal + simulated vSphere)
  worker               Run the worker (--config FILE; default: QUICKMIG_CONFIG, else the lab's)

Every command takes --json for machine-readable output. Exit codes: 0 ok, 1 failed,
2 wrong command line, 3 invalid input or configuration.`;

const commands: Record<string, (args: string[], out: Output) => Promise<void>> = {
  demo: demoCommand,
  lab: labCommand,
  worker: workerCommand,
};

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function runCli(argv: string[], out: Output = consoleOutput): Promise<number> {
  const [name, ...args] = argv;
  try {
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      out.text(USAGE);
      return name ? ExitCode.ok : ExitCode.usage;
    }
    const command = commands[name];
    if (!command) throw new CliError(`unknown command '${name}'\n\n${USAGE}`, ExitCode.usage);
    await command(args, out);
    return ExitCode.ok;
  } catch (error) {
    const code =
      error instanceof CliError
        ? error.exitCode
        : error instanceof ConfigError
          ? ExitCode.invalidInput
          : error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')
            ? ExitCode.usage
            : ExitCode.failed;
    const known =
      error instanceof CliError ||
      error instanceof LabError ||
      error instanceof ConfigError ||
      code === ExitCode.usage;
    process.stderr.write(`quickmig: ${known ? (error as Error).message : (error as Error).stack}\n`);
    return code;
  }
}

process.exitCode = await runCli(process.argv.slice(2));
