/**
 * deploy/compose/temporal-setup.sh, the compose job that creates the namespace and registers quickmig's
 * search attributes, run as compose runs it (`sh`, the `temporal` CLI on PATH) against a real Temporal
 * server: the lab's `temporal server start-dev`. It must leave every attribute the workflows upsert
 * registered as Keyword, succeed again on the next `up`, and stop with a non-zero exit and a message when an
 * attribute exists with another type (no `|| true`).
 */
import type { ChildProcess } from 'node:child_process';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../src/lab/processes';
import { ensureTemporal, projectRoot } from '../../src/lab/tools';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/workflows/search-attributes';

const SCRIPT = join(projectRoot, 'deploy', 'compose', 'temporal-setup.sh');
let temporal: string;
let server: ChildProcess;
let address: string;

beforeAll(async () => {
  temporal = ensureTemporal();
  const [port, uiPort, httpPort, metricsPort] = (await freePorts(4)) as [number, number, number, number];
  address = `127.0.0.1:${port}`;
  server = spawn(
    temporal,
    ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort)]
      .concat(['--http-port', String(httpPort), '--metrics-port', String(metricsPort), '--headless'])
      .concat(['--log-level', 'error']),
    { stdio: 'ignore' },
  );
});

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
});

function setup(namespace: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'sh',
      [SCRIPT],
      {
        env: {
          PATH: `${dirname(temporal)}:${process.env.PATH ?? ''}`,
          HOME: process.env.HOME ?? '/tmp',
          TEMPORAL_ADDRESS: address,
          TEMPORAL_NAMESPACE: namespace,
          // The dev server may still be starting: the script waits for its health check.
          HEALTH_ATTEMPTS: '90',
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The namespace's custom search attributes and their types, as the server reports them. */
function searchAttributes(namespace: string): Record<string, string> {
  const out = execFileSync(temporal, [
    'operator',
    'search-attribute',
    'list',
    '--address',
    address,
    '--namespace',
    namespace,
    '-o',
    'json',
  ]).toString();
  const parsed = JSON.parse(out) as
    | { customAttributes?: Record<string, string> }
    | { name: string; type: string }[];
  if (Array.isArray(parsed)) return Object.fromEntries(parsed.map((a) => [a.name, a.type]));
  return parsed.customAttributes ?? {};
}

describe('deploy/compose/temporal-setup.sh', () => {
  it('creates the namespace and registers every search attribute quickmig sets, with its type; again is a no-op', async () => {
    const first = await setup('quickmig-deploy');
    expect(first.stderr).not.toContain('temporal-setup:');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('namespace quickmig-deploy created');
    const registered = searchAttributes('quickmig-deploy');
    for (const key of SEARCH_ATTRIBUTE_KEYS)
      expect(String(registered[key.name]), key.name).toMatch(new RegExp(key.type, 'i'));

    const second = await setup('quickmig-deploy');
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('namespace quickmig-deploy exists');
    for (const key of SEARCH_ATTRIBUTE_KEYS)
      expect(second.stdout).toContain(`${key.name} (${key.type === 'BOOL' ? 'Bool' : 'Keyword'}) exists`);
  });

  it('stops with an error when an attribute exists with another type', async () => {
    execFileSync(temporal, ['operator', 'namespace', 'create', '--address', address, '--namespace', 'clash']);
    execFileSync(temporal, [
      'operator',
      'search-attribute',
      'create',
      '--address',
      address,
      '--namespace',
      'clash',
      '--name',
      'QuickmigPhase',
      '--type',
      'Text',
    ]);
    const run = await setup('clash');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      'search attribute QuickmigPhase exists with another type; quickmig needs Keyword',
    );
  });
});
