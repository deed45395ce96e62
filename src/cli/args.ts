/**
 * Command-line arguments shared by the commands: the Temporal connection options and a migration
 * request given as a JSON file, as flags, or both (flags override the file).
 */
import { readFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { ConnectOptions } from '../client/connection';
import type { BatchPlan } from '../request/batch-plan';
import { parsePlan } from '../request/batch-plan';
import { RequestValidationError } from '../request/errors';
import type { MigrationRequest, MigrationRequestInput } from '../request/request';
import { normalizeRequest, parseRequest } from '../request/request';
import { CliError, ExitCode } from './errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Options every command that talks to Temporal takes. */
export const CONNECTION_OPTIONS = {
  address: { type: 'string' },
  namespace: { type: 'string' },
  profile: { type: 'string' },
  'task-queue': { type: 'string' },
  'ui-url': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

export const CONNECTION_HELP = `Connection (the CLI holds no vSphere credentials; a worker must run):
  --address HOST:PORT   Temporal frontend. Default: TEMPORAL_ADDRESS or the temporal CLI's profile
                        (TEMPORAL_CONFIG_FILE), else the lab's when one is up in ./.quickmig/lab,
                        else localhost:7233
  --namespace NAME      Default: TEMPORAL_NAMESPACE, the profile, the lab's, else default
  --profile NAME        temporal CLI profile to read (default: default)
  --task-queue NAME     The worker's task queue (default quickmig)
  --ui-url URL          Temporal Web UI, for links (default: the lab's, or QUICKMIG_UI_URL)`;

/** Connection options from parsed flags (and QUICKMIG_UI_URL). */
export function connectOptionsOf(values: {
  address?: string | undefined;
  namespace?: string | undefined;
  profile?: string | undefined;
  'task-queue'?: string | undefined;
  'ui-url'?: string | undefined;
}): ConnectOptions & { uiUrl?: string } {
  const uiUrl = values['ui-url'] ?? process.env.QUICKMIG_UI_URL;
  return {
    ...(values.address ? { address: values.address } : {}),
    ...(values.namespace ? { namespace: values.namespace } : {}),
    ...(values.profile ? { profile: values.profile } : {}),
    ...(values['task-queue'] ? { taskQueue: values['task-queue'] } : {}),
    ...(uiUrl ? { uiUrl } : {}),
  };
}

/** Flags that describe a request (`quickmig migrate --vm esx-a/app01 --to esx-b --datastore DS`). */
export const REQUEST_OPTIONS = {
  vm: { type: 'string' },
  to: { type: 'string' },
  host: { type: 'string' },
  cluster: { type: 'string' },
  datastore: { type: 'string' },
  pool: { type: 'string' },
  folder: { type: 'string' },
  name: { type: 'string' },
  method: { type: 'string' },
  mode: { type: 'string' },
  switchover: { type: 'string' },
  'source-action': { type: 'string' },
  'disk-type': { type: 'string' },
  'finalize-ir': { type: 'boolean' },
  verify: { type: 'string' },
  'max-downtime': { type: 'string' },
  'on-budget-miss': { type: 'string' },
  'not-before': { type: 'string' },
  'not-after': { type: 'string' },
  'on-window-miss': { type: 'string' },
} as const satisfies Options;

export const REQUEST_HELP = `The request: a JSON file (schema/migration-request.schema.json, examples/), flags, or both
(flags override the file):
  --vm ENDPOINT/NAME        The source VM, e.g. esx-a/app01 (ENDPOINT//DC1/vm/app01 for an inventory path)
  --to ENDPOINT             Target endpoint (default: the source's)
  --host NAME | --cluster NAME
  --datastore NAME          Target datastore (required)
  --pool NAME  --folder NAME  --name NAME
  --method auto|vmotion|quick-migration     --mode auto|smartswitch|cold
  --switchover auto|manual  (manual waits for 'quickmig approve ID')
  --source-action keep|delete               --disk-type same|thin|thick
  --finalize-ir             Unmount the Instant Recovery datastore when nothing else uses it
  --verify none|size|sha256
  --max-downtime MS         Warm migration: pre-copy rounds until the projected switchover fits MS
  --on-budget-miss switchover|wait-approval|abort   (when the deltas do not converge; default wait-approval)
  --not-before TIME  --not-after TIME   Switchover window, RFC 3339 (2026-11-28T22:00:00Z)
  --on-window-miss abort|wait-approval|switchover   (when the window closes first; default abort)`;

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
};

type RequestFlags = { [K in keyof typeof REQUEST_OPTIONS]?: string | boolean | undefined };

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
 * Builds and validates a request from an optional file and the flags. Invalid requests throw
 * RequestValidationError; problems with a field that a flag sets name the flag too.
 */
export function requestFrom(file: string | undefined, flags: RequestFlags): MigrationRequest {
  const base = (file ? readRequestFile(file) : {}) as Record<string, Record<string, unknown> | undefined>;
  const source: Record<string, unknown> = { ...base.source };
  const target: Record<string, unknown> = { ...base.target };
  const options: Record<string, unknown> = { ...base.options };
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
  const maxDowntime = str(flags['max-downtime']);
  // A number when it is one; otherwise the text, so the schema names the field and what it must be.
  if (maxDowntime !== undefined)
    options.maxDowntimeMs = /^\d+$/.test(maxDowntime) ? Number(maxDowntime) : maxDowntime;
  const nested = (key: string, field: string, value: string | undefined) => {
    if (value === undefined) return;
    const current = options[key];
    options[key] = { ...(typeof current === 'object' && current !== null ? current : {}), [field]: value };
  };
  nested('precopy', 'onBudgetMiss', str(flags['on-budget-miss']));
  nested('window', 'notBefore', str(flags['not-before']));
  nested('window', 'notAfter', str(flags['not-after']));
  nested('window', 'onMiss', str(flags['on-window-miss']));
  const request = {
    ...(base.$schema ? { $schema: base.$schema } : {}),
    source,
    target,
    options,
  };
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

/** True when any request flag is set. */
export function hasRequestFlags(flags: RequestFlags): boolean {
  return Object.keys(REQUEST_OPTIONS).some((k) => flags[k as keyof RequestFlags] !== undefined);
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
