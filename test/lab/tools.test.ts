import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LabError } from '../../src/lab/errors';
import {
  ensureTemporal,
  ensureVcsim,
  launcherVersion,
  TEMPORAL_CLI_VERSION,
  toolCacheDir,
} from '../../src/lab/tools';

function emptyEnv(): NodeJS.ProcessEnv {
  const base = mkdtempSync(join(tmpdir(), 'quickmig-tools-'));
  mkdirSync(join(base, 'bin'));
  return { XDG_CACHE_HOME: join(base, 'cache'), PATH: join(base, 'bin'), HOME: base };
}

describe('tool bootstrap', () => {
  it('keeps the cache in the user cache directory, keyed by version', () => {
    const env = emptyEnv();
    expect(toolCacheDir(env)).toBe(join(env.XDG_CACHE_HOME as string, 'quickmig', 'tools'));
    expect(launcherVersion()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('says what to install when there is neither Go nor a cached binary', () => {
    const env = emptyEnv();
    for (const build of [ensureTemporal, ensureVcsim]) {
      expect(() => build(env)).toThrow(LabError);
      expect(() => build(env)).toThrow(
        /Install Go 1\.25 or newer \(the temporal CLI and the launcher need it; https:\/\/go\.dev\/dl\/\)/,
      );
    }
  });

  it('uses cached binaries without Go, and a temporal of the right version on PATH as is', () => {
    const env = emptyEnv();
    const cache = toolCacheDir(env);
    for (const [dir, name] of [
      [`temporal-v${TEMPORAL_CLI_VERSION}`, 'temporal'],
      [`quickmig-vcsim-${launcherVersion()}`, 'quickmig-vcsim'],
    ] as const) {
      mkdirSync(join(cache, dir), { recursive: true });
      writeFileSync(join(cache, dir, name), '');
    }
    expect(ensureTemporal(env)).toBe(join(cache, `temporal-v${TEMPORAL_CLI_VERSION}`, 'temporal'));
    expect(ensureVcsim(env)).toBe(join(cache, `quickmig-vcsim-${launcherVersion()}`, 'quickmig-vcsim'));

    const onPath = join(env.PATH as string, 'temporal');
    writeFileSync(
      onPath,
      `#!/bin/sh\necho "temporal version ${TEMPORAL_CLI_VERSION} (Server 1.29.1, UI 2.42.1)"\n`,
    );
    chmodSync(onPath, 0o755);
    expect(ensureTemporal(env)).toBe(onPath);
    writeFileSync(onPath, '#!/bin/sh\necho "temporal version 1.1.0 (Server 1.27.0, UI 2.36.0)"\n');
    expect(ensureTemporal(env)).toBe(join(cache, `temporal-v${TEMPORAL_CLI_VERSION}`, 'temporal'));
  });
});
