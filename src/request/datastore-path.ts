/**
 * Datastore paths, `[datastore name] folder/file.vmdk`, as vSphere writes them: the one parser of the
 * project. Pure (no Node modules): the planner, which the workflow bundle includes, uses it as well
 * as src/vsphere.
 */

/** A datastore path split into its parts. */
export interface DatastorePath {
  /** Datastore name, as in the inventory (may hold spaces, brackets, parentheses, any Unicode). */
  readonly datastore: string;
  /** Path inside the datastore, `/`-separated, without leading slash; '' for the datastore root. */
  readonly path: string;
}

/**
 * Parses `[ds] folder/file`. The datastore name ends at the first `]` that is followed by a space
 * or by the end of the string, so names such as `ds[1]` and paths holding `] ` both round-trip,
 * unless the datastore name itself contains `] ` (vSphere's own format is ambiguous there).
 * Throws TypeError when `text` does not start with `[`.
 */
export function parseDatastorePath(text: string): DatastorePath {
  if (!text.startsWith('['))
    throw new TypeError(`not a datastore path (expected "[datastore] path"): ${text}`);
  for (let i = text.indexOf(']'); i !== -1; i = text.indexOf(']', i + 1)) {
    if (i + 1 === text.length) return { datastore: text.slice(1, i), path: '' };
    if (text[i + 1] === ' ') return { datastore: text.slice(1, i), path: trimSlashes(text.slice(i + 2)) };
  }
  throw new TypeError(`not a datastore path (no "] " after the datastore name): ${text}`);
}

/** `path` as a DatastorePath: parsed when it is text (see parseDatastorePath), else as it is. */
export function toDatastorePath(path: DatastorePath | string): DatastorePath {
  return typeof path === 'string' ? parseDatastorePath(path) : path;
}

/** Formats `[ds] path`; `[ds]` alone for the datastore root. */
export function formatDatastorePath(p: DatastorePath): string {
  const path = trimSlashes(p.path);
  return path === '' ? `[${p.datastore}]` : `[${p.datastore}] ${path}`;
}

/** Appends `/`-separated segments to a datastore path. */
export function joinDatastorePath(base: DatastorePath | string, ...segments: string[]): DatastorePath {
  const p = toDatastorePath(base);
  const parts = [p.path, ...segments].map(trimSlashes).filter((s) => s !== '');
  return { datastore: p.datastore, path: parts.join('/') };
}

/** The folder part of a datastore path ('' at the root). */
export function datastorePathDir(p: DatastorePath): DatastorePath {
  const i = p.path.lastIndexOf('/');
  return { datastore: p.datastore, path: i === -1 ? '' : p.path.slice(0, i) };
}

/** The last segment of a datastore path. */
export function datastorePathBase(p: DatastorePath): string {
  return p.path.slice(p.path.lastIndexOf('/') + 1);
}

function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}
