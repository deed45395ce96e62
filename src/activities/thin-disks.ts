/**
 * The disks of a `copyFiles` call that move by their allocated data (src/vsphere/transfer/thin.ts):
 * which ones may (a base extent frozen by a snapshot, change tracking in effect, thin or asked to become
 * thin), their copies one after the other with per-chunk resume, and what each reports. A disk that
 * cannot (no change tracking at the snapshot, a thick disk kept thick) goes back to the whole-file copy,
 * and its report says so and why.
 */
import type { DiskReuse } from '../planner/test-copy';
import type {
  CopyFileResult,
  MoRef,
  ThinChunkDone,
  ThinDiskReport,
  VirtualDiskType,
  VmFacts,
  VSphereClient,
} from '../vsphere';
import { copyThinDisk, FileNotFoundError, isComplete, VSphereFaultError } from '../vsphere';
import { findSnapshot } from './vm';

/** Provisioning asked for the target disks: `same` keeps each disk's own. */
export type TargetDiskType = 'same' | 'thin' | 'thick' | 'thick-eager';

/** Marks a file as the base extent of a VM disk frozen by a snapshot. */
export interface CopyDiskInput {
  /** The source VM, a moref on the source endpoint. */
  readonly vm: MoRef;
  /** Name of the snapshot that froze the disk. */
  readonly snapshot: string;
  /** The disk's device key. */
  readonly diskKey: number;
  /** The target holds this disk as a test migration left it: copy only what changed since, if still valid. */
  readonly reuse?: DiskReuse | undefined;
}

/** Whether a disk reused a test's copy and, if not, why. */
export interface DiskReuseReport {
  readonly fromMigration: string;
  readonly reused: boolean;
  readonly reason?: string | undefined;
}

/** What one disk's copy reported, for the result and the progress. */
export interface DiskCopyReport extends Omit<ThinDiskReport, 'diskType'> {
  /** Source extent. */
  readonly source: string;
  readonly target: string;
  /** Provisioning of the target disk; undefined for a whole-file copy (the source's, as copied). */
  readonly diskType: VirtualDiskType | undefined;
  /** Set when the target held a test's copy of the disk: whether only the changes since moved. */
  readonly reuse?: DiskReuseReport | undefined;
}

/** A disk that will move by its allocated areas. */
export interface ThinJob {
  /** Index of the file in the activity's input. */
  readonly index: number;
  readonly source: string;
  readonly target: string;
  readonly vm: MoRef;
  readonly snapshot: MoRef;
  readonly diskKey: number;
  readonly capacityBytes: number;
  readonly areas: readonly { start: number; length: number }[];
  readonly diskType: VirtualDiskType;
  /** The areas are the changes since a kept test copy, written over it. */
  readonly overBase: boolean;
  readonly reuse: DiskReuseReport | undefined;
}

/** The disk type VirtualDiskManager takes for a target disk. */
export function virtualDiskType(asked: TargetDiskType, sourceThin: boolean): VirtualDiskType {
  if (asked === 'thin' || (asked === 'same' && sourceThin)) return 'thin';
  return asked === 'thick-eager' ? 'eagerZeroedThick' : 'preallocated';
}

/**
 * Decides, for each marked file, whether it moves by its allocated areas; the others are returned as
 * whole-file copies with the reason in their report.
 */
export async function planThinJobs(
  source: VSphereClient,
  target: VSphereClient,
  files: readonly {
    source: string;
    target: string;
    size?: number | undefined;
    disk?: CopyDiskInput | undefined;
  }[],
  asked: TargetDiskType,
): Promise<{ jobs: ThinJob[]; fallbacks: DiskCopyReport[] }> {
  const jobs: ThinJob[] = [];
  const fallbacks: DiskCopyReport[] = [];
  const facts = new Map<string, VmFacts>();
  for (const [index, file] of files.entries()) {
    const disk = file.disk;
    if (disk === undefined) continue;
    let vm = facts.get(disk.vm.value);
    if (vm === undefined) {
      vm = await source.facts.vm(disk.vm);
      facts.set(disk.vm.value, vm);
    }
    const device = vm.disks.find((d) => d.key === disk.diskKey);
    const base = device?.chain.at(-1);
    const sourceThin = base?.thinProvisioned === true;
    const whole = (reason: string): void => {
      const size = device?.capacityBytes ?? file.size ?? 0;
      fallbacks.push({
        ...(disk.reuse
          ? {
              reuse: {
                fromMigration: disk.reuse.migrationId,
                reused: false,
                reason: `copied whole: ${reason}`,
              },
            }
          : {}),
        source: file.source,
        target: file.target,
        transport: 'whole-file',
        fallbackReason: reason,
        logicalBytes: size,
        allocatedBytes: size,
        wireBytes: 0,
        resentBytes: 0,
        chunksKept: 0,
        chunks: 0,
        rateBytesPerSec: 0,
        diskType: undefined,
      });
    };
    if (device === undefined) {
      whole(`disk ${disk.diskKey} is not on the VM any more`);
      continue;
    }
    if (!sourceThin && asked !== 'thin') {
      whole('a thick disk kept thick is copied whole');
      continue;
    }
    const snapshot = findSnapshot(vm.snapshots, disk.snapshot);
    if (snapshot === undefined) {
      whole(`snapshot ${disk.snapshot} is gone`);
      continue;
    }
    let areas: { start: number; length: number }[];
    try {
      areas = await source.disks.allocatedAreas(disk.vm, snapshot, disk.diskKey, device.capacityBytes);
    } catch (err) {
      // No change tracking at that snapshot (off, or switched on while older snapshots existed).
      if (!(err instanceof VSphereFaultError)) throw err;
      whole(`no allocated areas from change tracking: ${err.message}`);
      continue;
    }
    let reuse: DiskReuseReport | undefined;
    if (disk.reuse) {
      const kept = await keptChanges(
        source,
        target,
        disk,
        disk.reuse,
        file.target,
        snapshot,
        device.capacityBytes,
      );
      reuse = {
        fromMigration: disk.reuse.migrationId,
        reused: Array.isArray(kept),
        ...(Array.isArray(kept) ? {} : { reason: kept }),
      };
      if (Array.isArray(kept)) areas = kept;
    }
    jobs.push({
      index,
      source: file.source,
      target: file.target,
      vm: disk.vm,
      snapshot,
      diskKey: disk.diskKey,
      capacityBytes: device.capacityBytes,
      areas,
      diskType: virtualDiskType(asked, sourceThin),
      overBase: reuse?.reused === true,
      reuse,
    });
  }
  return { jobs, fallbacks };
}

/**
 * The areas changed since a test's kept copy of a disk, or why that copy cannot be built on: it must be
 * the same disk (capacity, target file), untouched since it was kept (size and modification time, from
 * the datastore browser: any write through the host updates them), and change tracking must still know
 * the changes since the test's changeId (a reset since answers a FileFault).
 */
async function keptChanges(
  source: VSphereClient,
  target: VSphereClient,
  disk: CopyDiskInput,
  kept: DiskReuse,
  targetFile: string,
  snapshot: MoRef,
  capacityBytes: number,
): Promise<{ start: number; length: number }[] | string> {
  if (kept.target !== targetFile) return `the kept copy is ${kept.target}, this disk goes to ${targetFile}`;
  if (kept.capacityBytes !== capacityBytes)
    return `the disk's capacity is ${capacityBytes} bytes, the kept copy's ${kept.capacityBytes}`;
  let info: { size: number | undefined; modified: Date | undefined };
  try {
    info = await target.files.stat(kept.target);
  } catch (err) {
    if (err instanceof FileNotFoundError) return `the kept copy ${kept.target} is gone`;
    throw err;
  }
  if (info.size !== kept.size || info.modified?.toISOString() !== kept.modified)
    return `the kept copy ${kept.target} changed since the test (size ${info.size ?? '?'}, modified ${info.modified?.toISOString() ?? '?'}; kept: ${kept.size}, ${kept.modified})`;
  try {
    return await source.disks.changedAreas(disk.vm, snapshot, disk.diskKey, capacityBytes, kept.changeId);
  } catch (err) {
    if (!(err instanceof VSphereFaultError)) throw err;
    return `change tracking does not vouch for the changes since the test (changeId ${kept.changeId}): ${err.message}`;
  }
}

/** How `runThinJobs` reports and resumes. */
export interface ThinRunContext {
  readonly verify: 'none' | 'size' | 'sha256';
  readonly signal: AbortSignal;
  /** Completed results of an earlier attempt. */
  readonly prior: readonly CopyFileResult[];
  /** Chunks an earlier attempt completed. */
  readonly chunksDone: readonly ThinChunkDone[];
  /** Bytes of the chunk an earlier attempt had in flight (sent again now). */
  readonly partialBytes: number;
  /** Data per chunk; default that of src/vsphere/transfer/thin.ts. */
  readonly chunkBytes?: number | undefined;
  onChunkDone(chunk: ThinChunkDone): void;
  onFileDone(index: number, result: CopyFileResult, report: DiskCopyReport): void;
  onProgress(report: DiskCopyReport, inFlight: number): void;
  /** True when the target still holds a completed file of the earlier attempt. */
  holds(result: CopyFileResult): Promise<boolean>;
}

/** Copies the thin jobs one after the other. */
export async function runThinJobs(
  source: VSphereClient,
  target: VSphereClient,
  jobs: readonly ThinJob[],
  ctx: ThinRunContext,
): Promise<void> {
  let partial = ctx.partialBytes;
  for (const job of jobs) {
    const earlier = ctx.prior.find((r) => r.source === job.source && r.target === job.target);
    const base = {
      source: job.source,
      target: job.target,
      transport: 'allocated-areas' as const,
      logicalBytes: job.capacityBytes,
      allocatedBytes: job.areas.reduce((n, a) => n + a.length, 0),
      diskType: job.diskType,
      ...(job.reuse ? { reuse: job.reuse } : {}),
    };
    if (earlier !== undefined && isComplete(earlier, ctx.verify) && (await ctx.holds(earlier))) {
      const report = { ...base, wireBytes: 0, resentBytes: 0, chunksKept: 0, chunks: 0, rateBytesPerSec: 0 };
      ctx.onFileDone(job.index, { ...earlier, skipped: true }, report);
      continue;
    }
    const started = performance.now();
    const result = await copyThinDisk(
      {
        client: source,
        vm: job.vm,
        snapshot: job.snapshot,
        deviceKey: job.diskKey,
        capacityBytes: job.capacityBytes,
        extent: job.source,
      },
      { client: target, path: job.target },
      {
        diskType: job.diskType,
        verify: ctx.verify,
        areas: job.areas,
        overBase: job.overBase,
        chunkBytes: ctx.chunkBytes,
        chunksDone: ctx.chunksDone,
        partialBytes: partial,
        signal: ctx.signal,
        onChunkDone: ctx.onChunkDone,
        onProgress: (p) => {
          const seconds = (performance.now() - started) / 1000;
          ctx.onProgress(
            {
              ...base,
              wireBytes: p.wireBytes,
              resentBytes: Math.min(partial, p.wireBytes),
              chunksKept: 0,
              chunks: 0,
              rateBytesPerSec: seconds > 0 ? Math.round(p.wireBytes / seconds) : 0,
            },
            p.inFlight,
          );
        },
      },
    );
    partial = 0;
    ctx.onFileDone(
      job.index,
      {
        source: job.source,
        target: job.target,
        size: job.capacityBytes,
        sha256Source: result.sha256Source,
        sha256Target: result.sha256Target,
        skipped: false,
      },
      { ...base, ...result.report, allocatedBytes: result.report.allocatedBytes },
    );
  }
}
