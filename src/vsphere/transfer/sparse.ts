/**
 * @internal The hosted sparse extent format (VMware Virtual Disk Format 1.1, "Hosted Sparse Extents":
 * a `SparseExtentHeader` with magic `KDMV`, a grain directory, grain tables, then 64 KiB grains), written
 * as a stream: the grains are known before the first byte (the allocated areas), so the header and the
 * tables go first and the grains follow in disk order, read straight from the source. And the plan that
 * cuts a disk's allocated grains into chunks, one extent file each, so a copy resumes per chunk.
 */

/** Bytes per grain (128 sectors), the format's default and change tracking's usual block. */
export const GRAIN_BYTES = 64 * 1024;
const SECTOR = 512;
const GRAIN_SECTORS = GRAIN_BYTES / SECTOR;
/** Grain table entries per table, the format's fixed value. */
const GTES_PER_GT = 512;
const MAGIC = 0x564d444b;

/** A byte range of a disk, [start, end). */
export interface Run {
  readonly start: number;
  readonly end: number;
}

/** One extent file of a copy: a logical range of the disk and the grain runs in it. */
export interface ChunkPlan {
  /** 0-based. */
  readonly index: number;
  /** The logical range the extent covers, [lo, hi), in bytes of the disk. */
  readonly lo: number;
  readonly hi: number;
  /** Runs of allocated grains inside [lo, hi), disk offsets, grain-aligned (the last may end at the capacity). */
  readonly runs: readonly Run[];
  /** Bytes of grain data (what the source serves for this chunk). */
  readonly dataBytes: number;
  /** Bytes of the extent file: header, tables and grains. */
  readonly fileBytes: number;
}

/** The grain runs covering `areas`, aligned out to grains, clipped to `capacity`, merged. */
export function grainRuns(areas: readonly { start: number; length: number }[], capacity: number): Run[] {
  const sorted = [...areas].sort((a, b) => a.start - b.start);
  const runs: Run[] = [];
  for (const a of sorted) {
    if (a.length <= 0) continue;
    const start = Math.floor(a.start / GRAIN_BYTES) * GRAIN_BYTES;
    const end = Math.min(capacity, Math.ceil((a.start + a.length) / GRAIN_BYTES) * GRAIN_BYTES);
    if (start >= end) continue;
    const last = runs.at(-1);
    if (last !== undefined && start <= last.end) {
      runs[runs.length - 1] = { start: last.start, end: Math.max(last.end, end) };
    } else {
      runs.push({ start, end });
    }
  }
  return runs;
}

/** The layout sizes of an extent of `capacity` bytes: sectors before the first grain. */
function overheadSectors(capacity: number): { gdSectors: number; numGTs: number; overhead: number } {
  const capSectors = Math.ceil(capacity / SECTOR);
  const numGTs = Math.max(1, Math.ceil(capSectors / (GRAIN_SECTORS * GTES_PER_GT)));
  const gdSectors = Math.ceil((numGTs * 4) / SECTOR);
  const gtSectors = (GTES_PER_GT * 4) / SECTOR;
  const raw = 1 + gdSectors + numGTs * gtSectors;
  return { gdSectors, numGTs, overhead: Math.ceil(raw / GRAIN_SECTORS) * GRAIN_SECTORS };
}

/**
 * Cuts the runs of a disk of `capacity` bytes into chunks of at most `chunkBytes` of grain data, each
 * covering a contiguous logical range; together they tile [0, capacity). A disk with no data is one
 * empty chunk.
 */
export function planChunks(runs: readonly Run[], capacity: number, chunkBytes: number): ChunkPlan[] {
  const limit = Math.max(GRAIN_BYTES, Math.floor(chunkBytes / GRAIN_BYTES) * GRAIN_BYTES);
  const pieces: Run[][] = [[]];
  let filled = 0;
  for (const run of runs) {
    for (let s = run.start; s < run.end; ) {
      if (filled >= limit) {
        pieces.push([]);
        filled = 0;
      }
      const e = Math.min(run.end, s + (limit - filled));
      (pieces.at(-1) as Run[]).push({ start: s, end: e });
      filled += e - s;
      s = e;
    }
  }
  return pieces.map((chunkRuns, index) => {
    const lo = index === 0 ? 0 : (chunkRuns[0]?.start ?? capacity);
    const next = pieces[index + 1]?.[0];
    const hi = next === undefined ? capacity : next.start;
    const dataBytes = chunkRuns.reduce((n, r) => n + (r.end - r.start), 0);
    const grains = chunkRuns.reduce((n, r) => n + Math.ceil((r.end - r.start) / GRAIN_BYTES), 0);
    const { overhead } = overheadSectors(hi - lo);
    return { index, lo, hi, runs: chunkRuns, dataBytes, fileBytes: overhead * SECTOR + grains * GRAIN_BYTES };
  });
}

/**
 * The header, grain directory and grain tables of a chunk's extent, padded to the first grain: the
 * grains follow in the order of `chunk.runs`, each GRAIN_BYTES long (a run's last grain padded with
 * zeros when the disk ends inside it).
 */
export function extentHead(chunk: ChunkPlan): Buffer {
  const capacity = chunk.hi - chunk.lo;
  const { gdSectors, numGTs, overhead } = overheadSectors(capacity);
  const gtSectors = (GTES_PER_GT * 4) / SECTOR;
  const head = Buffer.alloc(overhead * SECTOR);
  head.writeUInt32LE(MAGIC, 0);
  head.writeUInt32LE(1, 4); // version
  head.writeUInt32LE(1, 8); // flags: valid new line detection test
  head.writeBigUInt64LE(BigInt(Math.ceil(capacity / SECTOR)), 12); // capacity, sectors
  head.writeBigUInt64LE(BigInt(GRAIN_SECTORS), 20); // grainSize
  head.writeBigUInt64LE(0n, 28); // descriptorOffset: the descriptor is a file of its own
  head.writeBigUInt64LE(0n, 36); // descriptorSize
  head.writeUInt32LE(GTES_PER_GT, 44); // numGTEsPerGT
  head.writeBigUInt64LE(0n, 48); // rgdOffset: no redundant tables
  head.writeBigUInt64LE(1n, 56); // gdOffset
  head.writeBigUInt64LE(BigInt(overhead), 64); // overHead
  head.writeUInt8(0, 72); // uncleanShutdown
  head.write('\n \r\n', 73, 'latin1'); // the new line detection characters
  head.writeUInt16LE(0, 77); // compressAlgorithm: none
  const gtBase = 1 + gdSectors;
  for (let i = 0; i < numGTs; i++) head.writeUInt32LE(gtBase + i * gtSectors, SECTOR + i * 4);
  let sector = overhead;
  for (const run of chunk.runs) {
    for (let off = run.start; off < run.end; off += GRAIN_BYTES) {
      const grain = (off - chunk.lo) / GRAIN_BYTES;
      head.writeUInt32LE(sector, gtBase * SECTOR + grain * 4);
      sector += GRAIN_SECTORS;
    }
  }
  return head;
}

/** The text descriptor of a disk made of the chunks' sparse extents, in order. */
export function sparseDescriptor(
  chunks: readonly ChunkPlan[],
  extentName: (index: number) => string,
  /**
   * Set: the disk is a child of this parent (its CID, and its descriptor's path relative to the
   * child's folder): a grain the extents do not hold reads from the parent (Virtual Disk Format 1.1,
   * "parentCID", "parentFileNameHint"). Default: a disk of its own.
   */
  parent?: { readonly cid: string; readonly hint: string },
): string {
  const lines = chunks.map((c) => `RW ${Math.ceil((c.hi - c.lo) / SECTOR)} SPARSE "${extentName(c.index)}"`);
  return [
    '# Disk DescriptorFile',
    'version=1',
    'encoding="UTF-8"',
    'CID=fffffffe',
    `parentCID=${parent?.cid ?? 'ffffffff'}`,
    ...(parent ? [`parentFileNameHint="${parent.hint}"`] : []),
    'createType="twoGbMaxExtentSparse"',
    '',
    '# Extent description',
    ...lines,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    'ddb.adapterType = "lsilogic"',
    '',
  ].join('\n');
}
