import { describe, expect, it } from 'vitest';
import type { MigrationFacts, TargetFolderFacts } from '../../src/planner/facts';
import { decidePlan } from '../../src/planner/plan';
import type { TestCopyMarker } from '../../src/planner/test-copy';
import type { MigrationRequestInput } from '../../src/request/request';
import { labFacts, request, variant } from './lab';

const esxToEsx: MigrationRequestInput = {
  source: { endpoint: 'esx-a', name: 'ir-app01' },
  target: { endpoint: 'esx-b', datastore: 'datastore1' },
};

function planWith(input: MigrationRequestInput, folders: TargetFolderFacts[], migrationId = 'plan-only') {
  const req = request(input);
  return decidePlan(
    req,
    variant(labFacts(req), (f: MigrationFacts) => {
      f.targetFolders = { migrationId, folders };
    }),
  );
}

const folder = (path: string, entries: number, owner: string | null = null): TargetFolderFacts => ({
  path,
  exists: true,
  entries,
  owner,
});

describe('target folders (what make-folders would refuse)', () => {
  it("reports a folder holding another VM's files, e.g. the source kept by an earlier round trip", () => {
    const plan = planWith(esxToEsx, [folder('[datastore1] ir-app01', 5)]);
    expect(plan.blocked).toBe(true);
    expect(plan.findings).toContainEqual({
      severity: 'error',
      code: 'target-folder-exists',
      field: 'target.datastore',
      message:
        '[datastore1] ir-app01 already exists on esx-b and holds 5 file(s) of another VM; quickmig never writes into it: set target.name to another name, choose another target.datastore, or remove the folder',
    });
  });

  it('points at target.name when the request named the VM, and checks the folder of that name', () => {
    const renamed = { ...esxToEsx, target: { ...esxToEsx.target, name: 'app-new' } };
    expect(planWith(renamed, [folder('[datastore1] ir-app01', 5)]).blocked).toBe(false);
    const plan = planWith(renamed, [folder('[datastore1] app-new', 2, 'quickmig-esx-a-other')]);
    const found = plan.findings.find((f) => f.code === 'target-folder-exists');
    expect(found?.field).toBe('target.name');
    expect(found?.message).toContain('belongs to migration quickmig-esx-a-other');
  });

  it('accepts an empty folder (adopted) and one this migration made (a retry)', () => {
    expect(planWith(esxToEsx, [folder('[datastore1] ir-app01', 0)]).blocked).toBe(false);
    const own = planWith(
      esxToEsx,
      [folder('[datastore1] ir-app01', 4, 'quickmig-esx-a-ir-app01')],
      'quickmig-esx-a-ir-app01',
    );
    expect(own.findings.map((f) => f.code)).not.toContain('target-folder-exists');
  });

  it('accepts a folder a test migration of this VM kept its disks in (reuses-test-copy), no other', () => {
    const req = request(esxToEsx);
    const vm = labFacts(req).vm;
    const marker = (migrationId: string, moref: string): TestCopyMarker => ({
      version: 1,
      migrationId,
      keptAt: '2026-12-03T13:00:00.000Z',
      source: { endpoint: 'esx-a', name: 'ir-app01', moref, instanceUuid: null },
      disks: [],
    });
    const kept = (owner: string, m: TestCopyMarker) => ({
      ...folder('[datastore1] ir-app01', 3, owner),
      test: m,
    });
    const ok = planWith(esxToEsx, [kept('test-1', marker('test-1', vm.moref))]);
    expect(ok.blocked).toBe(false);
    expect(ok.findings).toContainEqual(
      expect.objectContaining({
        severity: 'warning',
        code: 'reuses-test-copy',
        message: expect.stringContaining('the disks test migration test-1 kept'),
      }),
    );
    // A test of another VM, or a marker the folder's owner did not write: the folder is someone else's.
    for (const other of [
      kept('test-1', marker('test-1', 'vm-999')),
      kept('quickmig-x', marker('test-1', vm.moref)),
    ]) {
      const plan = planWith(esxToEsx, [other]);
      expect(plan.findings.map((f) => f.code)).toEqual(expect.arrayContaining(['target-folder-exists']));
      expect(plan.findings.map((f) => f.code)).not.toContain('reuses-test-copy');
    }
  });

  it('does not apply to vMotion, which names its folders itself', () => {
    const vmotion: MigrationRequestInput = {
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'local-esx02' },
    };
    const plan = planWith(vmotion, [folder('[local-esx02] web01', 3)]);
    expect(plan.method).toBe('vmotion');
    expect(plan.findings.map((f) => f.code)).not.toContain('target-folder-exists');
  });
});

describe('copy estimate', () => {
  it('counts the files Quick Migration copies plus the suspend state, at the stated rate', () => {
    const req = request(esxToEsx);
    const facts = labFacts(req);
    const plan = decidePlan(req, facts);
    const copied = facts.vm.files.filter(
      (f) => !['swap', 'uwswap', 'snapshotData', 'snapshotList'].includes(f.type),
    );
    const expected = copied.reduce((s, f) => s + f.size, 0) + facts.vm.memoryMiB * 2 ** 20;
    expect(plan.mode).toBe('smartswitch');
    expect(plan.estimate?.bytes).toBe(expected);
    expect(plan.estimate?.rate.source).toMatch(/default|measured/);
    expect(plan.estimate?.copyMs).toBe(Math.round((expected * 1000) / (plan.estimate?.rate.bps ?? 1)));
  });

  it('for a vMotion that only changes host, moves the memory and no disk', () => {
    const req = request({
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
    });
    const facts = labFacts(req);
    const plan = decidePlan(req, facts);
    expect(plan.method).toBe('vmotion');
    expect(plan.estimate?.bytes).toBe(facts.vm.powerState === 'poweredOn' ? facts.vm.memoryMiB * 2 ** 20 : 0);
  });
});
