/**
 * The architecture of ARCHITECTURE.md, checked on the real tree: the layer lint (biome.json) rejects an
 * upward import and the Node modules in the workflow bundle, the tree passes it, no folder imports
 * another in a cycle, every file the workflow bundle pulls in is under the no-Node rule, and no source
 * file grows past the size where it starts mixing concerns.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/package-root';

const BIOME = join(projectRoot, 'node_modules', '.bin', 'biome');
const SRC = join(projectRoot, 'src');
/** Longest source file (lines); past it a file is usually two concerns (issue 14). */
const MAX_LINES = 450;

interface Diagnostic {
  category: string;
  message: string;
  location: { path: string };
}

/** Runs `biome lint` on `paths` in `cwd` and returns its diagnostics and exit status. */
function biomeLint(cwd: string, paths: string[]): { status: number | null; diagnostics: Diagnostic[] } {
  const run = spawnSync(BIOME, ['lint', '--vcs-enabled=false', '--reporter=json', ...paths], {
    cwd,
    encoding: 'utf8',
  });
  const report = JSON.parse(run.stdout) as { diagnostics: Diagnostic[] };
  return { status: run.status, diagnostics: report.diagnostics };
}

/** Lines of a text as `wc -l` counts them. */
const lineCount = (text: string): number => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);

/** Every file under `dir`, as paths relative to the project root. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(projectRoot, join(e.parentPath, e.name)));
}

/** The `src/` folder (or root file) a source file belongs to: `src/planner/plan.ts` → `planner`. */
function unitOf(file: string): string {
  const parts = relative(SRC, file).split('/');
  return parts.length > 1 ? (parts[0] as string) : (parts[0] as string).replace(/\.[cm]?[jt]s$/, '');
}

/** Relative imports of a file (values and types, static and dynamic), resolved to paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const m of text.matchAll(/\bfrom\s+['"](\.[^'"]+)['"]|\bimport\s*\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    found.push(resolve(dirname(file), (m[1] ?? m[2]) as string));
  }
  return found.filter((p) => p.startsWith(`${SRC}/`));
}

describe('layer lint', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'quickmig-layers-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('rejects an upward import and a Node module in the workflow bundle, and lets downward ones pass', () => {
    cpSync(join(projectRoot, 'biome.json'), join(scratch, 'biome.json'));
    const planted: Record<string, string> = {
      // Upward: each names a layer above (or beside) the file's own.
      'src/planner/up.ts': "import { VSphereClient } from '../vsphere';\nexport const x = VSphereClient;\n",
      'src/request/up.ts':
        "import type { WorkerConfig } from '../config/config';\nexport type X = WorkerConfig;\n",
      'src/vsphere/transfer/up.ts':
        "import type { BatchProgress } from '../../workflows/batch';\nexport type X = BatchProgress;\n",
      'src/lab/up.ts':
        "import { VM_ATTRIBUTE } from '../workflows/search-attributes';\nexport const x = VM_ATTRIBUTE;\n",
      'src/workflows/up.ts': "import { VSphereClient } from '../vsphere';\nexport const x = VSphereClient;\n",
      'src/activities/up.ts':
        "import { QuickmigClient } from '../client/migrations';\nexport const x = QuickmigClient;\n",
      'src/client/up.ts': "export const main = () => import('../cli/main');\n",
      // One level down, '../client' is the operator client; two levels down inside vsphere/, its own.
      'src/vsphere/up.ts':
        "import type { QuickmigClient } from '../client/migrations';\nexport type X = QuickmigClient;\n",
      'src/worker.ts': "import { labUp } from './lab/lab';\nexport const x = labUp;\n",
      // The workflow bundle has no Node modules.
      'src/planner/node.ts': "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
      // Downward: allowed.
      'src/vsphere/transfer/down.ts':
        "import type { VSphereClient } from '../client';\nexport type X = VSphereClient;\n",
      'src/activities/down.ts': "import { decide } from '../planner/plan';\nexport const x = decide;\n",
      'src/workflows/down.ts': "import type { X } from '../activities/vm';\nexport type Y = X;\n",
      'src/config/down.ts':
        "import { DEFAULT_TASK_QUEUE } from '../request/contract';\nexport const x = DEFAULT_TASK_QUEUE;\n",
    };
    for (const [file, text] of Object.entries(planted)) {
      mkdirSync(dirname(join(scratch, file)), { recursive: true });
      writeFileSync(join(scratch, file), text);
    }

    const { status, diagnostics } = biomeLint(scratch, ['src']);
    expect(status).not.toBe(0);
    const flagged = (category: string) =>
      [...new Set(diagnostics.filter((d) => d.category === category).map((d) => d.location.path))].sort();
    expect(flagged('lint/style/noRestrictedImports')).toEqual(
      [
        'src/activities/up.ts',
        'src/client/up.ts',
        'src/lab/up.ts',
        'src/planner/up.ts',
        'src/request/up.ts',
        'src/vsphere/transfer/up.ts',
        'src/vsphere/up.ts',
        'src/worker.ts',
        'src/workflows/up.ts',
      ].sort(),
    );
    expect(flagged('lint/correctness/noNodejsModules')).toEqual(['src/planner/node.ts']);
    const message = diagnostics.find((d) => d.location.path === 'src/planner/up.ts')?.message;
    expect(message).toContain('ARCHITECTURE.md');
    expect(message).toContain('planner/');
  });

  it('is the table of scripts/layers.mjs', () => {
    const check = spawnSync(process.execPath, [join(projectRoot, 'scripts', 'layers.mjs'), '--check'], {
      encoding: 'utf8',
    });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('passes on the real tree', () => {
    const { status, diagnostics } = biomeLint(projectRoot, ['src']);
    expect(diagnostics.filter((d) => d.category.startsWith('lint/')).map((d) => d.location.path)).toEqual([]);
    expect(status).toBe(0);
  });
});

describe('structure of src/', () => {
  const sources = filesUnder(SRC)
    .filter((f) => /\.[cm]?[jt]s$/.test(f))
    .map((f) => join(projectRoot, f));

  it('has no cycle between folders (type imports included)', () => {
    const edges = new Map<string, Set<string>>();
    for (const file of sources) {
      const from = unitOf(file);
      for (const target of importsOf(file)) {
        const to = unitOf(target);
        if (to !== from) edges.set(from, (edges.get(from) ?? new Set()).add(to));
      }
    }
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (unit: string, path: string[]): void => {
      if (state.get(unit) === 'done') return;
      if (state.get(unit) === 'open') {
        cycles.push([...path.slice(path.indexOf(unit)), unit].join(' → '));
        return;
      }
      state.set(unit, 'open');
      for (const next of edges.get(unit) ?? []) visit(next, [...path, unit]);
      state.set(unit, 'done');
    };
    for (const unit of edges.keys()) visit(unit, []);
    expect(cycles).toEqual([]);
  });

  it('puts every file of the workflow bundle under the no-Node-modules lint', async () => {
    const config = JSON.parse(readFileSync(join(projectRoot, 'biome.json'), 'utf8')) as {
      overrides: {
        includes: string[];
        linter?: { rules?: { correctness?: { noNodejsModules?: unknown } } };
      }[];
    };
    const globs = config.overrides
      .filter((o) => o.linter?.rules?.correctness?.noNodejsModules === 'error')
      .flatMap((o) => o.includes);
    const covered = (file: string) =>
      globs.some((g) => (g.endsWith('/**') ? file.startsWith(g.slice(0, -2)) : file === g));
    // What the worker bundles: the workflows and the workflow interceptor (src/worker.ts).
    const result = await build({
      entryPoints: [join(SRC, 'workflows', 'index.ts'), join(SRC, 'telemetry', 'workflow-metrics.ts')],
      bundle: true,
      write: false,
      metafile: true,
      packages: 'external',
      platform: 'neutral',
      absWorkingDir: projectRoot,
      outdir: join(projectRoot, '.quickmig', 'architecture-test'),
      logLevel: 'silent',
    });
    const bundled = Object.keys(result.metafile.inputs).filter((f) => f.startsWith('src/'));
    expect(bundled).toContain('src/workflows/quick-migration/index.ts');
    expect(bundled.filter((f) => !covered(f))).toEqual([]);
  });

  it(`has no source file over ${MAX_LINES} lines`, () => {
    const long = sources
      .map((file) => ({
        file: relative(projectRoot, file),
        lines: lineCount(readFileSync(file, 'utf8')),
      }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.file}: ${f.lines} lines`);
    expect(long).toEqual([]);
  });
});
