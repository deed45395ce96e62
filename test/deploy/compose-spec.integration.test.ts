/**
 * docker-compose.yml loads in compose-go, the library Docker Compose loads files with (test/deploy/compose-check,
 * a small Go program): the file follows the Compose Specification (keys, depends_on conditions, health
 * checks, configs and secrets), and what Compose reads from it is what test/deploy/compose.test.ts checks.
 * No Docker engine; Go builds the checker (its modules come from the Go module proxy once, then the cache).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/lab/tools';

const composeFile = join(projectRoot, 'docker-compose.yml');
let checker: string;

beforeAll(() => {
  checker = join(mkdtempSync(join(tmpdir(), 'quickmig-compose-check-')), 'compose-check');
  execFileSync('go', ['build', '-o', checker, '.'], {
    cwd: join(projectRoot, 'test', 'deploy', 'compose-check'),
  });
});

function check(file: string): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(checker, [file], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('docker-compose.yml in compose-go', () => {
  it('loads, with the images, the gated dependencies and the health checks the file declares', () => {
    const run = check(composeFile);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const services = JSON.parse(run.stdout) as Record<
      string,
      { image: string; dependsOn: Record<string, string>; healthCheck: boolean }
    >;
    expect(services['quickmig-worker']?.dependsOn).toEqual({
      temporal: 'service_healthy',
      'temporal-setup': 'service_completed_successfully',
    });
    expect(services.temporal?.dependsOn).toEqual({ 'temporal-schema': 'service_completed_successfully' });
    expect(services.temporal?.healthCheck).toBe(true);
    expect(services.postgresql?.healthCheck).toBe(true);
    expect(services['quickmig-worker']?.healthCheck).toBe(true);
    expect(services.temporal?.image).toMatch(/^temporalio\/server:\d+\.\d+\.\d+$/);
  });

  it('refuses a file that breaks the specification (the check can fail)', () => {
    const broken = join(mkdtempSync(join(tmpdir(), 'quickmig-compose-')), 'docker-compose.yml');
    writeFileSync(
      broken,
      readFileSync(composeFile, 'utf8').replace(
        'temporal-setup: { condition: service_completed_successfully }',
        'temporal-setup: { condition: service_finished }',
      ),
    );
    const run = check(broken);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('depends_on.temporal-setup.condition');
  });
});
