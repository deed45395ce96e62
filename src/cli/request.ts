/**
 * The migration request a command line describes: a JSON file, the request flags, or both (flags
 * override the file); and the batch plan file of `migrate --plan`.
 */
import { readFileSync } from 'node:fs';
import type { BatchPlan } from '../request/batch-plan';
import { parsePlan } from '../request/batch-plan';
import { RequestValidationError } from '../request/errors';
import type { MigrationRequest, MigrationRequestInput } from '../request/request';
import { normalizeRequest, parseRequest } from '../request/request';
import type { RequestFlags } from './args';
import { hasRequestFlags } from './args';
import { CliError, ExitCode } from './errors';

/** Which request field each flag sets, for messages about flags. */
const FLAG_OF: Record<string, string> = {
  'source.endpoint': '--vm ENDPOINT/NAME',
  'source.name': '--vm ENDPOINT/NAME',
  'target.endpoint': '--to',
  'target.host': '--host',
  'target.cluster': '--cluster',
  'target.datastore': '--datastore',
  'target.resourcePool': '--pool',
  'target.folder': '--folder',
  'target.name': '--name',
  'options.method': '--method',
  'options.mode': '--mode',
  'options.switchover': '--switchover',
  'options.source': '--source-action',
  'options.diskType': '--disk-type',
  'options.verify': '--verify',
  'options.maxDowntimeMs': '--max-downtime',
  'options.precopy.onBudgetMiss': '--on-budget-miss',
  'options.window.notBefore': '--not-before',
  'options.window.notAfter': '--not-after',
  'options.window.onMiss': '--on-window-miss',
  'options.commit.afterMs': '--commit-window',
  'options.test': '--test',
  'options.test.keep': '--keep-test',
  'options.test.network': '--test-network',
};

/**
 * The times `--not-before` and `--not-after` accept: RFC 3339 with a time zone, seconds and fractions
 * optional; the request schema's pattern for options.window.
 */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds of a duration flag: a number with a unit (`ms`, `s`, `m`, `h`; `1.5s`), or a bare
 * whole number of milliseconds; undefined when it is neither or not a whole number of milliseconds.
 */
export function durationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return undefined;
  const [, number, unit] = match;
  if (unit === undefined && !/^\d+$/.test(number as string)) return undefined;
  const ms = Number(number) * (DURATION_UNITS_MS[unit ?? 'ms'] as number);
  return Number.isSafeInteger(Math.round(ms)) ? Math.round(ms) : undefined;
}

/** Reads a request file; malformed JSON names line and column (RequestSyntaxError). */
function readRequestFile(file: string): MigrationRequestInput {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `cannot read the request ${file}: ${(error as Error).message}`,
      ExitCode.invalidInput,
      {
        cause: error,
      },
    );
  }
  // Parse for syntax (and the messages) only; the flags may complete an incomplete file.
  try {
    parseRequest(text);
  } catch (error) {
    if (!(error instanceof RequestValidationError) || error.name === 'RequestSyntaxError') throw error;
  }
  return JSON.parse(text.replace(/^\uFEFF/, '')) as MigrationRequestInput;
}

/**
 * The request file a command line names, if any: CliError (exit 2) for more than one, or for neither a
 * file nor request flags.
 */
export function requestFileOf(args: { _: readonly string[]; request?: string | undefined } & RequestFlags) {
  if (args._.length > 1) throw new CliError('give one request file', ExitCode.usage, { showUsage: true });
  if (!args.request && !hasRequestFlags(args))
    throw new CliError('give a request file or flags such as --vm and --datastore', ExitCode.usage, {
      showUsage: true,
    });
  return args.request;
}

/**
 * Builds and validates a request from an optional file and the flags. Invalid requests throw
 * RequestValidationError; problems with a field that a flag sets name the flag too.
 */
export function requestFrom(file: string | undefined, flags: RequestFlags): MigrationRequest {
  const read = file ? readRequestFile(file) : {};
  const parts = ['source', 'target', 'options'] as const;
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  // A file that is not an object of objects goes to validation as it is: the schema names what is wrong.
  if (!isObject(read) || parts.some((k) => read[k] !== undefined && !isObject(read[k])))
    return normalizeRequest(read);
  // Every other key of the file (a misspelt 'sourc', say) stays, for the schema to refuse by name.
  const {
    source: fileSource,
    target: fileTarget,
    options: fileOptions,
    ...rest
  } = read as Record<string, Record<string, unknown> | undefined>;
  const source: Record<string, unknown> = { ...fileSource };
  const target: Record<string, unknown> = { ...fileTarget };
  const options: Record<string, unknown> = { ...fileOptions };
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const vm = str(flags.vm);
  if (vm !== undefined) {
    const slash = vm.indexOf('/');
    if (slash <= 0 || slash === vm.length - 1) {
      throw new RequestValidationError([
        {
          path: 'source',
          message: `--vm: write ENDPOINT/NAME, e.g. esx-a/app01 (got ${JSON.stringify(vm)})`,
        },
      ]);
    }
    for (const key of ['name', 'moref', 'inventoryPath', 'instanceUuid']) delete source[key];
    source.endpoint = vm.slice(0, slash);
    const rest = vm.slice(slash + 1);
    if (rest.startsWith('/')) source.inventoryPath = rest;
    else source.name = rest;
  }
  const set = (obj: Record<string, unknown>, key: string, value: unknown) => {
    if (value !== undefined) obj[key] = value;
  };
  set(target, 'endpoint', str(flags.to) ?? (target.endpoint === undefined ? source.endpoint : undefined));
  if (str(flags.host) !== undefined) delete target.cluster;
  if (str(flags.cluster) !== undefined) delete target.host;
  set(target, 'host', str(flags.host));
  set(target, 'cluster', str(flags.cluster));
  set(target, 'datastore', str(flags.datastore));
  set(target, 'resourcePool', str(flags.pool));
  set(target, 'folder', str(flags.folder));
  set(target, 'name', str(flags.name));
  set(options, 'method', str(flags.method));
  set(options, 'mode', str(flags.mode));
  set(options, 'switchover', str(flags.switchover));
  set(options, 'source', str(flags['source-action']));
  set(options, 'diskType', str(flags['disk-type']));
  set(options, 'verify', str(flags.verify));
  if (flags['finalize-ir'] === true) options.finalizeInstantRecovery = true;
  // --test on a file keeps the file's options.test settings; --keep-test adds keep, --test-network network.
  const testNetwork = str(flags['test-network']);
  if (flags.test === true || flags['keep-test'] === true || testNetwork !== undefined) {
    const inFile = typeof options.test === 'object' && options.test !== null ? options.test : {};
    options.test = {
      ...inFile,
      ...(flags['keep-test'] === true ? { keep: true } : {}),
      ...(testNetwork !== undefined ? { network: testNetwork } : {}),
    };
  }
  const problems: { path: string; message: string }[] = [];
  const maxDowntime = str(flags['max-downtime']);
  if (maxDowntime !== undefined) {
    const ms = durationMs(maxDowntime);
    if (ms === undefined)
      problems.push({
        path: 'options.maxDowntimeMs (--max-downtime)',
        message: `give a duration: 2s, 1500ms, 1.5s, 2m or 1h (a bare number is milliseconds; got ${JSON.stringify(maxDowntime)})`,
      });
    else options.maxDowntimeMs = ms;
  }
  const commitWindow = str(flags['commit-window']);
  if (commitWindow !== undefined) {
    const ms = durationMs(commitWindow);
    if (ms === undefined)
      problems.push({
        path: 'options.commit.afterMs (--commit-window)',
        message: `give a duration: 30m, 1h, 90s or 0 (a bare number is milliseconds; got ${JSON.stringify(commitWindow)})`,
      });
    else options.commit = { ...(typeof options.commit === 'object' ? options.commit : {}), afterMs: ms };
  }
  for (const [flag, field] of [
    ['not-before', 'notBefore'],
    ['not-after', 'notAfter'],
  ] as const) {
    const value = str(flags[flag]);
    if (value !== undefined && !RFC3339.test(value))
      problems.push({
        path: `options.window.${field} (--${flag})`,
        message: `give a time in RFC 3339 with a time zone: 2026-11-28T22:00:00Z, 2026-11-28T23:00:00+01:00, 2026-11-28T22:00Z or 2026-11-28T22:00:00.000Z (got ${JSON.stringify(value)})`,
      });
  }
  if (problems.length > 0) throw new RequestValidationError(problems);
  const nested = (key: string, field: string, value: string | undefined) => {
    if (value === undefined) return;
    const current = options[key];
    options[key] = { ...(typeof current === 'object' && current !== null ? current : {}), [field]: value };
  };
  nested('precopy', 'onBudgetMiss', str(flags['on-budget-miss']));
  nested('window', 'notBefore', str(flags['not-before']));
  nested('window', 'notAfter', str(flags['not-after']));
  nested('window', 'onMiss', str(flags['on-window-miss']));
  const request = { ...rest, source, target, options };
  try {
    return normalizeRequest(request);
  } catch (error) {
    if (!(error instanceof RequestValidationError) || !hasRequestFlags(flags)) throw error;
    // Given with flags: say which flag sets each field.
    throw new RequestValidationError(
      error.problems.map((p) => ({
        path: FLAG_OF[p.path] ? `${p.path} (${FLAG_OF[p.path]})` : p.path,
        message: p.message,
      })),
      { cause: error },
    );
  }
}

/**
 * Reads and validates a plan file (YAML, or JSON by the `.json` extension). Throws PlanSyntaxError or
 * PlanValidationError listing every problem with its field, line and fix; CliError when unreadable.
 */
export function planFrom(file: string): BatchPlan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read the plan ${file}: ${(error as Error).message}`, ExitCode.invalidInput, {
      cause: error,
    });
  }
  return parsePlan(text, file);
}
