/**
 * The worker image's runtime settings, read from the Dockerfile: its `ENV` lines and the node flags of its
 * `ENTRYPOINT`. The bench starts its `quickmig worker` processes with them, so that the memory figures are
 * those of the worker as deployed, and a setting changed in the image is measured by the next run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/lab/tools';

export interface ImageRuntime {
  /** The image's environment (`ENV KEY=VALUE`). */
  env: Record<string, string>;
  /** The flags between `node` and `bin/quickmig.js` in the `ENTRYPOINT`. */
  nodeArgs: string[];
}

export function imageRuntime(dockerfile = join(projectRoot, 'Dockerfile')): ImageRuntime {
  const text = readFileSync(dockerfile, 'utf8');
  const env: Record<string, string> = {};
  for (const [, key, value] of text.matchAll(/^ENV\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm)) {
    env[key as string] = (value as string).trim().replace(/^"(.*)"$/, '$1');
  }
  const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(text)?.[1];
  const argv = entry === undefined ? undefined : (JSON.parse(entry) as string[]);
  const cli = argv?.indexOf('bin/quickmig.js') ?? -1;
  if (argv === undefined || argv[0] !== 'node' || cli < 0) {
    throw new Error(`${dockerfile}: expected ENTRYPOINT ["node", ...flags, "bin/quickmig.js"]`);
  }
  return { env, nodeArgs: argv.slice(1, cli) };
}
