import { describe, expect, it } from 'vitest';
import type { DiskChain, VmFileRef } from '../../src/planner/files';
import {
  frozenDiskFiles,
  layoutFolders,
  layoutOf,
  planCopies,
  remainingFiles,
  rewritePairs,
  targetPathOf,
} from '../../src/planner/files';

// db01 as the lab has it after the migration's snapshot: home on local-esx02, second disk on shared-ds,
// both deltas in the home folder (where a host puts a snapshot's deltas).
const files: VmFileRef[] = [
  { name: '[local-esx02] db01/db01.vmx', type: 'config', size: 2100 },
  { name: '[local-esx02] db01/db01.nvram', type: 'nvram', size: 8684 },
  { name: '[local-esx02] db01/db01.vmsd', type: 'snapshotList', size: 400 },
  { name: '[local-esx02] db01/db01-Snapshot1.vmsn', type: 'snapshotData', size: 30_000 },
  { name: '[local-esx02] db01/db01.vmdk', type: 'diskDescriptor', size: 500 },
  { name: '[local-esx02] db01/db01-flat.vmdk', type: 'diskExtent', size: 64 << 20 },
  { name: '[local-esx02] db01/db01-000001.vmdk', type: 'diskDescriptor', size: 400 },
  { name: '[local-esx02] db01/db01-000001-delta.vmdk', type: 'diskExtent', size: 81_920 },
  { name: '[shared-ds] db01/db01_1.vmdk', type: 'diskDescriptor', size: 500 },
  { name: '[shared-ds] db01/db01_1-flat.vmdk', type: 'diskExtent', size: 32 << 20 },
  { name: '[local-esx02] db01/db01_1-000001.vmdk', type: 'diskDescriptor', size: 400 },
  { name: '[local-esx02] db01/db01_1-000001-delta.vmdk', type: 'diskExtent', size: 4096 },
  { name: '[local-esx02] db01/db01-5a1c.vswp', type: 'swap', size: 8 << 30 },
  { name: '[local-esx02] db01/vmware.log', type: 'log', size: 9000 },
];
const disks: DiskChain[] = [
  {
    key: 2000,
    chain: ['[local-esx02] db01/db01-000001.vmdk', '[local-esx02] db01/db01.vmdk'],
    layoutFiles: [
      ['[local-esx02] db01/db01.vmdk', '[local-esx02] db01/db01-flat.vmdk'],
      ['[local-esx02] db01/db01-000001.vmdk', '[local-esx02] db01/db01-000001-delta.vmdk'],
    ],
  },
  {
    key: 2001,
    chain: ['[local-esx02] db01/db01_1-000001.vmdk', '[shared-ds] db01/db01_1.vmdk'],
    layoutFiles: [
      ['[shared-ds] db01/db01_1.vmdk', '[shared-ds] db01/db01_1-flat.vmdk'],
      ['[local-esx02] db01/db01_1-000001.vmdk', '[local-esx02] db01/db01_1-000001-delta.vmdk'],
    ],
  },
];

describe('which files a Quick Migration copies when', () => {
  it('bulk phase: only the frozen base levels of every disk, never the writable deltas', () => {
    expect(frozenDiskFiles(files, disks).map((f) => f.name)).toEqual([
      '[local-esx02] db01/db01.vmdk',
      '[local-esx02] db01/db01-flat.vmdk',
      '[shared-ds] db01/db01_1.vmdk',
      '[shared-ds] db01/db01_1-flat.vmdk',
    ]);
  });

  it('switchover phase: everything not copied yet except host-local files such as swap', () => {
    const bulk = new Set(frozenDiskFiles(files, disks).map((f) => f.name));
    const rest = remainingFiles(files, bulk).map((f) => f.name);
    expect(rest).toContain('[local-esx02] db01/db01-000001-delta.vmdk');
    expect(rest).toContain('[local-esx02] db01/db01.vmx');
    expect(rest).not.toContain('[local-esx02] db01/db01-5a1c.vswp');
    // the migration's snapshot metadata stays behind: the target consolidates every delta
    expect(rest).not.toContain('[local-esx02] db01/db01.vmsd');
    expect(rest).not.toContain('[local-esx02] db01/db01-Snapshot1.vmsn');
    expect(rest.filter((r) => bulk.has(r))).toEqual([]);
  });
});

describe('where files land and how references are rewritten', () => {
  const plan = {
    targetName: 'db01',
    configDatastore: 'datastore1',
    disks: [
      { key: 2000, to: 'datastore1' },
      { key: 2001, to: 'datastore2' },
    ],
  };
  const layout = layoutOf(plan);

  it('puts each disk on its datastore and everything else in the home folder', () => {
    expect(layoutFolders(layout)).toEqual(['[datastore1] db01', '[datastore2] db01']);
    expect(targetPathOf('[shared-ds] db01/db01_1-flat.vmdk', disks, layout)).toBe(
      '[datastore2] db01/db01_1-flat.vmdk',
    );
    expect(targetPathOf('[local-esx02] db01/db01_1-000001-delta.vmdk', disks, layout)).toBe(
      '[datastore2] db01/db01_1-000001-delta.vmdk',
    );
    expect(targetPathOf('[local-esx02] db01/db01.nvram', disks, layout)).toBe('[datastore1] db01/db01.nvram');
  });

  it('rewrites the .vmx: a disk that leaves the home folder gets an absolute path, an absolute one a new one', () => {
    const [vmx] = planCopies([files[0] as VmFileRef], files, disks, layout);
    const apply = (text: string) =>
      (vmx?.rewrite ?? []).reduce((t, [from, to]) => t.split(from).join(to), text);
    const before = [
      'scsi0:0.fileName = "db01-000001.vmdk"',
      'scsi0:1.fileName = "db01_1-000001.vmdk"',
      'nvram = "db01.nvram"',
    ].join('\n');
    expect(apply(before)).toBe(
      [
        'scsi0:0.fileName = "db01-000001.vmdk"',
        'scsi0:1.fileName = "/vmfs/volumes/datastore2/db01/db01_1-000001.vmdk"',
        'nvram = "db01.nvram"',
      ].join('\n'),
    );
  });

  it('rewrites a delta descriptor parent that pointed at another datastore to the disk folder it now shares', () => {
    const pairs = rewritePairs(
      { source: '[local-esx02] db01/db01_1-000001.vmdk', target: '[datastore2] db01/db01_1-000001.vmdk' },
      [{ source: '[shared-ds] db01/db01_1.vmdk', target: '[datastore2] db01/db01_1.vmdk' }],
      { 'shared-ds': 'ds:///vmfs/volumes/5f0c-33aa/' },
    );
    expect(pairs).toEqual([
      ['"/vmfs/volumes/shared-ds/db01/db01_1.vmdk"', '"db01_1.vmdk"'],
      ['"/vmfs/volumes/5f0c-33aa/db01/db01_1.vmdk"', '"db01_1.vmdk"'],
    ]);
  });

  it('keeps relative references of a VM that moves whole, and makes absolute ones point at the new folder', () => {
    const whole = layoutOf({
      targetName: 'db01',
      configDatastore: 'datastore1',
      disks: [{ key: 2000, to: 'datastore1' }],
    });
    const single = files.filter((f) => f.name.startsWith('[local-esx02]'));
    const vmx = planCopies(single, single, [disks[0] as DiskChain], whole).find((c) =>
      c.source.endsWith('db01.vmx'),
    );
    const apply = (text: string) =>
      (vmx?.rewrite ?? []).reduce((t, [from, to]) => t.split(from).join(to), text);
    expect(apply('scsi0:0.fileName = "db01-000001.vmdk"')).toBe('scsi0:0.fileName = "db01-000001.vmdk"');
    expect(apply('scsi0:0.fileName = "/vmfs/volumes/local-esx02/db01/db01-000001.vmdk"')).toBe(
      'scsi0:0.fileName = "db01-000001.vmdk"',
    );
  });

  it('reads datastore names with brackets as vSphere writes them (the one datastore-path parser)', () => {
    const layout = layoutOf({ targetName: 'db01', configDatastore: 'ds (new)', disks: [] });
    const vmx = {
      source: '[vPower[1]] db01/db01.vmx',
      target: targetPathOf('[vPower[1]] db01/db01.vmx', [], layout),
    };
    expect(vmx.target).toBe('[ds (new)] db01/db01.vmx');
    const disk = { source: '[vPower[1]] db01/db01.vmdk', target: '[ds (new)] db01/db01.vmdk' };
    expect(rewritePairs(vmx, [disk])).toEqual([['"/vmfs/volumes/vPower[1]/db01/db01.vmdk"', '"db01.vmdk"']]);
  });
});
