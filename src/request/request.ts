import Ajv2020 from 'ajv/dist/2020.js';
import schema from '../../schema/migration-request.schema.json' with { type: 'json' };
import type { RequestProblem } from './errors';
import { RequestSyntaxError, RequestValidationError } from './errors';
import { jsonSyntaxError } from './json-syntax';
import { nameProblems } from './names';
import type { SchemaWording } from './schema-errors';
import { describeSchemaErrors, joinField, unknownPropertyMessage } from './schema-errors';

// Hand-written to match schema/migration-request.schema.json; test/client proves the examples satisfy
// both. The schema is the contract for other languages; these types are the contract for TypeScript.

/** Exactly one key of T: the others are typed `never` so an object literal cannot set two. */
type ExactlyOne<T> = { [K in keyof T]: Pick<T, K> & { [O in Exclude<keyof T, K>]?: never } }[keyof T];

/** Ways to identify the source VM; a request gives exactly one. */
export interface VmIdentity {
  /** VM display name, unique on the endpoint. */
  name: string;
  /** Inventory path, e.g. `/DC1/vm/web01`. */
  inventoryPath: string;
  /** Managed object id on the endpoint, e.g. `vm-42`. */
  moref: string;
  /** vCenter instance UUID (config.instanceUuid). */
  instanceUuid: string;
}

/** The VM to migrate: a configured endpoint name plus exactly one identity. */
export type SourceSpec = { endpoint: string } & ExactlyOne<VmIdentity>;

/** One disk placement: the disk by exactly one of `index` (0-based) or `label`, and its datastore. */
export type DiskPlacement = { datastore: string } & ExactlyOne<{ index: number; label: string }>;

/** Target host or cluster; at most one. Neither means the VM's current host, or the standalone host. */
type HostOrCluster = { host?: string; cluster?: never } | { cluster?: string; host?: never };

/** Where the VM goes. */
export type TargetSpec = HostOrCluster & {
  /** Configured endpoint name; may equal the source endpoint. */
  endpoint: string;
  /** Default: the root resource pool of the target host or cluster. */
  resourcePool?: string;
  /** Default: the source VM's folder on the same endpoint, else the datacenter's root VM folder. */
  folder?: string;
  /** Datastore for the configuration files and every disk not listed in `disks`. */
  datastore: string;
  /** Per-disk overrides of `datastore`. Default: []. */
  disks?: DiskPlacement[];
  /** Name on the target. Default: the source VM's name. */
  name?: string;
};

/** Migration method. `quick-migration` forces quickmig's own transport. */
export type Method = 'auto' | 'vmotion' | 'quick-migration';
/** Quick Migration switchover mode; `fastest` picks the eligible mode with the lower projected downtime. */
export type Mode = 'auto' | 'smartswitch' | 'cold' | 'fastest';
/** Provisioning of the target disks. */
export type DiskType = 'same' | 'thin' | 'thick' | 'thick-eager';
/** Fate of the source VM after a Quick Migration. */
export type SourceHandling = 'keep' | 'delete';
/** How copied files are verified. */
export type Verify = 'none' | 'size' | 'sha256';
/** Whether the switchover waits for approval. */
export type Switchover = 'auto' | 'manual';
/** What happens when a downtime budget or a window cannot be met. */
export type MissPolicy = 'switchover' | 'wait-approval' | 'abort';

/** How warm pre-copy rounds run. */
export interface PrecopyOptions {
  /** Default 8. */
  maxRounds: number;
  /** Default 'wait-approval'. */
  onBudgetMiss: MissPolicy;
  /** Default 30000: a round this often while waiting for a window or an approval. */
  refreshIntervalMs: number;
  /** Default 0.2: the projection must fit maxDowntimeMs × (1 − headroom). */
  headroom: number;
}

/** When the switchover may start; RFC 3339 times with a zone. */
export interface SwitchoverWindow {
  notBefore?: string;
  notAfter?: string;
  /** Default 'abort'. */
  onMiss: MissPolicy;
}

/** How a Cold switchover stops a running source. */
export interface ShutdownOptions {
  /** Default 'guest': ShutdownGuest through VMware Tools; 'power-off' stops it hard. */
  mode: 'guest' | 'power-off';
  /** Default 300000 (5 min): how long a guest shutdown may take. */
  timeoutMs: number;
  /** Default 'abort': roll back when the guest has not stopped in time; 'power-off' stops it hard. */
  onTimeout: 'abort' | 'power-off';
}

/** What the switchover changes on the target VM before it starts. */
export interface TargetVmOptions {
  /** Default true: ISO-backed CD/DVD drives on the source's or the IR datastore become disconnected client devices. */
  disconnectMedia: boolean;
  /** Default false: upgrade the virtual hardware before the power-on (not for a suspended VM). */
  upgradeHardware: boolean;
}

/** The commit window after a Quick Migration's switchover (README "Commit window"). */
export interface CommitOptions {
  /** Default 0: commit at once, no window. At most 30 days. */
  afterMs: number;
}

/** A test migration (options.test; README "Test migration"): the copy boots isolated, the source runs on. */
export interface TestOptions {
  /** Default false: the test VM is removed once its heartbeat was seen; true keeps it until `quickmig cleanup ID`. */
  keep: boolean;
  /**
   * Default true: the copied base disks stay in the target folder after the cleanup, with the marker
   * `quickmig-test.json`, for a later real migration to reuse; false deletes the folder.
   */
  keepDisks: boolean;
  /**
   * A port group (standard or distributed) of the target host that the test VM's adapters are moved onto, to connect at
   * power-on; absent: they stay disconnected. Never a network the source's adapters are on (preflight).
   */
  network?: string;
}

/** Migration options, with defaults applied (see the schema for the full meaning of each). */
export interface MigrationOptions {
  /** Default 'auto': vMotion when possible, else Quick Migration. */
  method: Method;
  /** Default 'auto': SmartSwitch when CPUs are compatible and memory <= memoryThresholdMiB. */
  mode: Mode;
  /** Default 'same'. */
  diskType: DiskType;
  /** Default 'keep': renamed `<name>_migrated`, powered off, unregistered. */
  source: SourceHandling;
  /** Default false. */
  finalizeInstantRecovery: boolean;
  /** Default 'sha256'. */
  verify: Verify;
  /** Default 'auto'. */
  switchover: Switchover;
  /** Default 8192 (8 GiB), the SmartSwitch limit. */
  memoryThresholdMiB: number;
  /** Downtime budget in ms; set, a running VM is migrated warm. Default: unset (one pass). */
  maxDowntimeMs?: number;
  /** Defaults as in PrecopyOptions. */
  precopy: PrecopyOptions;
  /** Default: unset (any time). */
  window?: SwitchoverWindow;
  /** Defaults as in ShutdownOptions. */
  shutdown: ShutdownOptions;
  /** Defaults as in TargetVmOptions. */
  targetVm: TargetVmOptions;
  /** Default { afterMs: 0 }. Absent from requests normalized before it existed. */
  commit?: CommitOptions;
  /** Set: a test migration (`true` in a request normalizes to { keep: false, keepDisks: true }). Default: absent, a real migration. */
  test?: TestOptions;
}

/** A migration request as a person writes it: options may be left out. */
export interface MigrationRequestInput {
  /** Editor hint; ignored. */
  $schema?: string;
  source: SourceSpec;
  target: TargetSpec;
  options?: Partial<
    Omit<MigrationOptions, 'precopy' | 'window' | 'shutdown' | 'targetVm' | 'commit' | 'test'>
  > & {
    precopy?: Partial<PrecopyOptions>;
    test?: boolean | Partial<TestOptions>;
    commit?: Partial<CommitOptions>;
    window?: Partial<SwitchoverWindow>;
    shutdown?: Partial<ShutdownOptions>;
    targetVm?: Partial<TargetVmOptions>;
  };
}

/** A validated migration request with every default applied; what the planner and workflow take. */
export interface MigrationRequest {
  source: SourceSpec;
  target: TargetSpec & { disks: DiskPlacement[] };
  options: MigrationOptions;
}

// allErrors: report every problem at once; verbose: error objects carry the schema, which the
// messages below use to name alternatives; useDefaults: the schema is the one place defaults live;
// strictRequired off because `oneOf: [{required: [name]}, ...]` names properties of the parent.
const ajv = new Ajv2020({
  allErrors: true,
  verbose: true,
  useDefaults: true,
  strict: true,
  strictRequired: false,
  // options.test is `true` or `{ keep }`: one property of two types.
  allowUnionTypes: true,
});
const validate = ajv.compile<MigrationRequestInput>(schema);

/**
 * Validates a parsed request and returns it with defaults applied. The input is not modified.
 * Throws RequestValidationError listing every problem.
 */
export function normalizeRequest(input: unknown): MigrationRequest {
  let copy: unknown;
  try {
    copy = structuredClone(input);
  } catch (cause) {
    throw new RequestValidationError([{ path: '(request)', message: 'must be plain JSON data' }], { cause });
  }
  if (!validate(copy)) {
    throw new RequestValidationError(describeSchemaErrors(validate.errors ?? [], REQUEST_WORDING));
  }
  // useDefaults has filled in every option and target.disks, which turns the input into a request.
  const { $schema: _editorHint, ...rest } = copy;
  const request = rest as MigrationRequest;
  normalizeTest(request.options as { test?: boolean | Partial<TestOptions> });
  const problems = [...nameProblems(request), ...optionProblems(request)];
  if (problems.length > 0) throw new RequestValidationError(problems);
  return request;
}

/** options.test as the workflow takes it: true → { keep: false, keepDisks: true }, false → absent. */
function normalizeTest(options: { test?: boolean | Partial<TestOptions> }): void {
  const { test } = options;
  if (test === undefined) return;
  if (test === false) delete options.test;
  else
    options.test =
      test === true
        ? { keep: false, keepDisks: true }
        : {
            keep: test.keep ?? false,
            keepDisks: test.keepDisks ?? true,
            ...(test.network !== undefined ? { network: test.network } : {}),
          };
}

/** Options that contradict each other, which the schema alone cannot say. */
function optionProblems(request: MigrationRequest): RequestProblem[] {
  const { options } = request;
  if (options.test) {
    const problems: RequestProblem[] = [];
    if (options.method === 'vmotion')
      problems.push({
        path: 'options.test',
        message:
          "a test migration boots a copy of the VM beside it, and vMotion moves the VM itself; set options.method to 'auto' or 'quick-migration' (a test always copies), or remove options.test",
      });
    if ((options.commit?.afterMs ?? 0) > 0)
      problems.push({
        path: 'options.commit.afterMs',
        message:
          'a test migration never switches over, so it has no commit window; remove options.commit (or options.test for a real migration with a window)',
      });
    if (problems.length > 0) return problems;
  }
  if (options.method === 'vmotion' && (options.commit?.afterMs ?? 0) > 0)
    return [
      {
        path: 'options.commit.afterMs',
        message:
          "a commit window applies to Quick Migration only: vMotion moves the VM itself and leaves no source to revert to; remove options.commit or set options.method to 'quick-migration' (or 'auto', which then chooses Quick Migration)",
      },
    ];
  return [];
}

/** Parses JSON text and normalizes it; malformed text throws RequestSyntaxError naming line and column. */
export function parseRequest(text: string): MigrationRequest {
  const body = text.replace(/^\uFEFF/, '');
  const syntax = jsonSyntaxError(body);
  if (syntax) throw new RequestSyntaxError(syntax.detail, syntax.position, syntax.line, syntax.column);
  return normalizeRequest(JSON.parse(body));
}

// ---- error messages ---------------------------------------------------------------------------

type SchemaNode = { properties?: Record<string, SchemaNode>; items?: SchemaNode };

/** Every property name in the schema with the paths where it is allowed, for "did you mean". */
const knownPaths: Map<string, string[]> = (() => {
  const found = new Map<string, string[]>();
  const walk = (node: SchemaNode, path: string): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const childPath = joinField(path, key);
      found.set(key, [...(found.get(key) ?? []), childPath]);
      walk(child, childPath);
    }
    if (node.items) walk(node.items, `${path}[]`);
  };
  walk(schema as SchemaNode, '');
  return found;
})();

/** A request's wording: a property allowed elsewhere in the request is named there. */
const REQUEST_WORDING: SchemaWording = {
  root: '(request)',
  unknownProperty(_at, name, allowed) {
    const elsewhere = knownPaths.get(name);
    if (elsewhere && elsewhere.length > 0) {
      return `unknown property '${name}' here — did you mean '${elsewhere.join("' or '")}'?`;
    }
    return unknownPropertyMessage(name, allowed);
  },
};
