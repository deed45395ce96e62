#!/usr/bin/env node
// The layer table of ARCHITECTURE.md, declared once: `node scripts/layers.mjs` writes the layer lint
// (biome.json's noRestrictedImports overrides) from it; `--check` exits 1 when biome.json differs, which
// test/architecture runs. Biome matches an import's text, so a folder's rule is spelled once per depth of
// the importing file (`../vsphere` from src/planner/x.ts, `../../vsphere` from src/planner/sub/x.ts): a
// pattern spanning depths would also match a folder's own files (vsphere/transfer/ importing ../client).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folders (and root files) of src/ that the layer lint knows. */
const PARTS = [
  'cli',
  'client',
  'lab',
  'worker',
  'workflows',
  'activities',
  'planner',
  'vsphere',
  'telemetry',
  'codec',
  'config',
  'request',
  'package-root',
];
const LIBRARIES = ['config', 'request', 'package-root'];

/** Each folder of src/ with what it may import (of src/), and the words the lint says about it. */
export const LAYERS = [
  {
    folder: 'lab',
    allowed: ['activities', 'planner', 'vsphere', 'telemetry', 'codec', ...LIBRARIES],
    says: 'lab/ (operator surface) may import every layer below the worker except workflows/ and worker.ts',
  },
  {
    folder: 'client',
    allowed: ['workflows', 'activities', 'planner', 'vsphere', 'telemetry', 'codec', ...LIBRARIES],
    says: 'client/ (operator surface) may import workflows/ and below, never cli/, lab/ or worker.ts',
  },
  {
    folder: 'workflows',
    allowed: ['activities', 'planner', 'telemetry', 'request'],
    says: 'workflows/ may import activities/ (types and errors), planner/, telemetry/ and request/; never vsphere/, config/, codec/ or anything above',
  },
  {
    folder: 'activities',
    allowed: ['planner', 'vsphere', 'telemetry', 'codec', ...LIBRARIES],
    says: 'activities/ may import planner/, vsphere/, telemetry/, codec/, config/ and request/',
  },
  { folder: 'planner', allowed: ['request'], says: 'planner/ is pure: it imports request/ only' },
  { folder: 'vsphere', allowed: LIBRARIES, says: 'vsphere/ may import config/ and request/ only' },
  { folder: 'telemetry', allowed: LIBRARIES, says: 'telemetry/ may import config/ and request/ only' },
  { folder: 'codec', allowed: LIBRARIES, says: 'codec/ may import config/ and request/ only' },
  { folder: 'config', allowed: ['request', 'package-root'], says: 'config/ may import request/ only' },
  { folder: 'request', allowed: [], says: 'request/ is the bottom layer: it imports nothing else of src/' },
];

/** src/worker.ts, the wiring, imports with './'. */
const WORKER = {
  folder: 'worker',
  allowed: ['workflows', 'activities', 'planner', 'vsphere', 'telemetry', 'codec', ...LIBRARIES],
  says: 'worker.ts (wiring) may import workflows/ and below, never cli/, client/ or lab/',
};

/** Deepest folder nesting inside a layer folder that the lint covers (src/vsphere/transfer/x.ts is 2). */
const MAX_DEPTH = 3;

function rule(prefix, { folder, allowed, says }) {
  const forbidden = PARTS.filter((p) => p !== folder && !allowed.includes(p));
  const group = forbidden.flatMap((f) =>
    f === 'worker' || f === 'package-root' ? [prefix + f] : [prefix + f, `${prefix + f}/**`],
  );
  const message = `Upward or sideways import across layers (ARCHITECTURE.md): ${says}.`;
  return { style: { noRestrictedImports: { level: 'error', options: { patterns: [{ group, message }] } } } };
}

/** The overrides the table gives. */
export function layerOverrides() {
  const overrides = [{ includes: ['src/worker.ts'], linter: { rules: rule('./', WORKER) } }];
  for (const layer of LAYERS)
    for (let depth = 1; depth <= MAX_DEPTH; depth++)
      overrides.push({
        includes: [`src/${layer.folder}${'/*'.repeat(depth)}`],
        linter: { rules: rule('../'.repeat(depth), layer) },
      });
  return overrides;
}

const isLayerOverride = (o) => o.linter?.rules?.style?.noRestrictedImports !== undefined;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'biome.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  const others = config.overrides.filter((o) => !isLayerOverride(o));
  const wanted = [...others, ...layerOverrides()];
  if (process.argv.includes('--check')) {
    const same = JSON.stringify(config.overrides) === JSON.stringify(wanted);
    if (!same)
      console.error(
        'biome.json: the layer lint differs from scripts/layers.mjs; run node scripts/layers.mjs',
      );
    process.exit(same ? 0 : 1);
  }
  config.overrides = wanted;
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  // In the project's own format, so that `biome check .` (npm test) passes on the file just written.
  const biome = spawnSync('npx', ['biome', 'format', '--write', file], { stdio: 'inherit' });
  process.exit(biome.status ?? 1);
}
