/**
 * The wording of JSON Schema (ajv) errors, one for the request and the plan parsers: each error becomes
 * a field path (`target.disks[0].index`) and what to do. A document adds only what it alone knows (the
 * name of its root, how to word an unknown property, a few messages of its own).
 */
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { RequestProblem } from './errors';

/** What one kind of document (request, plan) words its own way. */
export interface SchemaWording {
  /** The path shown for the document itself, e.g. `(request)`. */
  readonly root: string;
  /** The message for property `name`, not allowed at path `at`, where `allowed` are. */
  unknownProperty(at: string, name: string, allowed: readonly string[]): string;
  /** The document's own problem for an error, or undefined for the shared wording. Default: none. */
  special?(error: ErrorObject, at: string): RequestProblem | undefined;
}

type SchemaNode = { properties?: Record<string, unknown>; examples?: unknown[] };

/**
 * Every problem of a failed validation, once each. The `required` misses of a failed `oneOf`'s branches
 * and the shape errors of a value of the wrong type are left out: the `oneOf` and the `type` message say it.
 */
export function describeSchemaErrors(
  errors: readonly ErrorObject[],
  wording: SchemaWording,
): RequestProblem[] {
  const oneOfPaths = errors.filter((e) => e.keyword === 'oneOf').map((e) => `${e.schemaPath}/`);
  const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const problems: RequestProblem[] = [];
  for (const error of errors) {
    if (oneOfPaths.some((p) => error.schemaPath.startsWith(p))) continue;
    if (wrongType.has(error.instancePath) && error.keyword !== 'type') continue;
    const problem = describeSchemaError(error, wording);
    if (!problems.some((p) => p.path === problem.path && p.message === problem.message))
      problems.push(problem);
  }
  return problems;
}

/** One ajv error as a field path and a message with the fix. */
export function describeSchemaError(error: ErrorObject, wording: SchemaWording): RequestProblem {
  const at = fieldPath(error.instancePath);
  const own = wording.special?.(error, at);
  if (own) return own;
  const shown = at === '' ? wording.root : at;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path: joinField(at, String(params.missingProperty)), message: 'is required' };
    case 'additionalProperties': {
      const name = String(params.additionalProperty);
      const allowed = Object.keys((error.parentSchema as SchemaNode).properties ?? {});
      return { path: joinField(at, name), message: wording.unknownProperty(at, name, allowed) };
    }
    case 'enum':
      return {
        path: shown,
        message: `must be one of ${(error.schema as unknown[]).join(', ')} (got ${JSON.stringify(error.data)})`,
      };
    case 'type':
      return {
        path: shown,
        message: `must be ${article(String(params.type))} (got ${jsonType(error.data)})`,
      };
    case 'minLength':
      return { path: shown, message: 'must not be empty' };
    case 'maxLength':
      return { path: shown, message: `must be at most ${params.limit} characters` };
    case 'minimum':
      return { path: shown, message: `must be >= ${params.limit} (got ${JSON.stringify(error.data)})` };
    case 'pattern': {
      // An example says the form in words an operator reads; a regular expression only when there is none.
      const example = (error.parentSchema as SchemaNode).examples?.[0];
      const got = ` (got ${JSON.stringify(error.data)})`;
      if (example !== undefined)
        return { path: shown, message: `must be written like ${JSON.stringify(example)}${got}` };
      return { path: shown, message: `must match ${params.pattern}${got}` };
    }
    case 'oneOf': {
      const names = alternatives(error.schema).map((k) => joinField(at, k));
      const passing = Array.isArray(params.passingSchemas) ? (params.passingSchemas as number[]) : [];
      const given = passing.length > 1 ? ` (got ${passing.map((i) => names[i]).join(' and ')})` : '';
      return { path: shown, message: `give exactly one of ${names.join(', ')}${given}` };
    }
    case 'not': {
      const names = alternatives([error.schema]).map((k) => joinField(at, k));
      return { path: shown, message: `give at most one of ${names.join(', ')}` };
    }
    default:
      return { path: shown, message: error.message ?? 'is invalid' };
  }
}

/** Property names of `[{required: [...]}, ...]` alternatives. */
function alternatives(branches: unknown): string[] {
  if (!Array.isArray(branches)) return [];
  return branches.flatMap((b) => ((b as { required?: string[] }).required ?? []) as string[]);
}

/** `target` + `datastore` → `target.datastore`; `disks` + 0 → `disks[0]`. */
export function joinField(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** A JSON pointer as a field path: `/target/disks/0/index` → `target.disks[0].index`. */
export function fieldPath(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>((path, seg) => joinField(path, /^\d+$/.test(seg) ? Number(seg) : seg), '');
}

/**
 * The message for an unknown property: the allowed name it is a typo of (or, with `shortenings`, a
 * shortening of, like `perHost` for `perSourceHost`), else the list of allowed names.
 */
export function unknownPropertyMessage(
  name: string,
  allowed: readonly string[],
  options: { shortenings?: boolean } = {},
): string {
  const lower = name.toLowerCase();
  const close = allowed
    .map((candidate) => ({ candidate, distance: editDistance(lower, candidate.toLowerCase()) }))
    .filter(
      (c) =>
        c.distance <= Math.max(2, Math.floor(c.candidate.length / 3)) ||
        (options.shortenings === true && name.length >= 4 && isSubsequence(lower, c.candidate.toLowerCase())),
    )
    .sort((a, b) => a.distance - b.distance)[0];
  if (close) return `unknown property '${name}' — did you mean '${close.candidate}'?`;
  return `unknown property '${name}'; allowed: ${allowed.join(', ')}`;
}

/** The name of `known` that `name` is most likely a typo of (case aside), for "did you mean"; undefined when none is close. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  return known
    .map((k) => ({ k, d: editDistance(name.toLowerCase(), k.toLowerCase()) }))
    .filter(({ k, d }) => d <= Math.max(2, Math.floor(k.length / 3)))
    .sort((a, b) => a.d - b.d)[0]?.k;
}

/** True when the letters of `short` appear in `long` in order. */
function isSubsequence(short: string, long: string): boolean {
  let i = 0;
  for (const c of long) if (c === short[i]) i++;
  return i === short.length;
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
  // A union type (`boolean,object`) reads as alternatives.
  if (type.includes(',')) return type.split(',').map(article).join(' or ');
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

/** @internal The JSON type of a value with its article, for messages (`an array`, `null`). */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return article(typeof value);
}
