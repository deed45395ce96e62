/**
 * The installable package as another team uses it: `npm pack` (which builds lib/), the tarball installed into
 * a fresh project with npm's cache only (`npm ci --offline`, the tarball's dependencies pinned to the
 * versions of this repository's lockfile), then used from plain Node, type-checked from TypeScript with
 * `moduleResolution: nodenext`, and the example service (examples/service) run from that project against
 * the lab: it starts a migration and follows it to the report.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import { freePorts } from '../../src/lab/processes';
import { projectRoot } from '../../src/lab/tools';
import type { CliProcess } from '../cli/support';
import { labEnv, startWorkerProcess, stopProcess } from '../cli/support';
import { startPrivateLab, stopPrivateLab } from '../support/lab';
import { connect } from '../vsphere/helpers';

interface PackageJson {
  name: string;
  version: string;
  license: string;
  dependencies: Record<string, string>;
  exports: Record<string, unknown>;
  types?: string;
}
interface LockEntry {
  dev?: boolean;
  link?: boolean;
}

const manifest = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as PackageJson;
let work: string;
let app: string;
let tarball: string;

/** `npm ...` in `cwd`, its stdout; throws with npm's output on failure. */
function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function node(file: string, cwd: string): string {
  return execFileSync(process.execPath, [file], { cwd, encoding: 'utf8' });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'quickmig-pack-'));
  const packed = npm(['pack', '--pack-destination', work, '--silent'], projectRoot).trim().split('\n');
  tarball = join(work, packed.at(-1) ?? '');
  app = join(work, 'app');
  mkdirSync(app);
  // A project that depends on the tarball, locked to the dependency versions this repository was tested
  // with, so `npm ci --offline` installs it from npm's cache alone.
  const lock = JSON.parse(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { [manifest.name]: spec } },
    [`node_modules/${manifest.name}`]: {
      version: manifest.version,
      resolved: spec,
      license: manifest.license,
      dependencies: manifest.dependencies,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages))
    if (path !== '' && !entry.dev && !entry.link) packages[path] = entry;
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { [manifest.name]: spec } }),
  );
  writeFileSync(
    join(app, 'package-lock.json'),
    JSON.stringify({ name: 'app', lockfileVersion: 3, packages }),
  );
  npm(['ci', '--offline', '--no-audit', '--no-fund', '--loglevel', 'error'], app);
});

describe('the quickmig package', () => {
  it('ships a built ES module with its declarations and the JSON Schemas, importing no SDK internals', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    for (const f of [
      'lib/index.js',
      'lib/index.d.ts',
      'schema/migration-request.schema.json',
      'package.json',
    ])
      expect(files).toContain(`package/${f}`);
    const installed = join(app, 'node_modules', manifest.name);
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as PackageJson;
    expect(pkg.exports['.']).toEqual({ types: './lib/index.d.ts', default: './lib/index.js' });

    const js = readFileSync(join(installed, 'lib', 'index.js'), 'utf8');
    const imported = [...js.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*["']([^"']+)["']/gm)].map(
      (m) => m[1] ?? '',
    );
    expect(imported.length).toBeGreaterThan(3);
    for (const specifier of imported) {
      if (specifier.startsWith('node:')) continue;
      const name = specifier.startsWith('@')
        ? specifier.split('/').slice(0, 2).join('/')
        : specifier.split('/')[0];
      expect(Object.keys(manifest.dependencies), `lib/index.js imports ${specifier}`).toContain(name);
      // Public entry points only: no @temporalio/*/lib/... internals.
      expect(specifier, 'an SDK-internal import').not.toMatch(/^@temporalio\/[^/]+\/lib\//);
    }
  });

  it('works from plain Node: the client, request validation with field-level errors, the schema', () => {
    writeFileSync(
      join(app, 'plain.mjs'),
      `import { QuickmigClient, normalizeRequest, migrationIdOf, RequestValidationError } from 'quickmig';
import schema from 'quickmig/schema/migration-request.schema.json' with { type: 'json' };
const request = normalizeRequest({ source: { endpoint: 'esx-a', name: 'app01' }, target: { endpoint: 'esx-b', datastore: 'ds1' } });
let problems = [];
try { normalizeRequest({ source: { endpoint: 'esx-a', name: 'app01' }, target: { endpoint: 'esx-b' } }); }
catch (error) { if (error instanceof RequestValidationError) problems = error.problems.map((p) => p.path); }
console.log(JSON.stringify({ client: typeof QuickmigClient.connect, watch: typeof QuickmigClient.prototype.watch,
  id: migrationIdOf(request), mode: request.options.mode, problems, schema: schema.$id }));
`,
    );
    const out = JSON.parse(node('plain.mjs', app)) as Record<string, unknown>;
    expect(out).toEqual({
      client: 'function',
      watch: 'function',
      id: 'quickmig-esx-a-app01',
      mode: 'auto',
      problems: ['target.datastore'],
      schema: expect.stringMatching(/migration-request\.schema\.json$/),
    });
  });

  it('type-checks from TypeScript with moduleResolution nodenext, types included', () => {
    writeFileSync(
      join(app, 'typed.ts'),
      `import type { LiveProgress, MigrationRequestInput, MigrationResult, Mode } from 'quickmig';
import { normalizeRequest, QuickmigClient } from 'quickmig';

const request: MigrationRequestInput = { source: { endpoint: 'esx-a', name: 'app01' }, target: { endpoint: 'esx-b', datastore: 'ds1' } };
export const mode: Mode = normalizeRequest(request).options.mode;
// The types are real (not any): each of these must be an error.
// @ts-expect-error not a mode
export const wrong: Mode = 'fast';
// @ts-expect-error downtime is a number of milliseconds or null
export const downtime: MigrationResult['downtimeMs'] = 'long';

export async function follow(client: QuickmigClient): Promise<number | null> {
  const { id } = await client.start(request);
  const seen: LiveProgress[] = [];
  for await (const progress of client.watch(id)) seen.push(progress);
  return (await client.result(id)).downtimeMs;
}
`,
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['typed.ts'],
      }),
    );
    const tsc = join(projectRoot, 'node_modules', '.bin', 'tsc');
    let output = '';
    try {
      execFileSync(tsc, ['-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    expect(output).toBe('');
  });

  describe('the example service, installed from the package, against the lab', () => {
    let lab: LabInfo;
    let worker: CliProcess;
    let service: ChildProcess;
    let base: string;

    beforeAll(async () => {
      lab = await startPrivateLab('package');
      worker = await startWorkerProcess(lab);
      copyFileSync(join(projectRoot, 'examples', 'service', 'service.mjs'), join(app, 'service.mjs'));
      const [port] = (await freePorts(1)) as [number];
      base = `http://127.0.0.1:${port}`;
      service = spawn(process.execPath, ['service.mjs'], {
        cwd: app,
        env: { ...labEnv(lab), PORT: String(port) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        service.stdout?.on('data', (d: Buffer) => {
          if (d.toString().includes('example service on')) resolve();
        });
        service.once('exit', (code) => reject(new Error(`the example service exited with ${code}`)));
      });
    });

    afterAll(async () => {
      if (service && service.exitCode === null) {
        const exited = new Promise((resolve) => service.once('exit', resolve));
        service.kill('SIGTERM');
        await exited;
      }
      await stopProcess(worker);
      if (lab) await stopPrivateLab(lab.dir);
    });

    it('reports its health and refuses a bad request with the field', async () => {
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { workers: number }).workers).toBeGreaterThan(0);
      const bad = await fetch(`${base}/migrations`, {
        method: 'POST',
        body: JSON.stringify({
          source: { endpoint: 'esx-a', name: 'ir-app01' },
          target: { endpoint: 'esx-b' },
        }),
      });
      expect(bad.status).toBe(400);
      const body = (await bad.json()) as { problems: { path: string }[] };
      expect(body.problems.map((p) => p.path)).toEqual(['target.datastore']);
    });

    it('starts a migration and streams its progress to the report; the VM runs on the target', async () => {
      const started = await fetch(`${base}/migrations`, {
        method: 'POST',
        body: JSON.stringify({
          source: { endpoint: 'esx-a', name: 'ir-app01' },
          target: { endpoint: 'esx-b', datastore: 'datastore1' },
        }),
      });
      expect(started.status).toBe(202);
      const { id, events } = (await started.json()) as { id: string; events: string };
      expect(id).toBe('quickmig-esx-a-ir-app01');

      const stream = await (await fetch(`${base}${events}`)).text();
      const received = [...stream.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => ({
        event: m[1],
        data: JSON.parse(m[2] ?? 'null') as Record<string, unknown>,
      }));
      const progress = received.filter((e) => e.event === 'progress').map((e) => e.data);
      expect(progress.length).toBeGreaterThan(1);
      expect(progress.at(-1)?.status).toBe('COMPLETED');
      const last = received.at(-1);
      expect(last?.event).toBe('completed');
      expect(last?.data).toMatchObject({ method: 'quick-migration', mode: 'smartswitch' });
      expect(last?.data.downtimeMs).toBeGreaterThan(0);
      expect(last?.data.bytesCopied).toBeGreaterThanOrEqual(256 * 1024 * 1024);

      const esxB = await connect(lab, 'esx-b');
      try {
        const vm = (await esxB.inventory.listVms()).find((v) => v.name === 'ir-app01');
        if (!vm) throw new Error('ir-app01 is not on esx-b');
        expect((await esxB.facts.vm(vm.ref)).powerState).toBe('poweredOn');
      } finally {
        await esxB.close();
      }
    });
  });
});
