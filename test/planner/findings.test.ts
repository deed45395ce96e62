import { describe, expect, it } from 'vitest';
import type { MigrationFacts } from '../../src/planner/facts';
import type { Finding } from '../../src/planner/plan';
import { decidePlan } from '../../src/planner/plan';
import type { MigrationRequestInput } from '../../src/request/request';
import { GiB, labFacts, request, variant } from './lab';

type Change = (f: MigrationFacts) => void;

function plan(input: MigrationRequestInput, change: Change = () => {}) {
  const req = request(input);
  return decidePlan(req, variant(labFacts(req), change));
}

const vmotionWeb01: MigrationRequestInput = {
  source: { endpoint: 'vcenter', name: 'web01' },
  target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'local-esx02' },
};
const quickWeb01: MigrationRequestInput = { ...vmotionWeb01, options: { method: 'quick-migration' } };
const esxToEsx: MigrationRequestInput = {
  source: { endpoint: 'esx-a', name: 'ir-app01' },
  target: { endpoint: 'esx-b', datastore: 'datastore1' },
};

describe('blocking findings', () => {
  const table: { name: string; input: MigrationRequestInput; change?: Change; finding: Finding }[] = [
    {
      name: 'same source and target',
      input: {
        source: { endpoint: 'vcenter', name: 'web01' },
        target: { endpoint: 'vcenter', datastore: 'shared-ds' },
      },
      finding: {
        severity: 'error',
        code: 'nothing-to-do',
        field: 'target',
        message:
          'web01 already runs on host esx01.lab with its files on shared-ds: nothing to migrate; change target.host or target.datastore',
      },
    },
    {
      name: 'not enough free space (Quick Migration counts disks, configuration and swap)',
      input: esxToEsx,
      change: (f) => {
        const ds = f.targetDatastores.find((d) => d.name === 'datastore1');
        if (ds) ds.freeBytes = 5 * GiB;
      },
      finding: {
        severity: 'error',
        code: 'datastore-space',
        field: 'target.datastore',
        message:
          "datastore 'datastore1' needs 8.0 GiB (the disks as allocated now, options.diskType same) but has 5.0 GiB free; free space or choose another datastore",
      },
    },
    {
      name: 'inaccessible datastore',
      input: vmotionWeb01,
      change: (f) => {
        for (const d of f.targetDatastores) d.accessible = false;
      },
      finding: {
        severity: 'error',
        code: 'datastore-inaccessible',
        field: 'target.datastore',
        message: "datastore 'local-esx02' is not accessible; fix its storage or choose another datastore",
      },
    },
    {
      name: 'datastore not mounted on the target host',
      input: {
        ...vmotionWeb01,
        target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'local-esx01' },
      },
      finding: {
        severity: 'error',
        code: 'datastore-not-mounted',
        field: 'target.datastore',
        message:
          "datastore 'local-esx01' is not mounted on target host esx02.lab; choose a datastore that host sees",
      },
    },
    {
      name: 'unknown datastore',
      input: { ...esxToEsx, target: { endpoint: 'esx-b', datastore: 'IR-NFS' } },
      finding: {
        severity: 'error',
        code: 'datastore-not-found',
        field: 'target.datastore',
        message: "datastore 'IR-NFS' does not exist on esx-b; choose one of datastore1",
      },
    },
    {
      name: 'name collision on the target',
      input: { ...esxToEsx, target: { endpoint: 'esx-b', datastore: 'datastore1', name: 'app' } },
      change: (f) => {
        f.targetVmNames.push('app');
      },
      finding: {
        severity: 'error',
        code: 'name-collision',
        field: 'target.name',
        message: "a VM named 'app' already exists on the target; set target.name to a free name",
      },
    },
    {
      name: 'SCSI bus sharing',
      input: vmotionWeb01,
      change: (f) => {
        for (const d of f.vm.disks) d.busSharing = 'physicalSharing';
      },
      finding: {
        severity: 'error',
        code: 'unsupported-bus-sharing',
        message:
          'Hard disk 1 sits on a SCSI controller with physicalSharing (clustered VM); remove the bus sharing or migrate it by hand',
      },
    },
    {
      name: 'multi-writer disk',
      input: quickWeb01,
      change: (f) => {
        for (const d of f.vm.disks) d.sharing = 'sharingMultiWriter';
      },
      finding: {
        severity: 'error',
        code: 'unsupported-multi-writer',
        message: 'Hard disk 1 is shared multi-writer with another VM; migrate it by hand',
      },
    },
    {
      name: 'physical RDM (even for vMotion)',
      input: vmotionWeb01,
      change: (f) => {
        for (const d of f.vm.disks) d.rdm = 'physical';
      },
      finding: {
        severity: 'error',
        code: 'unsupported-rdm-physical',
        message: 'Hard disk 1 is a physical-mode RDM; convert it or migrate it by hand',
      },
    },
    {
      name: 'virtual RDM with Quick Migration',
      input: quickWeb01,
      change: (f) => {
        for (const d of f.vm.disks) d.rdm = 'virtual';
      },
      finding: {
        severity: 'error',
        code: 'unsupported-rdm-virtual',
        message:
          'Hard disk 1 is a virtual-mode RDM, which Quick Migration cannot copy; use vMotion or convert it to a virtual disk',
      },
    },
    {
      name: 'independent disk with Quick Migration',
      input: esxToEsx,
      change: (f) => {
        for (const d of f.vm.disks) d.diskMode = 'independent_persistent';
      },
      finding: {
        severity: 'error',
        code: 'unsupported-independent-disk',
        message:
          'Hard disk 1 is independent_persistent and cannot be snapshotted, so Quick Migration cannot copy it; make it dependent or use vMotion',
      },
    },
    {
      name: 'VM not connected',
      input: vmotionWeb01,
      change: (f) => {
        f.vm.connectionState = 'orphaned';
      },
      finding: {
        severity: 'error',
        code: 'vm-not-connected',
        field: 'source',
        message: 'web01 is orphaned; fix it in vSphere first',
      },
    },
    {
      name: 'a template',
      input: esxToEsx,
      change: (f) => {
        f.vm.template = true;
      },
      finding: {
        severity: 'error',
        code: 'source-is-template',
        field: 'source',
        message: expect.stringMatching(
          /^\S+ is a template, not a VM; quickmig moves VMs: convert it to a VM first/,
        ),
      },
    },
    {
      name: 'source host disconnected',
      input: esxToEsx,
      change: (f) => {
        f.sourceHost.connectionState = 'disconnected';
      },
      finding: {
        severity: 'error',
        code: 'host-disconnected',
        message: 'source host esx-a.lab is disconnected; reconnect it or choose another host',
      },
    },
    {
      name: 'target host not responding',
      input: esxToEsx,
      change: (f) => {
        f.targetHost.connectionState = 'notResponding';
      },
      finding: {
        severity: 'error',
        code: 'host-disconnected',
        field: 'target.host',
        message: 'target host esx-b.lab is notResponding; reconnect it or choose another host',
      },
    },
    {
      name: 'target host in maintenance mode',
      input: vmotionWeb01,
      change: (f) => {
        f.targetHost.inMaintenanceMode = true;
      },
      finding: {
        severity: 'error',
        code: 'host-maintenance',
        field: 'target.host',
        message: 'target host esx02.lab is in maintenance mode; exit it or choose another target.host',
      },
    },
    {
      name: 'delete when the VM stays off (no heartbeat possible)',
      input: { ...esxToEsx, source: { endpoint: 'esx-a', name: 'off01' }, options: { source: 'delete' } },
      finding: {
        severity: 'error',
        code: 'delete-needs-heartbeat',
        field: 'options.source',
        message:
          "options.source 'delete' waits for a guest heartbeat, but off01 stays poweredOff; use 'keep'",
      },
    },
    {
      name: 'delete without VMware Tools',
      input: { ...esxToEsx, options: { source: 'delete' } },
      change: (f) => {
        f.vm.guestHeartbeat = false;
      },
      finding: {
        severity: 'error',
        code: 'delete-needs-heartbeat',
        field: 'options.source',
        message:
          "options.source 'delete' waits for a guest heartbeat, but ir-app01 reports none (VMware Tools not running); use 'keep'",
      },
    },
    {
      name: 'disk index out of range',
      input: {
        ...esxToEsx,
        target: { endpoint: 'esx-b', datastore: 'datastore1', disks: [{ index: 3, datastore: 'x' }] },
      },
      finding: {
        severity: 'error',
        code: 'disk-not-found',
        field: 'target.disks[0]',
        message: "no disk with index 3; the VM's disks are 0: Hard disk 1",
      },
    },
    {
      name: 'disk placed twice (by index and by label)',
      input: {
        ...esxToEsx,
        target: {
          endpoint: 'esx-b',
          datastore: 'datastore1',
          disks: [
            { index: 0, datastore: 'datastore1' },
            { label: 'Hard disk 1', datastore: 'datastore1' },
          ],
        },
      },
      finding: {
        severity: 'error',
        code: 'disk-placed-twice',
        field: 'target.disks[1]',
        message: 'Hard disk 1 is already placed by target.disks[0]; keep one entry',
      },
    },
    {
      name: 'migrating onto the instant-recovery datastore',
      input: {
        source: { endpoint: 'esx-a', name: 'ir-app01' },
        target: {
          endpoint: 'esx-a',
          datastore: 'datastore1',
          disks: [{ label: 'Hard disk 1', datastore: 'IR-NFS' }],
        },
      },
      finding: {
        severity: 'error',
        code: 'target-is-instant-recovery',
        field: 'target.datastore',
        message:
          'IR-NFS is the instant-recovery datastore; choose production storage for target.datastore and target.disks',
      },
    },
  ];

  it.each(table)('$name', ({ input, change, finding }) => {
    const p = plan(input, change);
    expect(p.findings).toEqual([finding]);
    expect(p.blocked).toBe(true);
  });

  it('counts the space per datastore when disks are split', () => {
    // db01: Hard disk 1 (12 GiB used) stays on shared-ds; Hard disk 2 (30 GiB used) goes to local-esx02.
    const input: MigrationRequestInput = {
      source: { endpoint: 'vcenter', name: 'db01' },
      target: {
        endpoint: 'vcenter',
        host: 'esx02.lab',
        datastore: 'shared-ds',
        disks: [{ index: 1, datastore: 'local-esx02' }],
      },
    };
    const tight: Change = (f) => {
      const ds = f.targetDatastores.find((d) => d.name === 'local-esx02');
      if (ds) ds.freeBytes = 20 * GiB;
    };
    expect(plan(input, tight).findings).toEqual([
      {
        severity: 'error',
        code: 'datastore-space',
        field: 'target.disks[0].datastore',
        message:
          "datastore 'local-esx02' needs 30.0 GiB (the disks as allocated now, options.diskType same) but has 20.0 GiB free; free space or choose another datastore",
      },
    ]);
    // thick provisioning needs the full 60 GiB capacity
    const thick = plan({ ...input, options: { diskType: 'thick' } }, (f) => {
      const ds = f.targetDatastores.find((d) => d.name === 'local-esx02');
      if (ds) ds.freeBytes = 50 * GiB;
    });
    expect(thick.findings.map((f) => f.message)).toEqual([
      "datastore 'local-esx02' needs 60.0 GiB (every disk at its full capacity, options.diskType thick) but has 50.0 GiB free; free space or choose another datastore",
    ]);
  });

  it('vMotion needs no space for a host-only move; Quick Migration copies everything', () => {
    const input: MigrationRequestInput = {
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
    };
    const full: Change = (f) => {
      for (const d of f.targetDatastores) d.freeBytes = 0;
    };
    expect(plan(input, full).findings).toEqual([]);
    expect(
      plan({ ...input, options: { method: 'quick-migration' } }, full).findings.map((f) => f.code),
    ).toEqual(['datastore-space']);
  });

  it('reports every problem at once', () => {
    const p = plan(esxToEsx, (f) => {
      f.targetHost.inMaintenanceMode = true;
      f.targetVmNames.push('ir-app01');
      for (const d of f.targetDatastores) d.mountedOnTargetHost = false;
    });
    expect(p.findings.map((f) => f.code)).toEqual([
      'host-maintenance',
      'datastore-not-mounted',
      'name-collision',
    ]);
  });
});

describe('configurations that only Quick Migration refuses', () => {
  const changes: [string, Change][] = [
    [
      'independent disk',
      (f) => {
        for (const d of f.vm.disks) d.diskMode = 'independent_persistent';
      },
    ],
    [
      'virtual RDM',
      (f) => {
        for (const d of f.vm.disks) d.rdm = 'virtual';
      },
    ],
  ];
  it.each(changes)('%s is fine for vMotion', (_name, change) => {
    const p = plan(vmotionWeb01, change);
    expect(p.method).toBe('vmotion');
    expect(p.findings).toEqual([]);
  });
});

describe('warnings', () => {
  const table: {
    name: string;
    input: MigrationRequestInput;
    change?: Change;
    code: string;
    field?: string;
  }[] = [
    {
      name: 'consolidation needed',
      input: vmotionWeb01,
      change: (f) => {
        f.vm.consolidationNeeded = true;
      },
      code: 'consolidation-needed',
    },
    {
      name: 'existing snapshots with Quick Migration',
      input: esxToEsx,
      change: (f) => {
        f.vm.snapshotCount = 3;
      },
      code: 'existing-snapshots',
    },
    {
      name: 'vMotion cannot rename',
      input: { ...vmotionWeb01, target: { ...vmotionWeb01.target, name: 'web01-new' } },
      code: 'rename-ignored',
      field: 'target.name',
    },
    {
      name: 'diskType without a datastore change',
      input: {
        source: { endpoint: 'vcenter', name: 'web01' },
        target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
        options: { diskType: 'thin' },
      },
      code: 'disk-type-ignored',
      field: 'options.diskType',
    },
    {
      name: 'source delete with vMotion',
      input: { ...vmotionWeb01, options: { source: 'delete' } },
      code: 'source-not-applicable',
      field: 'options.source',
    },
    {
      name: 'manual switchover for a powered-off VM',
      input: { ...esxToEsx, source: { endpoint: 'esx-a', name: 'off01' }, options: { switchover: 'manual' } },
      code: 'switchover-not-applicable',
      field: 'options.switchover',
    },
    {
      name: 'finalize IR for a VM that does not run from IR',
      input: { ...quickWeb01, options: { finalizeInstantRecovery: true } },
      code: 'not-instant-recovery',
      field: 'options.finalizeInstantRecovery',
    },
  ];

  it.each(table)('$name', ({ input, change, code, field }) => {
    const p = plan(input, change);
    expect(p.blocked).toBe(false);
    expect(p.findings).toEqual([
      expect.objectContaining({ severity: 'warning', code, ...(field ? { field } : {}) }),
    ]);
  });

  it('existing snapshots warning names the count and the consequence', () => {
    const p = plan(esxToEsx, (f) => {
      f.vm.snapshotCount = 3;
    });
    expect(p.findings[0]?.message).toBe(
      'ir-app01 has 3 snapshot(s); Quick Migration consolidates them, so the target VM has none',
    );
  });
});

describe('switchover', () => {
  it('manual switchover waits for approval right before the source is suspended', () => {
    const p = plan({ ...esxToEsx, options: { switchover: 'manual' } });
    expect(p.steps.slice(3, 6)).toEqual(['bulk-copy', 'await-switchover', 'suspend']);
  });

  it('manual switchover with vMotion waits before relocating', () => {
    const p = plan({ ...vmotionWeb01, options: { switchover: 'manual' } });
    expect(p.steps).toEqual(['preflight', 'await-switchover', 'relocate']);
  });
});

describe('instant recovery (R11)', () => {
  const finalize: MigrationRequestInput = {
    source: { endpoint: 'esx-a', name: 'ir-app01' },
    target: { endpoint: 'esx-a', datastore: 'datastore1' },
    options: { finalizeInstantRecovery: true, source: 'delete' },
  };

  it('unmounts the IR datastore last', () => {
    const p = plan(finalize);
    expect(p.findings).toEqual([]);
    expect(p.steps.at(-2)).toBe('finalize-source');
    expect(p.steps.at(-1)).toBe('finalize-ir');
    expect(p.reasons.find((r) => r.rule === 'R11-instant-recovery')).toEqual({
      rule: 'R11-instant-recovery',
      decision: 'unmount IR-NFS after the migration',
      facts: {
        datastore: 'IR-NFS',
        remote: 'vbr01.lab:/VeeamBackup_vbr01',
        evidence: ['looks like vPower NFS'],
        otherVms: [],
      },
    });
  });

  it('warns when other VMs still use the IR datastore and unmounts only if they are gone', () => {
    const p = plan(finalize, (f) => {
      if (f.instantRecovery) f.instantRecovery.otherVms = ['ir-app02'];
    });
    expect(p.steps.at(-1)).toBe('finalize-ir');
    expect(p.findings).toEqual([
      {
        severity: 'warning',
        code: 'ir-datastore-in-use',
        message: 'IR-NFS is also used by ir-app02; it stays mounted until they are migrated',
      },
    ]);
  });

  it('an NFS datastore that neither looks like vPower nor is flagged is not instant recovery', () => {
    const p = plan(finalize, (f) => {
      if (f.instantRecovery) f.instantRecovery.looksLikeVPowerNfs = false;
    });
    expect(p.steps).not.toContain('finalize-ir');
    expect(p.findings.map((f) => f.code)).toEqual(['not-instant-recovery']);
  });

  it('a flagged datastore counts as instant recovery', () => {
    const p = plan(finalize, (f) => {
      if (f.instantRecovery) {
        f.instantRecovery.looksLikeVPowerNfs = false;
        f.instantRecovery.flagged = true;
      }
    });
    expect(p.steps.at(-1)).toBe('finalize-ir');
  });

  it('without finalizeInstantRecovery the datastore stays mounted, and the reason says so', () => {
    const p = plan({ ...finalize, options: {} });
    expect(p.steps).not.toContain('finalize-ir');
    expect(p.reasons.find((r) => r.rule === 'R11-instant-recovery')?.decision).toBe(
      'IR-NFS stays mounted (options.finalizeInstantRecovery is false)',
    );
  });
});
