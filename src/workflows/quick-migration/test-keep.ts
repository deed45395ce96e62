/**
 * What a test migration keeps on the target for a later real migration (options.test.keepDisks): the
 * copied base disks (descriptor and extent) and the marker that says which source disk, at which
 * changeId, each holds (planner/test-copy.ts). Pure, so the workflow can call it.
 */
import type { PreparedMigration } from '../../activities/preflight';
import type { TestMarkerDraft } from '../../activities/test-copy';
import type { DiskChain, FileCopyPlan, VmFileRef } from '../../planner/files';

/** The keepTestDisks input the workflow builds: the files to keep and the marker's draft. */
export interface KeptDisks {
  keep: string[];
  marker: TestMarkerDraft;
}

/**
 * The base files of each disk with a changeId at the test snapshot (a disk without one, change tracking
 * off at the snapshot, cannot be built on and goes with the rest), and the marker naming them.
 */
export function keptDisksOf(
  prepared: PreparedMigration,
  migrationId: string,
  listed: { files: VmFileRef[]; disks: DiskChain[] },
  copies: readonly FileCopyPlan[],
  changeIds: readonly { key: number; changeId: string; capacityBytes: number }[],
): KeptDisks {
  const { source } = prepared;
  const keep: string[] = [];
  const disks: TestMarkerDraft['disks'] = [];
  for (const d of listed.disks) {
    const at = changeIds.find((c) => c.key === d.key);
    const extent = copies.find((p) => p.disk?.key === d.key);
    const descriptorName = (d.layoutFiles[0] ?? []).find(
      (n) => listed.files.find((f) => f.name === n)?.type === 'diskDescriptor',
    );
    const descriptor = copies.find((p) => p.source === descriptorName);
    if (at === undefined || extent === undefined || descriptor === undefined) continue;
    keep.push(descriptor.target, extent.target);
    disks.push({
      key: d.key,
      changeId: at.changeId,
      capacityBytes: at.capacityBytes,
      descriptor: descriptor.target,
      target: extent.target,
    });
  }
  return {
    keep,
    marker: {
      version: 1,
      migrationId,
      source: {
        endpoint: source.endpoint,
        name: source.name,
        moref: source.vm.value,
        instanceUuid: source.instanceUuid ?? null,
      },
      disks,
    },
  };
}
