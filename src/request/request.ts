import type { ErrorObject } from 'ajv/dist/2020.js';
import Ajv2020 from 'ajv/dist/2020.js';
import schema from '../../schema/migration-request.schema.json' with { type: 'json' };
import type { RequestProblem } from './errors';
import { RequestSyntaxError, RequestValidationError } from './errors';

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
export type DiskType = 'same' | 'thin' | 'thick';
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
}

/** A migration request as a person writes it: options may be left out. */
export interface MigrationRequestInput {
  /** Editor hint; ignored. */
  $schema?: string;
  source: SourceSpec;
  target: TargetSpec;
  options?: Partial<Omit<MigrationOptions, 'precopy' | 'window' | 'shutdown' | 'targetVm'>> & {
    precopy?: Partial<PrecopyOptions>;
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
    throw new RequestValidationError(describeErrors(validate.errors ?? []));
  }
  // useDefaults has filled in every option and target.disks, which turns the input into a request.
  const { $schema: _editorHint, ...request } = copy;
  return request as MigrationRequest;
}

/** Parses JSON text and normalizes it; malformed text throws RequestSyntaxError naming line and column. */
export function parseRequest(text: string): MigrationRequest {
  const body = text.replace(/^\uFEFF/, '');
  const syntax = jsonSyntaxError(body);
  if (syntax) throw new RequestSyntaxError(syntax.detail, syntax.position, syntax.line, syntax.column);
  return normalizeRequest(JSON.parse(body));
}

/**
 * @internal The first syntax error of JSON text (without a byte-order mark) with its line and column,
 * or null when the text is valid JSON. Shared with the plan file's parser.
 */
export function jsonSyntaxError(
  body: string,
): { detail: string; position: number; line: number; column: number } | null {
  const syntax = findJsonSyntaxError(body);
  if (!syntax) return null;
  const before = body.slice(0, syntax.position).split('\n');
  return { ...syntax, line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

// ---- error messages ---------------------------------------------------------------------------

type SchemaNode = {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  examples?: unknown[];
};

/** Every property name in the schema with the paths where it is allowed, for "did you mean". */
const knownPaths: Map<string, string[]> = (() => {
  const found = new Map<string, string[]>();
  const walk = (node: SchemaNode, path: string): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const childPath = joinPath(path, key);
      found.set(key, [...(found.get(key) ?? []), childPath]);
      walk(child, childPath);
    }
    if (node.items) walk(node.items, `${path}[]`);
  };
  walk(schema as SchemaNode, '');
  return found;
})();

function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** `/target/disks/0/index` → `target.disks[0].index`. */
function toPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>((path, seg) => joinPath(path, /^\d+$/.test(seg) ? Number(seg) : seg), '');
}

const shown = (path: string): string => (path === '' ? '(request)' : path);

function describeErrors(errors: readonly ErrorObject[]): RequestProblem[] {
  // A failed oneOf also reports each branch's `required` miss; its own message says it all.
  const oneOfPaths = errors.filter((e) => e.keyword === 'oneOf').map((e) => `${e.schemaPath}/`);
  // A value of the wrong type fails the object-shape keywords too; only the type matters then.
  const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const problems: RequestProblem[] = [];
  for (const error of errors) {
    if (oneOfPaths.some((p) => error.schemaPath.startsWith(p))) continue;
    if (wrongType.has(error.instancePath) && error.keyword !== 'type') continue;
    const problem = describeError(error);
    if (!problems.some((p) => p.path === problem.path && p.message === problem.message))
      problems.push(problem);
  }
  return problems;
}

function describeError(error: ErrorObject): RequestProblem {
  const at = toPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path: joinPath(at, String(params.missingProperty)), message: 'is required' };
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const allowed = Object.keys((error.parentSchema as SchemaNode).properties ?? {});
      return { path: joinPath(at, name), message: unknownPropertyMessage(name, allowed) };
    }
    case 'enum':
      return {
        path: shown(at),
        message: `must be one of ${(error.schema as unknown[]).join(', ')} (got ${JSON.stringify(error.data)})`,
      };
    case 'type':
      return {
        path: shown(at),
        message: `must be ${article(String(params.type))} (got ${jsonType(error.data)})`,
      };
    case 'minLength':
      return { path: shown(at), message: 'must not be empty' };
    case 'maxLength':
      return { path: shown(at), message: `must be at most ${params.limit} characters` };
    case 'minimum':
      return { path: shown(at), message: `must be >= ${params.limit} (got ${JSON.stringify(error.data)})` };
    case 'pattern': {
      const example = (error.parentSchema as SchemaNode).examples?.[0];
      const hint = example === undefined ? '' : `, e.g. ${JSON.stringify(example)}`;
      return { path: shown(at), message: `must match ${params.pattern}${hint}` };
    }
    case 'oneOf': {
      const names = alternatives(error.schema).map((k) => joinPath(at, k));
      const passing = Array.isArray(params.passingSchemas) ? (params.passingSchemas as number[]) : [];
      const given = passing.length > 1 ? ` (got ${passing.map((i) => names[i]).join(' and ')})` : '';
      return { path: shown(at), message: `give exactly one of ${names.join(', ')}${given}` };
    }
    case 'not': {
      const names = alternatives([error.schema]).map((k) => joinPath(at, k));
      return { path: shown(at), message: `give at most one of ${names.join(', ')}` };
    }
    default:
      return { path: shown(at), message: error.message ?? 'is invalid' };
  }
}

/** Property names of `[{required: [...]}, ...]` alternatives. */
function alternatives(branches: unknown): string[] {
  if (!Array.isArray(branches)) return [];
  return branches.flatMap((b) => ((b as { required?: string[] }).required ?? []) as string[]);
}

function unknownPropertyMessage(name: string, allowed: string[]): string {
  const elsewhere = knownPaths.get(name);
  if (elsewhere && elsewhere.length > 0) {
    return `unknown property '${name}' here — did you mean '${elsewhere.join("' or '")}'?`;
  }
  const close = allowed
    .map((candidate) => ({ candidate, distance: editDistance(name.toLowerCase(), candidate.toLowerCase()) }))
    .filter((c) => c.distance <= Math.max(2, Math.floor(c.candidate.length / 3)))
    .sort((a, b) => a.distance - b.distance)[0];
  if (close) return `unknown property '${name}' — did you mean '${close.candidate}'?`;
  return `unknown property '${name}'; allowed: ${allowed.join(', ')}`;
}

/** @internal Edit distance where swapping two neighbouring letters counts as one edit (common typos). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** @internal `a string`, `an object`: for messages. */
export function article(type: string): string {
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/** @internal The JSON type of a value with its article, for messages (`an array`, `null`). */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return article(typeof value);
}

// ---- JSON syntax ------------------------------------------------------------------------------

const WS = /[ \t\n\r]*/y;
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids raw control characters in strings.
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERAL = /true|false|null/y;

/**
 * Finds the first syntax error in JSON text, or null when it is valid. JSON.parse's own messages
 * differ between Node versions and some carry no position at all, so the position is found here.
 */
function findJsonSyntaxError(text: string): { position: number; detail: string } | null {
  let i = 0;
  const fail = (detail: string): never => {
    throw {
      position: i,
      detail: `${i >= text.length ? 'unexpected end of text' : `unexpected ${JSON.stringify(text[i])}`}, ${detail}`,
    };
  };
  const eat = (re: RegExp): boolean => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (m) i += m[0].length;
    return m !== null;
  };
  const ws = (): void => {
    eat(WS);
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a double-quoted property name');
        if (!eat(STRING)) fail('invalid string (unterminated, bad escape or raw control character)');
        ws();
        if (text[i] !== ':') fail("expected ':' after the property name");
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else fail("expected ',' or ']'");
      }
    }
    if (c === '"') {
      if (!eat(STRING)) fail('invalid string (unterminated, bad escape or raw control character)');
      return;
    }
    if (!eat(NUMBER) && !eat(LITERAL)) fail('expected a value');
  };
  try {
    value();
    ws();
    if (i < text.length) fail('expected end of text after the JSON value');
    return null;
  } catch (error) {
    return error as { position: number; detail: string };
  }
}
