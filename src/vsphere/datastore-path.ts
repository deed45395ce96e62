/**
 * Datastore paths in the datastore HTTP file API. The path model itself (parse, format, join) is the
 * request layer's (src/request/datastore-path.ts), shared with the planner.
 */
import type { DatastorePath } from '../request/datastore-path';

export {
  type DatastorePath,
  datastorePathBase,
  datastorePathDir,
  formatDatastorePath,
  joinDatastorePath,
  parseDatastorePath,
  toDatastorePath,
} from '../request/datastore-path';

/**
 * The file API URL of a datastore path: `<origin>/folder/<path>?dcPath=<dc>&dsName=<ds>`.
 * Each path segment and both query values are percent-encoded (space as %20, not +), so any
 * character vSphere allows in a name survives.
 */
export function datastoreFileUrl(sdkUrl: string, p: DatastorePath, datacenterPath: string): URL {
  const origin = new URL(sdkUrl).origin;
  const encodedPath = p.path
    .split('/')
    .filter((s) => s !== '')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
  const query = `dcPath=${encodeURIComponent(datacenterPath)}&dsName=${encodeURIComponent(p.datastore)}`;
  return new URL(`${origin}/folder/${encodedPath}?${query}`);
}
