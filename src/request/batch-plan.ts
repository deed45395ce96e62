/**
 * Migration plans: many migrations in one YAML or JSON file, run as one `migrationBatch` workflow.
 * Parsing and validation happen here, before anything starts: every problem is reported at once
 * with its field path (`migrations[3].target.datastore`), the line in the file, and the fix.
 *
 * A plan is validated in two passes: the file against schema/migration-plan.schema.json (its shape,
 * `defaults` and `limits`), then every entry merged over `defaults` against
 * schema/migration-request.schema.json, through normalizeRequest, so an entry is exactly as strict as a
 * single request.
 */
import type { ErrorObject } from 'ajv/dist/2020.js';
import Ajv2020 from 'ajv/dist/2020.js';
import type { Document } from 'yaml';
import { LineCounter, parseDocument } from 'yaml';
import planSchema from '../../schema/migration-plan.schema.json' with { type: 'json' };
import requestSchema from '../../schema/migration-request.schema.json' with { type: 'json' };
import type { RequestProblem } from './errors';
import { RequestValidationError } from './errors';
import { jsonSyntaxError } from './json-syntax';
import type {
  MigrationOptions,
  MigrationRequest,
  MigrationRequestInput,
  SourceSpec,
  TargetSpec,
} from './request';
import { normalizeRequest } from './request';
import type { SchemaWording } from './schema-errors';
import { describeSchemaErrors, unknownPropertyMessage } from './schema-errors';

export interface BatchLimits {
  /** Migrations running at once. Default: no limit. */
  global?: number;
  /** Migrations running at once from one source host (`<endpoint>/<host>`). Default: no limit. */
  perSourceHost?: number;
  /** Migrations running at once that write to one target datastore (`<endpoint>/<datastore>`). Default: no limit. */
  perTargetDatastore?: number;
  /**
   * Concurrent copy streams through one ESXi host, source or target side (`<endpoint>/<host>`). Default 8
   * (src/planner/admission.ts: the NFC-like cap of the lab's hosts, `maxFolderStreams`).
   */
  streamsPerHost?: number;
  /** Migration snapshots at once on one source datastore. Default 15 (Azure Migrate's guidance). */
  snapshotsPerDatastore?: number;
  /** SmartSwitch suspends at once on one source host, held for the switchover only. Default: no limit. */
  suspendsPerHost?: number;
}

/** The workflow's input: what a plan file becomes once validated (normalizePlan, below). */
export interface MigrationBatchInput {
  /** One request per VM, in the order they start when the limits allow. */
  migrations: MigrationRequestInput[];
  /** Default: {} (no limits). */
  limits?: BatchLimits;
  /** The plan's name, for display. Default: none. */
  name?: string;
  /** Task queue of the children's data-mover activities. Default: the worker's own. */
  dataMoverTaskQueue?: string;
}

/** A plan as a person writes it (schema/migration-plan.schema.json). */
export interface BatchPlanInput {
  /** Editor hint; ignored. */
  $schema?: string;
  /** Short name; the batch id becomes `quickmig-batch-<name>`. Default: none. */
  name?: string;
  /** Free text. Default: none. */
  description?: string;
  /** Merged under every entry; an entry's own fields win. Default: {}. */
  defaults?: {
    source?: { endpoint?: string };
    target?: Partial<Omit<TargetSpec, 'name'>>;
    options?: Partial<MigrationOptions>;
  };
  /** Default: {} (no limits). */
  limits?: BatchLimits;
  /** One entry per VM; with defaults merged, each must be a complete migration request. */
  migrations: {
    source: Partial<SourceSpec>;
    target?: Partial<TargetSpec>;
    options?: Partial<MigrationOptions>;
  }[];
}

/** A validated plan: every entry merged with the defaults and normalized; what the batch workflow takes. */
export interface BatchPlan extends MigrationBatchInput {
  name?: string;
  description?: string;
  limits: BatchLimits;
  migrations: MigrationRequest[];
}

/** A problem in a plan: the field path, the line of the file when the plan came from text, and the fix. */
export interface PlanProblem extends RequestProblem {
  /** 1-based line in the plan file where the field is (or where it is missing). */
  readonly line?: number;
}

/**
 * Thrown when a migration plan is invalid. The message lists every problem, one per line, with the
 * field path, the line when known, and the fix. It is a RequestValidationError, so callers that report
 * request problems (and the CLI's exit code 3) need only one catch.
 */
export class PlanValidationError extends RequestValidationError {
  override readonly name: string = 'PlanValidationError';
  override readonly problems: readonly PlanProblem[];
  /** The plan file, when known. */
  readonly file: string | undefined;

  constructor(problems: readonly PlanProblem[], file?: string, options?: ErrorOptions) {
    super(problems, options);
    this.problems = problems;
    this.file = file;
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const where = (p: PlanProblem) => (p.line === undefined ? p.path : `${p.path} (line ${p.line})`);
    this.message = [
      `invalid migration plan${file ? ` ${file}` : ''} (${count}):`,
      ...problems.map((p) => `  - ${where(p)}: ${p.message}`),
    ].join('\n');
  }
}

/** Thrown when a plan file is not well-formed YAML or JSON; names the line and column. */
export class PlanSyntaxError extends PlanValidationError {
  override readonly name: string = 'PlanSyntaxError';
  constructor(
    readonly format: 'YAML' | 'JSON',
    detail: string,
    readonly line: number,
    readonly column: number,
    file?: string,
  ) {
    super(
      [{ path: '(plan)', message: `malformed ${format} at line ${line}, column ${column}: ${detail}` }],
      file,
    );
  }
}

// No useDefaults: defaults of the request schema are applied by normalizeRequest after the merge.
// allowUnionTypes: the request schema's options.test is `true` or `{ keep }`.
const ajv = new Ajv2020({
  allErrors: true,
  verbose: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
});
ajv.addSchema(requestSchema);
const validatePlan = ajv.compile<BatchPlanInput>(planSchema);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates a parsed plan and returns it with the defaults merged into every entry and every entry
 * normalized. The input is not modified. Throws PlanValidationError listing every problem.
 */
export function normalizePlan(input: unknown, file?: string): BatchPlan {
  let plan: unknown;
  try {
    plan = structuredClone(input);
  } catch (cause) {
    throw new PlanValidationError([{ path: '(plan)', message: 'must be plain JSON data' }], file, { cause });
  }
  const problems: PlanProblem[] = [];
  if (!validatePlan(plan)) {
    // Entries are checked once merged, through normalizeRequest; their shape errors would repeat those.
    const errors = (validatePlan.errors ?? []).filter(
      (error) =>
        !/^\/migrations\/\d+\//.test(error.instancePath) &&
        (!/^\/migrations\/\d+$/.test(error.instancePath) || error.keyword === 'type'),
    );
    for (const problem of describeSchemaErrors(errors, PLAN_WORDING)) add(problems, problem);
  }
  if (plan === null || plan === undefined)
    throw new PlanValidationError(
      [{ path: '(plan)', message: 'is empty: a plan lists at least its migrations' }],
      file,
    );
  if (!isObject(plan)) throw new PlanValidationError(problems, file);
  const defaults = isObject(plan.defaults) ? plan.defaults : {};
  const entries = Array.isArray(plan.migrations) ? plan.migrations : [];
  const migrations: MigrationRequest[] = [];
  const firstOf = new Map<string, number>();
  entries.forEach((entry, i) => {
    if (!isObject(entry)) return;
    const at = `migrations[${i}]`;
    const merged = mergeEntry(defaults, entry);
    const vm = vmKey(merged);
    if (vm) {
      const first = firstOf.get(vm);
      if (first === undefined) firstOf.set(vm, i);
      else
        add(problems, {
          path: `${at}.source`,
          message: `${vm} is already migrated by migrations[${first}]; list each VM once`,
        });
    }
    try {
      migrations.push(normalizeRequest(merged));
    } catch (error) {
      if (!(error instanceof RequestValidationError)) throw error;
      for (const p of error.problems) {
        const path = p.path === '(request)' ? '' : p.path;
        // A problem in a field the entry took from defaults was reported once, at defaults.<path>.
        if (path && !has(entry, path) && has(defaults, path)) continue;
        add(problems, {
          path: path ? `${at}.${path}` : at,
          message:
            p.message === 'is required' && DEFAULTABLE.has(path)
              ? `is required: give it in this entry or in defaults.${path}`
              : p.message,
        });
      }
    }
  });
  if (problems.length > 0) throw new PlanValidationError(problems, file);
  const written = plan as unknown as BatchPlanInput;
  return {
    ...(written.name ? { name: written.name } : {}),
    ...(written.description ? { description: written.description } : {}),
    limits: { ...written.limits },
    migrations,
  };
}

/**
 * Parses a plan from YAML or JSON text and normalizes it. JSON is chosen by the file's `.json`
 * extension, or without a file name when the text starts with `{`. Malformed text throws
 * PlanSyntaxError with line and column; invalid content PlanValidationError, whose problems carry the
 * line of each field.
 */
export function parsePlan(text: string, file?: string): BatchPlan {
  const body = text.replace(/^\uFEFF/, '');
  const json = file === undefined ? /^\s*\{/.test(body) : /\.json$/i.test(file);
  const lines = new LineCounter();
  const doc = parseDocument(body, { lineCounter: lines, prettyErrors: false });
  let data: unknown;
  if (json) {
    const syntax = jsonSyntaxError(body);
    if (syntax) throw new PlanSyntaxError('JSON', syntax.detail, syntax.line, syntax.column, file);
    data = JSON.parse(body);
  } else {
    const syntax = doc.errors[0];
    if (syntax) {
      const pos = lines.linePos(syntax.pos[0]);
      throw new PlanSyntaxError(
        'YAML',
        syntax.message.split('\n')[0] ?? syntax.code,
        pos.line,
        pos.col,
        file,
      );
    }
    data = doc.toJS({ maxAliasCount: 1000 });
  }
  try {
    return normalizePlan(data, file);
  } catch (error) {
    // JSON that YAML cannot read (tabs as indentation) gets no line numbers.
    if (!(error instanceof PlanValidationError) || doc.errors.length > 0) throw error;
    throw new PlanValidationError(
      error.problems.map((p) => ({ ...p, ...lineOf(doc, lines, p.path) })),
      file,
      { cause: error },
    );
  }
}

/** The workflow id of a plan's batch: `quickmig-batch-<name>`, else with a UTC timestamp and `suffix`. */
export function batchIdOf(plan: Pick<BatchPlan, 'name'>, now: Date, suffix: string): string {
  if (plan.name) return `quickmig-batch-${plan.name}`;
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .replace('T', '-');
  return `quickmig-batch-${stamp}-${suffix}`;
}

// ---- merging ----------------------------------------------------------------------------------

/** Request paths that `defaults` may hold (for the "give it here or in defaults" hint). */
const DEFAULTABLE = new Set(['source.endpoint', 'target.endpoint', 'target.datastore']);

/** An entry over the defaults: objects merge field by field, the entry wins, lists are replaced. */
function mergeEntry(defaults: Json, entry: Json): Json {
  const merged = mergeObjects(defaults, entry);
  // host and cluster exclude each other: the entry's choice removes the default's other one.
  const target = isObject(entry.target) ? entry.target : {};
  if (isObject(merged.target)) {
    if (target.host !== undefined && target.cluster === undefined) delete merged.target.cluster;
    if (target.cluster !== undefined && target.host === undefined) delete merged.target.host;
  }
  return merged;
}

function mergeObjects(under: Json, over: Json): Json {
  const out: Json = { ...under };
  for (const [key, value] of Object.entries(over)) {
    const base = out[key];
    out[key] = isObject(base) && isObject(value) ? mergeObjects(base, value) : value;
  }
  return out;
}

/** `target.disks[0].index` → ['target', 'disks', 0, 'index']. */
function segments(path: string): (string | number)[] {
  return path
    .split(/\.|(?=\[)/)
    .filter(Boolean)
    .map((s) => (/^\[\d+\]$/.test(s) ? Number(s.slice(1, -1)) : s));
}

/** True when `value` holds something at `path`. */
function has(value: unknown, path: string): boolean {
  let current: unknown = value;
  for (const seg of segments(path)) {
    if (typeof seg === 'number' ? !Array.isArray(current) : !isObject(current)) return false;
    current = (current as Record<string | number, unknown>)[seg];
    if (current === undefined) return false;
  }
  return true;
}

/** `<endpoint>/<identity>` of a merged entry, when it names one (for finding a VM listed twice). */
function vmKey(entry: Json): string | null {
  const s = isObject(entry.source) ? entry.source : {};
  const identity = s.name ?? s.moref ?? s.inventoryPath ?? s.instanceUuid;
  return typeof s.endpoint === 'string' && typeof identity === 'string' ? `${s.endpoint}/${identity}` : null;
}

/** The line of the field at `path`, or of its nearest ancestor that exists (where it is missing). */
function lineOf(doc: Document, lines: LineCounter, path: string): { line?: number } {
  if (path === '(plan)') return {};
  const segs = segments(path.replace(/ .*$/, ''));
  for (let n = segs.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(segs.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    if (range) return { line: lines.linePos(range[0]).line };
  }
  return {};
}

// ---- messages ---------------------------------------------------------------------------------

function add(problems: PlanProblem[], problem: PlanProblem): void {
  if (!problems.some((p) => p.path === problem.path && p.message === problem.message)) problems.push(problem);
}

/** A plan's wording: the plan's own limits and lists, and the mistakes people make writing one. */
const PLAN_WORDING: SchemaWording = {
  root: '(plan)',
  unknownProperty,
  special(error: ErrorObject, at: string): PlanProblem | undefined {
    const shown = at || '(plan)';
    const params = error.params as Record<string, unknown>;
    switch (error.keyword) {
      case 'required':
        return at === '' && params.missingProperty === 'migrations'
          ? {
              path: 'migrations',
              message: 'is required: list the VMs to migrate, one migration request each',
            }
          : undefined;
      case 'minimum':
        return at.startsWith('limits.')
          ? {
              path: shown,
              message: `must be >= ${params.limit} (got ${JSON.stringify(error.data)}); leave it out for no limit`,
            }
          : undefined;
      case 'minItems':
        return { path: shown, message: `must list at least ${params.limit} migration` };
      case 'maxItems':
        return {
          path: shown,
          message: `must list at most ${params.limit} migrations (got ${(error.data as unknown[]).length}); split the plan into several batches`,
        };
      default:
        return undefined;
    }
  },
};

function unknownProperty(at: string, name: string, allowed: readonly string[]): string {
  if (at === '' && ['source', 'target', 'options'].includes(name))
    return `unknown property '${name}' here: this looks like a single request; list it under migrations (or run it with 'quickmig migrate FILE'), or put shared fields under defaults.${name}`;
  if (at === 'defaults.target' && name === 'name')
    return 'a target name cannot be a default (every VM would get it); set target.name in the entry';
  if (at === 'defaults.source')
    return `unknown property '${name}' here: only source.endpoint may be a default; name each VM in its entry`;
  return unknownPropertyMessage(name, allowed, { shortenings: true });
}
