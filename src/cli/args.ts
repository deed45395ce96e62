/**
 * Argument definitions the commands share: the Temporal connection, `--json`, the flags that describe
 * a migration request, and the one id that `watch`, `status`, `approve` and `cancel` take. Each option
 * is declared once, with the value hint and the description its help shows (citty renders them).
 */
import type { ArgsDef } from 'citty';
import type { ConnectOptions } from '../client/connection';
import { CliError, ExitCode } from './errors';

/** `--json`: results as JSON on stdout; progress always goes to stderr. */
export const JSON_ARG = {
  json: { type: 'boolean', description: 'Results as JSON on stdout (progress stays on stderr)' },
} as const satisfies ArgsDef;

/** Options every command that talks to Temporal takes (the CLI holds no vSphere credentials). */
export const CONNECTION_ARGS = {
  address: {
    type: 'string',
    valueHint: 'HOST:PORT',
    description:
      "Temporal frontend. Default: TEMPORAL_ADDRESS or the temporal CLI's profile (TEMPORAL_CONFIG_FILE), else the lab's when one is up in ./.quickmig/lab, else localhost:7233",
  },
  namespace: {
    type: 'string',
    valueHint: 'NAME',
    description: "Temporal namespace. Default: TEMPORAL_NAMESPACE, the profile, the lab's, else default",
  },
  profile: {
    type: 'string',
    valueHint: 'NAME',
    description: 'temporal CLI profile to read (default: default)',
  },
  'task-queue': {
    type: 'string',
    valueHint: 'NAME',
    description: "The worker's task queue (default quickmig)",
  },
  lab: {
    type: 'string',
    valueHint: 'DIR',
    description:
      'Use the lab started with quickmig lab up --lab DIR (default: QUICKMIG_LAB, else ./.quickmig/lab when a lab runs there)',
  },
  'ui-url': {
    type: 'string',
    valueHint: 'URL',
    description: "Temporal Web UI, for links (default: the lab's, or QUICKMIG_UI_URL)",
  },
  ...JSON_ARG,
} as const satisfies ArgsDef;

/** The values of the connection options, as any command's parsed arguments hold them. */
export type ConnectionValues = { [K in keyof typeof CONNECTION_ARGS]?: string | boolean | undefined };

/** Connection options from parsed flags (and QUICKMIG_UI_URL). */
export function connectOptionsOf(values: ConnectionValues): ConnectOptions & { uiUrl?: string } {
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const uiUrl = str(values['ui-url']) ?? process.env.QUICKMIG_UI_URL;
  const address = str(values.address);
  const namespace = str(values.namespace);
  const profile = str(values.profile);
  const taskQueue = str(values['task-queue']);
  const labDir = str(values.lab);
  return {
    ...(labDir ? { labDir } : {}),
    ...(address ? { address } : {}),
    ...(namespace ? { namespace } : {}),
    ...(profile ? { profile } : {}),
    ...(taskQueue ? { taskQueue } : {}),
    ...(uiUrl ? { uiUrl } : {}),
  };
}

/** Flags that describe a request (`quickmig migrate --vm esx-a/app01 --to esx-b --datastore DS`); they override a request file. */
export const REQUEST_ARGS = {
  vm: {
    type: 'string',
    valueHint: 'ENDPOINT/NAME',
    description: 'The source VM, e.g. esx-a/app01 (ENDPOINT//DC1/vm/app01 for an inventory path)',
  },
  to: { type: 'string', valueHint: 'ENDPOINT', description: "Target endpoint (default: the source's)" },
  host: { type: 'string', valueHint: 'NAME', description: 'Target host' },
  cluster: { type: 'string', valueHint: 'NAME', description: 'Target cluster (instead of --host)' },
  datastore: { type: 'string', valueHint: 'NAME', description: 'Target datastore (required)' },
  pool: { type: 'string', valueHint: 'NAME', description: 'Target resource pool' },
  folder: { type: 'string', valueHint: 'NAME', description: 'Target VM folder' },
  name: { type: 'string', valueHint: 'NAME', description: "The VM's name on the target" },
  method: { type: 'string', valueHint: 'auto|vmotion|quick-migration', description: 'Default auto' },
  mode: {
    type: 'string',
    valueHint: 'auto|smartswitch|cold|fastest',
    description: 'Default auto; fastest: the eligible mode with the lower projected downtime',
  },
  switchover: {
    type: 'string',
    valueHint: 'auto|manual',
    description: "manual waits for 'quickmig approve ID' (default auto)",
  },
  'source-action': {
    type: 'string',
    valueHint: 'keep|delete',
    description: 'What becomes of the source after success (default keep)',
  },
  'disk-type': { type: 'string', valueHint: 'same|thin|thick|thick-eager', description: 'Default same' },
  test: {
    type: 'boolean',
    description:
      'Test migration: boot a copy as <name>-test on the target, network adapters disconnected, the source running on; then remove it',
  },
  'keep-test': {
    type: 'boolean',
    description: "With --test: keep the test VM running until 'quickmig cleanup ID'",
  },
  'test-network': {
    type: 'string',
    valueHint: 'PORTGROUP',
    description:
      'Test migration on this isolated port group of the target host (implies --test): adapters connected there, not disconnected',
  },
  'finalize-ir': {
    type: 'boolean',
    description: 'Unmount the Instant Recovery datastore when nothing else uses it',
  },
  verify: { type: 'string', valueHint: 'none|size|sha256', description: 'How copied files are checked' },
  'max-downtime': {
    type: 'string',
    valueHint: 'DURATION',
    description:
      'Warm migration: pre-copy rounds until the projected switchover fits, e.g. 2s, 1500ms, 1m (a bare number is ms)',
  },
  'on-budget-miss': {
    type: 'string',
    valueHint: 'switchover|wait-approval|abort',
    description: 'When the deltas do not converge (default wait-approval)',
  },
  'not-before': {
    type: 'string',
    valueHint: 'TIME',
    description: 'Switchover window opens, RFC 3339 with a time zone (2026-11-28T22:00:00Z)',
  },
  'not-after': { type: 'string', valueHint: 'TIME', description: 'Switchover window closes, RFC 3339' },
  'on-window-miss': {
    type: 'string',
    valueHint: 'abort|wait-approval|switchover',
    description: 'When the window closes first (default abort)',
  },
  'commit-window': {
    type: 'string',
    valueHint: 'DURATION',
    description:
      "Keep the source off for a revert this long after the switchover ('quickmig revert ID'), e.g. 1h (default 0: commit at once)",
  },
} as const satisfies ArgsDef;

/** The values of the request flags, as a command's parsed arguments hold them. */
export type RequestFlags = { [K in keyof typeof REQUEST_ARGS]?: string | boolean | undefined };

/** The optional request file of `plan` and `migrate`. */
export const REQUEST_FILE_ARG = {
  request: {
    type: 'positional',
    required: false,
    valueHint: 'request.json',
    description:
      'A request file (schema/migration-request.schema.json, examples/); flags override its fields',
  },
} as const satisfies ArgsDef;

/** True when any request flag is set. */
export function hasRequestFlags(flags: RequestFlags): boolean {
  return Object.keys(REQUEST_ARGS).some((k) => flags[k as keyof RequestFlags] !== undefined);
}

/** `--plan` names a batch plan: a request file or request flags beside it are refused (usage error). */
export function refusePlanWithRequest(args: RequestFlags & { _: readonly string[] }): void {
  if (args._.length > 0 || hasRequestFlags(args))
    throw new CliError(
      "--plan takes no request file or request flags; put shared fields in the plan's defaults",
      ExitCode.usage,
      { showUsage: true },
    );
}

/** The `ID` argument of `watch`, `status`, `approve` and `cancel`. */
export const ID_ARG = {
  id: {
    type: 'positional',
    valueHint: 'ID',
    description: 'A migration id (quickmig-<endpoint>-<vm>) or a batch id',
  },
} as const satisfies ArgsDef;

/** The one id a command was given; CliError (exit 2) for more than one. */
export function oneId(args: { _: readonly string[]; id?: string | undefined }): string {
  if (!args.id || args._.length > 1)
    throw new CliError('give one migration id', ExitCode.usage, { showUsage: true });
  return args.id;
}
