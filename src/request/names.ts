/**
 * Names and paths in a request checked for what the schema's types cannot say: characters and lengths
 * that vSphere would refuse, escape or read ambiguously, and relative segments that would leave the
 * datastore or the inventory folder the user meant. Found before anything is contacted, each with the
 * field and the fix.
 *
 * Facts: vSphere names (VMs, datastores, clusters, folders) are at most 80 characters, and it stores
 * `%`, `/` and `\` in them escaped (`%25`, `%2f`, `%5c`) (vSphere Web Services API reference,
 * ManagedEntity.name); a VM's files live in `[datastore] <name>/<name>.vmx`, so the target's name
 * becomes a folder on the datastore, and the datastore path `[ds] folder` is read up to the first `] `.
 */
import type { RequestProblem } from './errors';
import type { MigrationRequest } from './request';

/** vSphere's limit for an entity name (ManagedEntity.name). */
const MAX_NAME_LENGTH = 80;
/** A host's name is its DNS name (RFC 1035: at most 255 octets). */
const MAX_HOST_LENGTH = 255;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

/** The problems of every name and path in `request`, in document order; none for a sound request. */
export function nameProblems(request: MigrationRequest): RequestProblem[] {
  const problems: RequestProblem[] = [];
  const check = (path: string, value: string | undefined, rules: readonly Rule[]) => {
    if (value === undefined) return;
    for (const rule of rules) {
      const message = rule(value);
      if (message !== undefined) {
        problems.push({ path, message });
        return;
      }
    }
  };
  const { source, target } = request;
  check('source.endpoint', source.endpoint, [noControl, maxLength(MAX_NAME_LENGTH)]);
  check('source.name', source.name, [noControl, maxLength(MAX_NAME_LENGTH), unescaped('source')]);
  check('source.inventoryPath', source.inventoryPath, [noControl, noRelativeSegment]);
  check('target.endpoint', target.endpoint, [noControl, maxLength(MAX_NAME_LENGTH)]);
  check('target.host', target.host, [noControl, maxLength(MAX_HOST_LENGTH)]);
  check('target.cluster', target.cluster, [noControl, maxLength(MAX_NAME_LENGTH)]);
  check('target.resourcePool', target.resourcePool, [noControl, noRelativeSegment]);
  check('target.folder', target.folder, [noControl, noRelativeSegment]);
  const datastore = [noControl, maxLength(MAX_NAME_LENGTH), datastoreName];
  check('target.datastore', target.datastore, datastore);
  for (const [i, disk] of target.disks.entries())
    check(`target.disks[${i}].datastore`, disk.datastore, datastore);
  check('target.name', target.name, [noControl, unescaped('target'), folderName]);
  const test = request.options.test;
  if (test) check('options.test.network', test.network, [noControl, maxLength(MAX_NAME_LENGTH)]);
  return problems;
}

/** A check of one value: the message when it fails, undefined when it passes. */
type Rule = (value: string) => string | undefined;

const noControl: Rule = (value) => {
  const found = CONTROL.exec(value)?.[0];
  if (found === undefined) return undefined;
  const code = `U+${found.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  return `contains the control character ${code}${code === 'U+0000' ? ' (NUL)' : ''}; vSphere names hold none: remove it`;
};

const maxLength =
  (limit: number): Rule =>
  (value) =>
    [...value].length > limit
      ? `is ${[...value].length} characters long; vSphere allows at most ${limit}: check the name (copy it from quickmig inventory)`
      : undefined;

/** `/` and `\` in a VM's name: vSphere keeps them escaped, and quickmig would read them as folders. */
const unescaped =
  (side: 'source' | 'target'): Rule =>
  (value) => {
    const found = /[/\\]/.exec(value)?.[0];
    if (found === undefined) return undefined;
    return side === 'source'
      ? `contains '${found}': vSphere stores it in a name as ${found === '/' ? '%2f' : '%5c'}, and a path is not a name; name the VM by source.inventoryPath (e.g. /DC1/vm/prod/app01) or source.moref`
      : `contains '${found}': the target's name becomes its folder on the datastore; choose a name without '/' or '\\'`;
  };

/** The target's name as a datastore folder: not `.` or `..`, and no brackets of a datastore path. */
const folderName: Rule = (value) => {
  if (value === '.' || value === '..')
    return `'${value}' would name a folder outside the VM's own on the datastore; choose a name such as app01`;
  const found = /[[\]]/.exec(value)?.[0];
  if (found !== undefined)
    return `contains '${found}': the target's name becomes its datastore path '[datastore] name/name.vmx', which brackets make ambiguous; choose a name without '[' or ']'`;
  if (value.trim() !== value)
    return 'starts or ends with a space, which a datastore folder cannot keep; remove the spaces';
  return undefined; // its length: the schema's maxLength (80) refuses first
};

/** A datastore name: no path separators, and no `] ` (the end of the name in a datastore path). */
const datastoreName: Rule = (value) => {
  const found = /[/\\]/.exec(value)?.[0];
  if (found !== undefined)
    return `contains '${found}': give the datastore's name (e.g. datastore1), not a path; quickmig inventory ENDPOINT datastores lists them`;
  if (value.includes('] '))
    return "contains '] ', which ends a datastore name in a datastore path '[name] folder'; give the datastore's name as quickmig inventory lists it";
  return undefined;
};

/** An inventory path: no `.` or `..` segment (vSphere resolves paths from the datacenter down). */
const noRelativeSegment: Rule = (value) =>
  value.split('/').some((segment) => segment === '.' || segment === '..')
    ? "holds a '.' or '..' segment; inventory paths have none: write it from the datacenter down, e.g. /DC1/vm/prod"
    : undefined;
