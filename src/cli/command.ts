/**
 * The CLI's command layer over citty: commands are citty `defineCommand`s, loaded lazily as
 * `subCommands`, and their help is generated from their argument definitions (one table per option:
 * name, type, value hint, description). On top of citty this refuses what citty lets through (unknown
 * options, a value missing or given to a switch) and turns every command-line mistake into a CliError.
 */
import { stripVTControlCharacters } from 'node:util';
import type { ArgDef, ArgsDef, CommandDef, SubCommandsDef } from 'citty';
import { renderUsage, runCommand } from 'citty';
import { CliError, ExitCode } from './errors';
import type { Output } from './output';

/** Any command as citty holds it in `subCommands` (citty types the arguments of each). */
type AnyCommand = Awaited<ReturnType<Extract<SubCommandsDef[string], () => unknown>>>;

/** A command with the paragraphs its help shows below the options (examples, environment, exit codes). */
export type QuickmigCommand<T extends ArgsDef = ArgsDef> = CommandDef<T> & { notes?: string };

/** Defines a command: citty's `defineCommand`, plus `notes` for its help. */
export function command<const T extends ArgsDef>(def: QuickmigCommand<T>): QuickmigCommand<T> {
  return def;
}

/** Where a command writes; the dispatcher hands it over as citty's context `data`. */
export function outputOf(context: { data?: unknown }): Output {
  return context.data as Output;
}

/**
 * Runs a command line: walks down the sub-commands by name (loading only the ones named), then runs
 * the command found, or prints its help for `--help`/`-h`. Every mistake throws CliError (exit 2).
 */
export async function runCommandLine(root: AnyCommand, argv: readonly string[], out: Output): Promise<void> {
  let cmd = root;
  const path: string[] = [];
  let args = [...argv];
  for (;;) {
    const subCommands = await resolve(cmd.subCommands);
    if (!subCommands) break;
    const [first, ...rest] = args;
    const where = path.length ? `${path.join(' ')}: ` : '';
    if (first === '--help' || first === '-h' || (first === 'help' && path.length === 0)) {
      out.text(await helpOf(cmd, path, out));
      return;
    }
    if (first === undefined || first.startsWith('-')) {
      const message =
        first === undefined ? 'name a command' : `name a command before its options (got '${first}')`;
      throw await withUsage(
        cmd,
        path,
        out,
        new CliError(`${where}${message}`, ExitCode.usage, { showUsage: true }),
      );
    }
    const sub = first in subCommands ? await resolve(subCommands[first]) : undefined;
    if (!sub)
      throw await withUsage(
        cmd,
        path,
        out,
        new CliError(`${where}unknown command '${first}'`, ExitCode.usage, { showUsage: true }),
      );
    cmd = sub;
    path.push(first);
    args = rest;
  }
  const options = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
  if (options.includes('--help') || options.includes('-h')) {
    out.text(await helpOf(cmd, path, out));
    return;
  }
  const name = path.join(' ');
  try {
    checkArgs(name, (await resolve(cmd.args)) ?? {}, args);
    await runCommand(cmd, { rawArgs: args, data: out });
  } catch (error) {
    // citty's own argument errors (a required positional missing) are command-line mistakes too.
    const mistake =
      error instanceof Error && error.name === 'CLIError'
        ? new CliError(`${name}: ${stripVTControlCharacters(error.message)}`, ExitCode.usage, {
            showUsage: true,
          })
        : error;
    throw await withUsage(cmd, path, out, mistake);
  }
}

/** The help of a command: citty's usage from the argument definitions, then the command's notes. */
export async function helpOf(cmd: AnyCommand, path: readonly string[], out: Output): Promise<string> {
  const parent = path.length ? { meta: { name: ['quickmig', ...path.slice(0, -1)].join(' ') } } : undefined;
  // citty pads every row to the widest description; the padding is noise in a terminal and in a file.
  const usage = (await renderUsage(cmd, parent)).replace(/[ \t]+$/gm, '').trimEnd();
  const notes = (cmd as { notes?: string }).notes;
  const text = notes ? `${usage}\n\n${notes}` : usage;
  // citty colours its usage; help goes to stdout, so only a terminal there shows colours, not escape codes.
  return out.interactive && process.stdout.isTTY === true ? text : stripVTControlCharacters(text);
}

/** A CliError that asks for the usage gets the command's help below its message. */
async function withUsage(cmd: AnyCommand, path: readonly string[], out: Output, error: unknown) {
  if (!(error instanceof CliError) || !error.showUsage) return error;
  const help = await helpOf(cmd, path, { ...out, interactive: false });
  return new CliError(`${error.message}\n\n${help}`, error.exitCode, { cause: error });
}

/**
 * Refuses what citty's parser lets pass: an option the command does not define, a switch given a
 * value (`--detach=yes`), an option without its value, and arguments to a command that takes none.
 * `name` is the command's path below quickmig, e.g. `lab up`.
 */
export function checkArgs(name: string, defs: ArgsDef, raw: readonly string[]): void {
  const options = new Map<string, ArgDef>();
  let positionals = false;
  for (const [key, def] of Object.entries(defs)) {
    if (def.type === 'positional') {
      positionals = true;
      continue;
    }
    options.set(`--${key}`, def);
    const aliases = 'alias' in def && def.alias !== undefined ? [def.alias].flat() : [];
    for (const alias of aliases) options.set(alias.length === 1 ? `-${alias}` : `--${alias}`, def);
  }
  const noArguments = (token: string) =>
    new CliError(`${name} takes no arguments (got '${token}')`, ExitCode.usage, { showUsage: true });
  for (let i = 0; i < raw.length; i++) {
    const token = raw[i] as string;
    if (token === '--') {
      const after = raw[i + 1];
      if (!positionals && after !== undefined) throw noArguments(after);
      return;
    }
    if (!token.startsWith('-') || token === '-') {
      if (!positionals) throw noArguments(token);
      continue;
    }
    const eq = token.indexOf('=');
    const flag = eq > 0 ? token.slice(0, eq) : token;
    const def = options.get(flag);
    if (!def)
      throw new CliError(
        `unknown option '${flag}' for ${name} ('quickmig ${name} --help' lists its options)`,
        ExitCode.usage,
      );
    if (def.type === 'boolean') {
      if (eq > 0)
        throw new CliError(`${flag} is a switch and takes no value (got '${token}')`, ExitCode.usage);
      continue;
    }
    if (eq > 0) continue;
    const value = raw[i + 1];
    // A value may start with '-' only as a negative number; anything else is the next option.
    if (value === undefined || (value.startsWith('-') && !/^-\d/.test(value)))
      throw new CliError(
        `${flag} needs a value${def.valueHint ? ` (${flag} ${def.valueHint})` : ''}`,
        ExitCode.usage,
      );
    i++;
  }
}

async function resolve<T>(value: T | Promise<T> | (() => T) | (() => Promise<T>)): Promise<T> {
  return typeof value === 'function' ? await (value as () => T | Promise<T>)() : await value;
}
