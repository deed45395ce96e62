/**
 * What a migration will move and how long the copy takes, before anything moves: the bytes from the
 * VM's files, and the time at a stated rate (the same copy rate the downtime projection uses: one this
 * worker measured between the endpoints, else the datastores' default rates). Pure.
 */
import type { MigrationRequest } from '../request/request';
import type { MigrationFacts } from './facts';
import { isCopiedType } from './files';
import type { CopyEstimate, SpaceNeed } from './model';
import { downtimeInput } from './switchover';

/** The disks a vMotion moves to another datastore, and whether the host (and so the memory) changes. */
export interface VMotionMoves {
  diskKeys: readonly number[];
  hostChanges: boolean;
}

/**
 * The copy estimate. Quick Migration copies every file of the VM but the host-local ones (swap,
 * snapshot metadata), plus a suspend state the size of the memory for SmartSwitch; vMotion moves the
 * disks that change datastore (their allocated size) and, when the host changes, the running memory.
 */
export function estimateCopy(
  request: MigrationRequest,
  facts: MigrationFacts,
  method: 'vmotion' | 'quick-migration',
  mode: 'smartswitch' | 'cold' | null,
  vmotion: VMotionMoves,
  space: SpaceNeed[],
): CopyEstimate {
  const { vm } = facts;
  const memory = vm.memoryMiB * 2 ** 20;
  const running = vm.powerState === 'poweredOn';
  let bytes: number;
  let basis: string;
  if (method === 'quick-migration') {
    const files = vm.files.filter((f) => isCopiedType(f.type));
    bytes = files.reduce((sum, f) => sum + f.size, 0);
    basis = `${files.length} file(s) of ${vm.name} (disks with their snapshots, configuration, logs)`;
    if (mode === 'smartswitch' && running) {
      bytes += memory;
      basis += ' + the suspend state (its memory)';
    }
  } else {
    const disks = vm.disks.filter((d) => vmotion.diskKeys.includes(d.key));
    bytes = disks.reduce((sum, d) => sum + d.committedBytes, 0);
    basis = `${disks.length} disk(s) changing datastore`;
    if (vmotion.hostChanges && running) {
      bytes += memory;
      basis += ' + the running memory';
    }
  }
  const rate = downtimeInput(request, facts).copy;
  const copyMs = rate.bps > 0 ? Math.round((bytes * 1000) / rate.bps) : 0;
  return { bytes, basis, rate, copyMs, space };
}
