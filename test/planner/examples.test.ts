import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { explainPlan } from '../../src/planner/explain';
import type { MigrationPlan } from '../../src/planner/plan';
import { decidePlan } from '../../src/planner/plan';
import { parseRequest } from '../../src/request/request';
import { labFacts } from './lab';

const dir = new URL('../../examples/', import.meta.url);

/** What each example must plan to in the lab; a new example without a row fails the first test. */
const expected: Record<string, Pick<MigrationPlan, 'method' | 'relocation' | 'mode' | 'steps'>> = {
  'vmotion.json': { method: 'vmotion', relocation: 'host', mode: null, steps: ['preflight', 'relocate'] },
  'storage-vmotion.json': {
    method: 'vmotion',
    relocation: 'datastore',
    mode: null,
    steps: ['preflight', 'relocate'],
  },
  'vmotion-and-storage-vmotion.json': {
    method: 'vmotion',
    relocation: 'host+datastore',
    mode: null,
    steps: ['preflight', 'relocate'],
  },
  'quick-migration-smartswitch.json': {
    method: 'quick-migration',
    relocation: 'host+datastore',
    mode: 'smartswitch',
    steps: [
      'preflight',
      'make-folders',
      'snapshot',
      'bulk-copy',
      'suspend',
      'delta-copy',
      'register-target',
      'resume',
      'consolidate',
      'finalize-source',
    ],
  },
  'test-migration.json': {
    method: 'quick-migration',
    relocation: 'host+datastore',
    mode: 'smartswitch',
    steps: [
      'preflight',
      'make-folders',
      'snapshot',
      'bulk-copy',
      'remove-snapshot',
      'register-test',
      'boot-test',
      'keep-test',
      'cleanup-test',
    ],
  },
  'quick-migration-cold.json': {
    method: 'quick-migration',
    relocation: 'host+datastore',
    mode: 'cold',
    steps: [
      'preflight',
      'make-folders',
      'snapshot',
      'bulk-copy',
      'stop',
      'delta-copy',
      'register-target',
      'start',
      'consolidate',
      'finalize-source',
    ],
  },
  'powered-off.json': {
    method: 'quick-migration',
    relocation: 'host+datastore',
    mode: 'cold',
    steps: [
      'preflight',
      'make-folders',
      'snapshot',
      'bulk-copy',
      'delta-copy',
      'register-target',
      'consolidate',
      'finalize-source',
    ],
  },
  'forced-quick-migration-vcenter.json': {
    method: 'quick-migration',
    relocation: 'host+datastore',
    mode: 'smartswitch',
    steps: [
      'preflight',
      'make-folders',
      'snapshot',
      'bulk-copy',
      'await-switchover',
      'suspend',
      'delta-copy',
      'register-target',
      'resume',
      'consolidate',
      'finalize-source',
    ],
  },
  'instant-recovery-finalize.json': {
    method: 'quick-migration',
    relocation: 'datastore',
    mode: 'smartswitch',
    steps: [
      'preflight',
      'make-folders',
      'snapshot',
      'bulk-copy',
      'suspend',
      'delta-copy',
      'register-target',
      'resume',
      'consolidate',
      'finalize-source',
      'finalize-ir',
    ],
  },
  'warm-migration-window.json': {
    method: 'quick-migration',
    relocation: 'host+datastore',
    mode: 'smartswitch',
    steps: [
      'preflight',
      'make-folders',
      'snapshot',
      'bulk-copy',
      'precopy',
      'await-window',
      'suspend',
      'delta-copy',
      'register-target',
      'resume',
      'consolidate',
      'finalize-source',
    ],
  },
  'instant-recovery-vcenter.json': {
    method: 'vmotion',
    relocation: 'datastore',
    mode: null,
    steps: ['preflight', 'relocate', 'finalize-ir'],
  },
};

const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('examples plan as their names say, in the lab', () => {
  it('every example has an expectation', () => {
    expect(files.sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(files)('%s', (file) => {
    const request = parseRequest(readFileSync(new URL(file, dir), 'utf8'));
    const plan = decidePlan(request, labFacts(request));
    expect(plan.findings).toEqual([]);
    expect(plan.blocked).toBe(false);
    expect({ method: plan.method, relocation: plan.relocation, mode: plan.mode, steps: plan.steps }).toEqual(
      expected[file],
    );
  });
});

describe('explainPlan', () => {
  it('renders decisions, facts and findings as lines', () => {
    const request = parseRequest(readFileSync(new URL('quick-migration-cold.json', dir), 'utf8'));
    const facts = labFacts(request);
    facts.vm.snapshotCount = 1;
    const lines = explainPlan(decidePlan(request, facts));
    expect(lines[0]).toBe('Plan for big01: Quick Migration (host+datastore) mode cold — ready');
    expect(lines).toContain('  disk Hard disk 1: datastore1 → datastore1');
    expect(lines).toContain('  [R6-mode-requested] cold migration, requested by options.mode');
    expect(lines).toContain('      facts: options.mode=cold');
    expect(lines.at(-1)).toBe(
      '  warning existing-snapshots: big01 has 1 snapshot(s); Quick Migration consolidates them, so the target VM has none',
    );
  });

  it('says BLOCKED and names the field of each error', () => {
    const request = parseRequest(readFileSync(new URL('vmotion.json', dir), 'utf8'));
    const facts = labFacts(request);
    facts.targetHost.inMaintenanceMode = true;
    const lines = explainPlan(decidePlan(request, facts));
    expect(lines[0]).toBe('Plan for web01: vMotion (host) — BLOCKED by 1 error(s)');
    expect(lines).toContain(
      '  error   host-maintenance (target.host): target host esx02.lab is in maintenance mode; exit it or choose another target.host',
    );
  });
});
