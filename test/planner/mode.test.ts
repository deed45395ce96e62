import { describe, expect, it } from 'vitest';
import type { MigrationFacts } from '../../src/planner/facts';
import type { StepId } from '../../src/planner/plan';
import { decidePlan } from '../../src/planner/plan';
import type { MigrationOptions } from '../../src/request/request';
import { labFacts, request, variant } from './lab';

/** ir-app01 (2 GiB, running) from esx-a to esx-b: always Quick Migration, so only the mode varies. */
function plan(
  options: Partial<MigrationOptions>,
  change: (f: MigrationFacts) => void = () => {},
  vm = 'ir-app01',
) {
  const req = request({
    source: { endpoint: 'esx-a', name: vm },
    target: { endpoint: 'esx-b', datastore: 'datastore1' },
    options,
  });
  return decidePlan(req, variant(labFacts(req), change));
}

const SMARTSWITCH_STEPS: StepId[] = [
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
];
const COLD_STEPS: StepId[] = [
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
];
const NOT_RUNNING_STEPS: StepId[] = [
  'preflight',
  'make-folders',
  'bulk-copy',
  'register-target',
  'consolidate',
  'finalize-source',
];
/** A powered-off VM with a thin disk: snapshotted for its allocated areas, still without a switchover. */
const AT_REST_STEPS: StepId[] = [
  'preflight',
  'make-folders',
  'snapshot',
  'bulk-copy',
  'delta-copy',
  'register-target',
  'consolidate',
  'finalize-source',
];

describe('Quick Migration mode (R3–R6)', () => {
  const table: {
    name: string;
    options?: Partial<MigrationOptions>;
    change?: (f: MigrationFacts) => void;
    mode: 'smartswitch' | 'cold';
    rules: string[];
  }[] = [
    { name: 'compatible CPUs, 2 GiB', mode: 'smartswitch', rules: ['R3-smartswitch'] },
    {
      name: 'exactly 8 GiB is still SmartSwitch',
      change: (f) => {
        f.vm.memoryMiB = 8192;
      },
      mode: 'smartswitch',
      rules: ['R3-smartswitch'],
    },
    {
      name: '8 GiB + 1 MiB is cold',
      change: (f) => {
        f.vm.memoryMiB = 8193;
      },
      mode: 'cold',
      rules: ['R5-cold-memory'],
    },
    {
      name: 'CPU vendor differs',
      change: (f) => {
        f.targetHost.cpuVendor = 'amd';
      },
      mode: 'cold',
      rules: ['R4-cold-cpu-incompatible'],
    },
    {
      name: 'a feature the VM uses is missing on the target',
      change: (f) => {
        delete f.targetHost.features['cpuid.AVX'];
      },
      mode: 'cold',
      rules: ['R4-cold-cpu-incompatible'],
    },
    {
      name: 'a feature the VM uses is 0 on the target',
      change: (f) => {
        f.targetHost.features['cpuid.AES'] = '0';
      },
      mode: 'cold',
      rules: ['R4-cold-cpu-incompatible'],
    },
    {
      name: 'a feature the VM does not use is missing: still compatible',
      change: (f) => {
        delete f.targetHost.features['cpuid.AVX2'];
      },
      mode: 'smartswitch',
      rules: ['R3-smartswitch'],
    },
    {
      name: 'incompatible CPUs and too much memory: both reasons',
      change: (f) => {
        f.targetHost.cpuVendor = 'amd';
        f.vm.memoryMiB = 16384;
      },
      mode: 'cold',
      rules: ['R4-cold-cpu-incompatible', 'R5-cold-memory'],
    },
    {
      name: 'a lower memoryThresholdMiB moves the boundary',
      options: { memoryThresholdMiB: 1024 },
      mode: 'cold',
      rules: ['R5-cold-memory'],
    },
    { name: 'cold requested', options: { mode: 'cold' }, mode: 'cold', rules: ['R6-mode-requested'] },
    {
      name: 'smartswitch requested',
      options: { mode: 'smartswitch' },
      mode: 'smartswitch',
      rules: ['R6-mode-requested'],
    },
  ];

  it.each(table)('$name → $mode', ({ options = {}, change, mode, rules }) => {
    const p = plan(options, change);
    expect(p.method).toBe('quick-migration');
    expect(p.mode).toBe(mode);
    expect(p.targetPowerState).toBe('poweredOn');
    expect(p.findings).toEqual([]);
    const modeRules = p.reasons.map((r) => r.rule).filter((r) => /^R[3-6]-/.test(r));
    expect(modeRules).toEqual(rules);
    expect(p.steps).toEqual(mode === 'smartswitch' ? SMARTSWITCH_STEPS : COLD_STEPS);
  });

  it('names both vendors when the vendor differs', () => {
    const p = plan({}, (f) => {
      f.targetHost.cpuVendor = 'amd';
    });
    expect(p.reasons.find((r) => r.rule === 'R4-cold-cpu-incompatible')?.decision).toBe(
      'cold migration, because CPU vendor differs (intel → amd)',
    );
  });

  it('names the missing features', () => {
    const p = plan({}, (f) => {
      delete f.targetHost.features['cpuid.AVX'];
      f.targetHost.features['cpuid.AES'] = '0';
    });
    const r = p.reasons.find((x) => x.rule === 'R4-cold-cpu-incompatible');
    expect(r?.decision).toBe(
      'cold migration, because target host esx-b.lab lacks CPU features cpuid.AES, cpuid.AVX',
    );
    expect(r?.facts.missingFeatures).toEqual(['cpuid.AES', 'cpuid.AVX']);
  });

  it('quotes memory and threshold for the memory rule', () => {
    const p = plan({}, undefined, 'big01');
    expect(p.reasons.find((r) => r.rule === 'R5-cold-memory')).toEqual({
      rule: 'R5-cold-memory',
      decision: 'cold migration, because 12288 MiB > 8192 MiB',
      facts: { memoryMiB: 12288, memoryThresholdMiB: 8192 },
    });
  });

  it('forcing smartswitch with incompatible CPUs blocks, naming the cause', () => {
    const p = plan({ mode: 'smartswitch' }, (f) => {
      f.targetHost.cpuVendor = 'amd';
    });
    expect(p.blocked).toBe(true);
    expect(p.findings).toEqual([
      {
        severity: 'error',
        code: 'smartswitch-cpu-incompatible',
        field: 'options.mode',
        message:
          'SmartSwitch cannot resume ir-app01 on esx-b.lab: CPU vendor differs (intel → amd); set options.mode to auto or cold',
      },
    ]);
  });

  it('forcing smartswitch above the memory threshold only warns', () => {
    const p = plan({ mode: 'smartswitch' }, undefined, 'big01');
    expect(p.mode).toBe('smartswitch');
    expect(p.blocked).toBe(false);
    expect(p.findings.map((f) => [f.severity, f.code, f.field])).toEqual([
      ['warning', 'smartswitch-large-memory', 'options.mode'],
    ]);
  });
});

describe('sources that are not running (R7, R8)', () => {
  it('a powered-off VM is copied cold and stays off, without a switchover; its thin disk through a snapshot', () => {
    // off01's disk holds 4 of its 16 GiB: change tracking at a snapshot gives those 4 to copy.
    const p = plan({}, undefined, 'off01');
    expect(p).toMatchObject({
      method: 'quick-migration',
      mode: 'cold',
      targetPowerState: 'poweredOff',
      findings: [],
    });
    expect(p.steps).toEqual(AT_REST_STEPS);
    expect(p.reasons.map((r) => r.rule)).toContain('R7-powered-off');
  });

  const thick = (f: MigrationFacts) => {
    for (const d of f.vm.disks) d.committedBytes = d.capacityBytes;
  };
  it.each([
    { name: 'thick disks kept as they are', options: {}, change: thick, steps: NOT_RUNNING_STEPS },
    {
      name: 'thick disks made thin',
      options: { diskType: 'thin' as const },
      change: thick,
      steps: AT_REST_STEPS,
    },
    {
      name: 'an independent disk (no snapshot possible)',
      options: {},
      change: (f: MigrationFacts) => {
        for (const d of f.vm.disks) d.diskMode = 'independent_persistent';
      },
      steps: NOT_RUNNING_STEPS,
    },
  ])('a powered-off VM with $name: steps $steps.length', ({ options, change, steps }) => {
    expect(plan(options, change, 'off01').steps).toEqual(steps);
  });

  it('a suspended VM is copied cold and stays suspended', () => {
    const p = plan({}, undefined, 'susp01');
    expect(p).toMatchObject({ mode: 'cold', targetPowerState: 'suspended', findings: [] });
    expect(p.steps).toEqual(NOT_RUNNING_STEPS);
    expect(p.reasons.find((r) => r.rule === 'R8-suspended')?.decision).toBe(
      'copy cold with the suspend state; susp01 stays suspended',
    );
  });

  it('a powered-off VM with snapshots gets them consolidated', () => {
    const p = plan(
      {},
      (f) => {
        f.vm.snapshotCount = 2;
      },
      'off01',
    );
    expect(p.steps).toEqual([
      'preflight',
      'make-folders',
      'bulk-copy',
      'register-target',
      'consolidate',
      'finalize-source',
    ]);
  });

  it('a powered-off VM ignores CPU compatibility and memory', () => {
    const p = plan(
      {},
      (f) => {
        f.targetHost.cpuVendor = 'amd';
        f.vm.memoryMiB = 65536;
      },
      'off01',
    );
    expect(p.mode).toBe('cold');
    expect(p.findings).toEqual([]);
  });

  it('a suspended VM cannot stay suspended on an incompatible CPU', () => {
    const p = plan(
      {},
      (f) => {
        f.targetHost.cpuVendor = 'amd';
      },
      'susp01',
    );
    expect(p.findings.map((f) => [f.severity, f.code])).toEqual([['error', 'suspended-cpu-incompatible']]);
    expect(p.findings[0]?.message).toContain('CPU vendor differs (intel → amd)');
  });

  it.each(['off01', 'susp01'])(
    'smartswitch requested for %s only warns: there is nothing to suspend',
    (vm) => {
      const p = plan({ mode: 'smartswitch' }, undefined, vm);
      expect(p.mode).toBe('cold');
      expect(p.findings.map((f) => [f.severity, f.code, f.field])).toEqual([
        ['warning', 'mode-not-applicable', 'options.mode'],
      ]);
    },
  );

  it('a powered-off VM on a vCenter with vMotion keeps its power state and relocates', () => {
    const req = request({
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
    });
    const p = decidePlan(
      req,
      variant(labFacts(req), (f) => {
        f.vm.powerState = 'poweredOff';
      }),
    );
    expect(p).toMatchObject({
      method: 'vmotion',
      mode: null,
      targetPowerState: 'poweredOff',
      steps: ['preflight', 'relocate'],
    });
  });
});

describe('mode with vMotion', () => {
  const web01 = {
    source: { endpoint: 'vcenter', name: 'web01' },
    target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
  } as const;

  it('a mode with method auto is ignored with a warning when vMotion is chosen', () => {
    const req = request({ ...web01, options: { mode: 'cold' } });
    const p = decidePlan(req, labFacts(req));
    expect(p.method).toBe('vmotion');
    expect(p.mode).toBeNull();
    expect(p.findings).toEqual([
      {
        severity: 'warning',
        code: 'mode-not-applicable',
        field: 'options.mode',
        message:
          "options.mode 'cold' is ignored because vMotion is used; to use it, remove it or set options.method to 'quick-migration'",
      },
    ]);
  });

  it('a mode with method vmotion contradicts and blocks', () => {
    const req = request({ ...web01, options: { method: 'vmotion', mode: 'smartswitch' } });
    const p = decidePlan(req, labFacts(req));
    expect(p.findings.map((f) => [f.severity, f.code, f.field])).toEqual([
      ['error', 'mode-not-applicable', 'options.mode'],
    ]);
  });

  it('a mode with forced quick-migration on a vCenter applies', () => {
    const req = request({ ...web01, options: { method: 'quick-migration', mode: 'cold' } });
    const p = decidePlan(req, labFacts(req));
    expect(p).toMatchObject({ method: 'quick-migration', mode: 'cold', findings: [] });
  });
});
