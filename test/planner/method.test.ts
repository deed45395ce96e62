import { describe, expect, it } from 'vitest';
import type { MigrationFacts } from '../../src/planner/facts';
import { decidePlan } from '../../src/planner/plan';
import type { MigrationRequestInput } from '../../src/request/request';
import { labFacts, request, variant } from './lab';

const web01ToEsx02: MigrationRequestInput = {
  source: { endpoint: 'vcenter', name: 'web01' },
  target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
};
const web01ToLocal01: MigrationRequestInput = {
  source: { endpoint: 'vcenter', name: 'web01' },
  target: { endpoint: 'vcenter', host: 'esx01.lab', datastore: 'local-esx01' },
};
const web01ToLocal02: MigrationRequestInput = {
  source: { endpoint: 'vcenter', name: 'web01' },
  target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'local-esx02' },
};
const esxToEsx: MigrationRequestInput = {
  source: { endpoint: 'esx-a', name: 'ir-app01' },
  target: { endpoint: 'esx-b', datastore: 'datastore1' },
};

type Change = (f: MigrationFacts) => void;
const same: Change = () => {};

describe('method and relocation (R1, R2, R9)', () => {
  const table: {
    name: string;
    input: MigrationRequestInput;
    change?: Change;
    method: 'vmotion' | 'quick-migration';
    relocation: 'host' | 'datastore' | 'host+datastore';
    because?: string;
  }[] = [
    { name: 'host-only change in one vCenter', input: web01ToEsx02, method: 'vmotion', relocation: 'host' },
    {
      name: 'datastore-only change (Storage vMotion)',
      input: web01ToLocal01,
      method: 'vmotion',
      relocation: 'datastore',
    },
    {
      name: 'host and datastore change',
      input: web01ToLocal02,
      method: 'vmotion',
      relocation: 'host+datastore',
    },
    {
      name: 'standalone ESXi to standalone ESXi',
      input: esxToEsx,
      method: 'quick-migration',
      relocation: 'host+datastore',
      because: 'source endpoint esx-a is a standalone ESXi host, not a vCenter',
    },
    {
      name: 'vCenter licence without vmotion',
      input: web01ToEsx02,
      change: (f) => {
        f.source.licenseFeatures = ['storagevmotion'];
      },
      method: 'quick-migration',
      relocation: 'host',
      because: "the licence of vcenter lacks 'vmotion'",
    },
    {
      name: 'vCenter licence without storagevmotion, datastore change',
      input: web01ToLocal01,
      change: (f) => {
        f.source.licenseFeatures = ['vmotion'];
      },
      method: 'quick-migration',
      relocation: 'datastore',
      because: "the licence of vcenter lacks 'storagevmotion'",
    },
    {
      name: 'vCenter licence without storagevmotion, host-only change still vMotion',
      input: web01ToEsx02,
      change: (f) => {
        f.source.licenseFeatures = ['VMotion'];
      },
      method: 'vmotion',
      relocation: 'host',
    },
    {
      name: 'unlicensed vCenter',
      input: web01ToLocal02,
      change: (f) => {
        f.source.licenseFeatures = [];
      },
      method: 'quick-migration',
      relocation: 'host+datastore',
      because: "the licence of vcenter lacks 'vmotion', the licence of vcenter lacks 'storagevmotion'",
    },
    {
      name: 'target host not vMotion-capable',
      input: web01ToEsx02,
      change: (f) => {
        f.targetHost.vmotion = false;
      },
      method: 'quick-migration',
      relocation: 'host',
      because: 'host esx02.lab is not vMotion-capable',
    },
    {
      name: 'source host not vMotion-capable',
      input: web01ToEsx02,
      change: (f) => {
        f.sourceHost.vmotion = false;
      },
      method: 'quick-migration',
      relocation: 'host',
      because: 'host esx01.lab is not vMotion-capable',
    },
    {
      name: 'host without Storage vMotion, datastore change',
      input: web01ToLocal01,
      change: (f) => {
        f.sourceHost.storageVMotion = false;
        f.targetHost.storageVMotion = false;
      },
      method: 'quick-migration',
      relocation: 'datastore',
      because: 'host esx01.lab does not support Storage vMotion',
    },
    {
      name: 'vMotion-incapable host does not matter for a datastore-only change',
      input: web01ToLocal01,
      change: (f) => {
        f.sourceHost.vmotion = false;
        f.targetHost.vmotion = false;
      },
      method: 'vmotion',
      relocation: 'datastore',
    },
    {
      name: 'two different vCenters',
      input: web01ToEsx02,
      change: (f) => {
        f.sameVCenter = false;
        f.target = { ...f.target, name: 'vcenter2', instanceUuid: 'vc-2222' };
      },
      method: 'quick-migration',
      relocation: 'host',
      because: 'source vcenter and target vcenter2 are not the same vCenter',
    },
    {
      name: 'forced quick-migration on a vCenter',
      input: { ...web01ToLocal02, options: { method: 'quick-migration' } },
      method: 'quick-migration',
      relocation: 'host+datastore',
    },
  ];

  it.each(table)('$name → $method ($relocation)', ({ input, change = same, method, relocation, because }) => {
    const req = request(input);
    const plan = decidePlan(req, variant(labFacts(req), change));
    expect(plan.method).toBe(method);
    expect(plan.relocation).toBe(relocation);
    expect(plan.findings).toEqual([]);
    if (because) {
      expect(plan.reasons).toContainEqual(
        expect.objectContaining({
          rule: 'R1-vmotion-available',
          decision: `Quick Migration, because ${because}`,
        }),
      );
    }
  });

  it('cites the facts it used for vMotion', () => {
    const req = request(web01ToLocal02);
    const plan = decidePlan(req, labFacts(req));
    expect(plan.reasons.find((r) => r.rule === 'R1-vmotion-available')).toEqual({
      rule: 'R1-vmotion-available',
      decision: 'vMotion + Storage vMotion: same vCenter, capable hosts, licensed',
      facts: {
        sourceKind: 'vcenter',
        sameVCenter: true,
        licenseFeatures: ['vmotion', 'storagevmotion'],
        sourceHostVMotion: true,
        targetHostVMotion: true,
        sourceHostStorageVMotion: true,
        targetHostStorageVMotion: true,
      },
    });
    expect(plan.mode).toBeNull();
    expect(plan.steps).toEqual(['preflight', 'relocate']);
  });

  it('records a forced quick-migration as R2 even though vMotion was possible', () => {
    const req = request({ ...web01ToEsx02, options: { method: 'quick-migration' } });
    const plan = decidePlan(req, labFacts(req));
    expect(plan.reasons).toContainEqual({
      rule: 'R2-method-requested',
      decision: 'Quick Migration, forced by options.method',
      facts: { 'options.method': 'quick-migration', vmotionPossible: true },
    });
    expect(plan.reasons.map((r) => r.rule)).not.toContain('R1-vmotion-available');
  });

  const impossible: { name: string; input: MigrationRequestInput; change: Change; missing: string }[] = [
    {
      name: 'standalone hosts',
      input: esxToEsx,
      change: same,
      missing: 'source endpoint esx-a is a standalone ESXi host, not a vCenter',
    },
    {
      name: 'unlicensed',
      input: web01ToEsx02,
      change: (f) => {
        f.source.licenseFeatures = [];
      },
      missing: "the licence of vcenter lacks 'vmotion'",
    },
    {
      name: 'incapable host',
      input: web01ToLocal02,
      change: (f) => {
        f.targetHost.storageVMotion = false;
      },
      missing: 'host esx02.lab does not support Storage vMotion',
    },
  ];

  it.each(impossible)(
    'method vmotion when impossible ($name) blocks, naming the missing fact',
    ({ input, change, missing }) => {
      const req = request({ ...input, options: { method: 'vmotion' } });
      const plan = decidePlan(req, variant(labFacts(req), change));
      expect(plan.method).toBe('vmotion');
      expect(plan.blocked).toBe(true);
      expect(plan.findings).toEqual([
        {
          severity: 'error',
          code: 'vmotion-impossible',
          field: 'options.method',
          message: `vMotion is impossible: ${missing}; set options.method to auto or quick-migration`,
        },
      ]);
    },
  );

  it('method vmotion when possible is planned without findings', () => {
    const req = request({ ...web01ToLocal01, options: { method: 'vmotion' } });
    const plan = decidePlan(req, labFacts(req));
    expect(plan).toMatchObject({ method: 'vmotion', relocation: 'datastore', blocked: false, findings: [] });
  });
});
