import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { labDown } from '../../src/lab/lab';
import { projectRoot } from '../../src/lab/tools';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Folder under which this test run's labs live (one run never touches another's). */
    labRoot: string;
  }
}

/** Gives the run its own lab folder, and stops and removes every lab started in it when the run ends. */
export default function setup(project: TestProject): () => Promise<void> {
  const labRoot = join(projectRoot, '.quickmig', 'test-labs', `run-${process.pid}`);
  project.provide('labRoot', labRoot);
  return async () => {
    if (!existsSync(labRoot)) return;
    await Promise.all(readdirSync(labRoot).map((name) => labDown(join(labRoot, name))));
    rmSync(labRoot, { recursive: true, force: true });
  };
}
