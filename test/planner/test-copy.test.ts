import { describe, expect, it } from 'vitest';
import type { FileCopyPlan } from '../../src/planner/files';
import type { TestCopyMarker } from '../../src/planner/test-copy';
import { markerOfVm, parseTestMarker, withReuse } from '../../src/planner/test-copy';

const marker: TestCopyMarker = {
  version: 1,
  migrationId: 'test-app01',
  keptAt: '2026-12-03T13:00:00.000Z',
  source: { endpoint: 'esx-a', name: 'app01', moref: 'vm-12', instanceUuid: '5003-aa' },
  disks: [
    {
      key: 2000,
      changeId: '52 aa/3',
      capacityBytes: 8388608,
      descriptor: '[datastore1] app01/app01.vmdk',
      target: '[datastore1] app01/app01-flat.vmdk',
      size: 8388608,
      modified: '2026-12-03T13:00:00.123Z',
    },
  ],
};

describe('the kept test copy marker (quickmig-test.json)', () => {
  it('parses what keepTestDisks writes and refuses anything else', () => {
    expect(parseTestMarker(JSON.stringify(marker))).toEqual(marker);
    expect(parseTestMarker('not json')).toBeUndefined();
    expect(parseTestMarker(JSON.stringify({ ...marker, version: 2 }))).toBeUndefined();
    const badDisk = { ...marker, disks: [{ ...marker.disks[0], changeId: '' }] };
    expect(parseTestMarker(JSON.stringify(badDisk))).toBeUndefined();
    expect(
      parseTestMarker(JSON.stringify({ ...marker, source: { ...marker.source, moref: 1 } })),
    ).toBeUndefined();
  });

  it('names the VM by its instance UUID, else its moref, on the same endpoint', () => {
    expect(markerOfVm(marker, 'esx-a', { moref: 'vm-99', instanceUuid: '5003-aa' })).toBe(true);
    expect(markerOfVm(marker, 'esx-a', { moref: 'vm-12', instanceUuid: '5003-bb' })).toBe(false);
    expect(markerOfVm(marker, 'esx-b', { moref: 'vm-12', instanceUuid: '5003-aa' })).toBe(false);
    const noUuid = { ...marker, source: { ...marker.source, instanceUuid: null } };
    expect(markerOfVm(noUuid, 'esx-a', { moref: 'vm-12', instanceUuid: '5003-aa' })).toBe(true);
    expect(markerOfVm(noUuid, 'esx-a', { moref: 'vm-13', instanceUuid: undefined })).toBe(false);
  });

  it('marks the base extent of each disk it holds for reuse, nothing else', () => {
    const plans: FileCopyPlan[] = [
      {
        source: '[ds] app01/app01-flat.vmdk',
        target: marker.disks[0]?.target ?? '',
        size: 8388608,
        disk: { key: 2000, snapshot: 's' },
      },
      {
        source: '[ds] app01/app01_1-flat.vmdk',
        target: '[datastore1] app01/app01_1-flat.vmdk',
        size: 1,
        disk: { key: 2001, snapshot: 's' },
      },
      { source: '[ds] app01/app01.vmdk', target: '[datastore1] app01/app01.vmdk', size: 500 },
    ];
    const out = withReuse(plans, marker);
    expect(out[0]?.disk?.reuse).toEqual({
      migrationId: 'test-app01',
      changeId: '52 aa/3',
      capacityBytes: 8388608,
      target: '[datastore1] app01/app01-flat.vmdk',
      size: 8388608,
      modified: '2026-12-03T13:00:00.123Z',
    });
    expect(out[1]).toEqual(plans[1]);
    expect(out[2]).toEqual(plans[2]);
    expect(withReuse(plans, undefined)).toBe(plans);
  });
});
