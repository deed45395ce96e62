/**
 * Files of the quickmig package (WSDL, schemas, the workflow sources the worker bundles), found the same
 * way whether this module runs from `src/` (vitest, tsx) or from the `dist/` build that `bin/quickmig.js`
 * runs: the nearest directory above it that holds `package.json`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`quickmig: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

/** The package's root directory (the repository root in a clone). */
export const projectRoot = findRoot();

/** A path inside the package, e.g. `packagePath('src', 'workflows', 'index.ts')`. */
export function packagePath(...segments: string[]): string {
  return join(projectRoot, ...segments);
}
