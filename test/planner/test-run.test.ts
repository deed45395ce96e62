/** The test migration's copy of the configuration and its .vmx edit (pure; no server). */
import { describe, expect, it } from 'vitest';
import { replaceAll } from '../../src/activities/transfer';
import type { DiskChain, VmFileRef } from '../../src/planner/files';
import { testConfigCopies, testVmName } from '../../src/planner/test-run';
import { editVmx, KEEP_IDENTITY } from '../../src/planner/vmx';

const files: VmFileRef[] = [
  { name: '[ds1] app01/app01.vmx', type: 'config', size: 900 },
  { name: '[ds1] app01/app01.nvram', type: 'nvram', size: 8684 },
  { name: '[ds1] app01/app01.vmsd', type: 'snapshotList', size: 400 },
  { name: '[ds1] app01/app01-Snapshot1.vmsn', type: 'snapshotData', size: 900 },
  { name: '[ds1] app01/app01.vmdk', type: 'diskDescriptor', size: 500 },
  { name: '[ds1] app01/app01-flat.vmdk', type: 'diskExtent', size: 2 ** 30 },
  { name: '[ds1] app01/app01-000001.vmdk', type: 'diskDescriptor', size: 500 },
  { name: '[ds1] app01/app01-000001-delta.vmdk', type: 'diskExtent', size: 4096 },
  { name: '[ds2] app01/data.vmdk', type: 'diskDescriptor', size: 500 },
  { name: '[ds2] app01/data-flat.vmdk', type: 'diskExtent', size: 2 ** 30 },
  { name: '[ds1] app01/data-000001.vmdk', type: 'diskDescriptor', size: 500 },
  { name: '[ds1] app01/data-000001-delta.vmdk', type: 'diskExtent', size: 4096 },
  { name: '[ds1] app01/vmware.log', type: 'log', size: 100 },
];
const disks: DiskChain[] = [
  {
    key: 2000,
    chain: ['[ds1] app01/app01-000001.vmdk', '[ds1] app01/app01.vmdk'],
    layoutFiles: [
      ['[ds1] app01/app01.vmdk', '[ds1] app01/app01-flat.vmdk'],
      ['[ds1] app01/app01-000001.vmdk', '[ds1] app01/app01-000001-delta.vmdk'],
    ],
  },
  {
    key: 2001,
    chain: ['[ds1] app01/data-000001.vmdk', '[ds2] app01/data.vmdk'],
    layoutFiles: [
      ['[ds2] app01/data.vmdk', '[ds2] app01/data-flat.vmdk'],
      ['[ds1] app01/data-000001.vmdk', '[ds1] app01/data-000001-delta.vmdk'],
    ],
  },
];
const layout = { folder: 'app01', configDatastore: 'tds1', diskDatastores: { 2001: 'tds2' } };

const VMX = [
  'displayName = "app01"',
  'scsi0:0.fileName = "app01-000001.vmdk"',
  'scsi0:1.fileName = "data-000001.vmdk"',
  'ethernet0.present = "TRUE"',
  'ethernet0.networkName = "VM Network"',
  'ethernet1.present = "FALSE"',
  'Ethernet2.Present = "TRUE"',
  'ethernet2.startConnected = "TRUE"',
  '',
].join('\n');

describe('testConfigCopies', () => {
  it('copies only the .vmx and the nvram, the .vmx naming the frozen base disks on the target', () => {
    const copies = testConfigCopies(files, disks, layout);
    expect(copies.map((c) => [c.source, c.target])).toEqual([
      ['[ds1] app01/app01.vmx', '[tds1] app01/app01.vmx'],
      ['[ds1] app01/app01.nvram', '[tds1] app01/app01.nvram'],
    ]);
    const vmx = copies[0];
    if (!vmx?.rewrite) throw new Error('the .vmx has no rewrite');
    const text = replaceAll({ kind: 'replace', pairs: vmx.rewrite })(VMX);
    expect(text).toContain('scsi0:0.fileName = "app01.vmdk"');
    expect(text).toContain('scsi0:1.fileName = "/vmfs/volumes/tds2/app01/data.vmdk"');
    expect(text).not.toContain('000001');
  });
});

describe('the test copy .vmx edit', () => {
  it('sets startConnected FALSE on every present adapter, and nothing without disconnectNics', () => {
    const { text } = editVmx(VMX, { set: KEEP_IDENTITY, disconnectIsoOn: [], disconnectNics: true });
    expect(text).toContain('ethernet0.startConnected = "FALSE"');
    expect(text).toContain('ethernet2.startConnected = "FALSE"');
    expect(text).not.toContain('ethernet1.startConnected');
    expect(text).not.toContain('startConnected = "TRUE"');
    expect(editVmx(VMX, { set: [], disconnectIsoOn: [] }).text).toBe(VMX);
  });

  it('names the test VM <name>-test', () => {
    expect(testVmName('app01')).toBe('app01-test');
  });
});
