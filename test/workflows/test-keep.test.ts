import { describe, expect, it } from 'vitest';
import type { PreparedMigration } from '../../src/activities/preflight';
import type { FileCopyPlan } from '../../src/planner/files';
import { keptDisksOf } from '../../src/workflows/quick-migration/test-keep';

const prepared = {
  source: {
    endpoint: 'esx-a',
    name: 'app01',
    vm: { type: 'VirtualMachine', value: 'vm-12' },
    instanceUuid: '5003-aa',
  },
} as unknown as PreparedMigration;

const listed = {
  files: [
    { name: '[ds] app01/app01.vmdk', type: 'diskDescriptor', size: 500 },
    { name: '[ds] app01/app01-flat.vmdk', type: 'diskExtent', size: 8388608 },
    { name: '[ds] app01/app01_1.vmdk', type: 'diskDescriptor', size: 500 },
    { name: '[ds] app01/app01_1-flat.vmdk', type: 'diskExtent', size: 1048576 },
  ],
  disks: [
    {
      key: 2000,
      chain: ['[ds] app01/app01-000001.vmdk', '[ds] app01/app01.vmdk'],
      layoutFiles: [['[ds] app01/app01.vmdk', '[ds] app01/app01-flat.vmdk']],
    },
    {
      key: 2001,
      chain: ['[ds] app01/app01_1-000001.vmdk', '[ds] app01/app01_1.vmdk'],
      layoutFiles: [['[ds] app01/app01_1.vmdk', '[ds] app01/app01_1-flat.vmdk']],
    },
  ],
};
const copies: FileCopyPlan[] = [
  { source: '[ds] app01/app01.vmdk', target: '[t] app01/app01.vmdk', size: 500 },
  {
    source: '[ds] app01/app01-flat.vmdk',
    target: '[t] app01/app01-flat.vmdk',
    size: 8388608,
    disk: { key: 2000, snapshot: 's' },
  },
  { source: '[ds] app01/app01_1.vmdk', target: '[t] app01/app01_1.vmdk', size: 500 },
  {
    source: '[ds] app01/app01_1-flat.vmdk',
    target: '[t] app01/app01_1-flat.vmdk',
    size: 1048576,
    disk: { key: 2001, snapshot: 's' },
  },
];

describe('what a test migration keeps for the real run', () => {
  it('keeps the base descriptor and extent of each disk with a changeId, and names them in the marker', () => {
    // Disk 2001 has no changeId at the snapshot (tracking off): it is not kept.
    const kept = keptDisksOf(prepared, 'test-1', listed, copies, [
      { key: 2000, changeId: 'e/1', capacityBytes: 8388608 },
    ]);
    expect(kept.keep).toEqual(['[t] app01/app01.vmdk', '[t] app01/app01-flat.vmdk']);
    expect(kept.marker).toEqual({
      version: 1,
      migrationId: 'test-1',
      source: { endpoint: 'esx-a', name: 'app01', moref: 'vm-12', instanceUuid: '5003-aa' },
      disks: [
        {
          key: 2000,
          changeId: 'e/1',
          capacityBytes: 8388608,
          descriptor: '[t] app01/app01.vmdk',
          target: '[t] app01/app01-flat.vmdk',
        },
      ],
    });
    expect(keptDisksOf(prepared, 'test-1', listed, copies, []).marker.disks).toEqual([]);
  });
});
