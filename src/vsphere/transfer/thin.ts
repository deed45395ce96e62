/**
 * The copy of a disk's allocated data only (ARCHITECTURE.md, "Data path"): the source disk's allocated
 * areas come from changed block tracking at the migration snapshot (QueryChangedDiskAreas `*`); only
 * those ranges are read (`/folder` GET with Range) and streamed into hosted sparse extents on the target
 * (`/folder` PUT, one file per chunk of at most `chunkBytes` of data, each hashed, read back and only
 * then given its name), which the target host then converts into a disk of the asked provisioning (CopyVirtualDisk_Task) and moves
 * into place. A chunk complete on the target is not sent again by a later attempt; the disk's content
 * digest (SHA-256 over the allocated data in disk order) is compared with the converted disk read back at
 * the same ranges.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { VSphereClient } from '../client';
import type { DatastorePath } from '../datastore-path';
import { datastorePathDir, formatDatastorePath, joinDatastorePath, toDatastorePath } from '../datastore-path';
import type { DiskArea, VirtualDiskType } from '../disks';
import { FileAlreadyExistsError, FileNotFoundError, VSphereError } from '../errors';
import { toConnectionError } from '../http-io';
import type { MoRef } from '../types';
import { descriptorCid } from './descriptor';
import { context, targetSpaceError, VerificationError } from './errors';
import { RateMeter } from './progress';
import type { ChunkPlan, Run } from './sparse';
import { extentHead, GRAIN_BYTES, grainRuns, planChunks, sparseDescriptor } from './sparse';
import type { VerifyMode } from './types';

/** Default data per chunk (64 MiB): what a resumed copy sends again at most. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024;
/** Largest chunk accepted (256 MiB). */
export const MAX_CHUNK_BYTES = 256 * 1024 * 1024;

/** A chunk complete (and verified, at verify 'sha256') on the target; what a later attempt keeps. */
export interface ThinChunkDone {
  /** Target path of the disk's extent the chunk belongs to. */
  readonly target: string;
  readonly index: number;
  readonly lo: number;
  readonly hi: number;
  /** Bytes of the chunk's extent file. */
  readonly size: number;
  /** SHA-256 hex of the extent file's bytes. */
  readonly sha256: string;
}

/** What the copy of one disk moved, as the result and the progress report it. */
export interface ThinDiskReport {
  /** 'allocated-areas': only allocated data moved; 'whole-file': the whole extent (no change tracking). */
  readonly transport: 'allocated-areas' | 'whole-file';
  /** Why the whole file moved, when it did. */
  readonly fallbackReason?: string | undefined;
  /** The disk's logical size, bytes. */
  readonly logicalBytes: number;
  /** Bytes of allocated data on the source (what change tracking reported, in grains). */
  readonly allocatedBytes: number;
  /** Bytes uploaded by this attempt (extent headers and tables included). */
  readonly wireBytes: number;
  /** Bytes of this attempt's uploads that an earlier, interrupted attempt had sent already. */
  readonly resentBytes: number;
  /** Chunks an earlier attempt completed, not sent again. */
  readonly chunksKept: number;
  readonly chunks: number;
  /** Upload rate of this attempt, bytes per second. */
  readonly rateBytesPerSec: number;
  /** Provisioning of the target disk. */
  readonly diskType: VirtualDiskType;
}

/** The source of a thin copy: a snapshotted VM disk and its flat extent. */
export interface ThinDiskSource {
  readonly client: VSphereClient;
  readonly vm: MoRef;
  readonly snapshot: MoRef;
  readonly deviceKey: number;
  readonly capacityBytes: number;
  /** `[ds] folder/disk-flat.vmdk`: the extent read. */
  readonly extent: DatastorePath | string;
}

/** Options of `copyThinDisk`. */
export interface CopyThinDiskOptions {
  /** Provisioning of the target disk. */
  readonly diskType: VirtualDiskType;
  /** Data per chunk, bytes; default DEFAULT_CHUNK_BYTES, at most MAX_CHUNK_BYTES. */
  readonly chunkBytes?: number | undefined;
  /** Default 'sha256': chunks and the converted disk read back and hashed. */
  readonly verify?: VerifyMode | undefined;
  /** Chunks an earlier attempt completed. Default: none. */
  readonly chunksDone?: readonly ThinChunkDone[] | undefined;
  /** Bytes an earlier attempt had sent of chunks it did not complete (reported as re-sent). Default 0. */
  readonly partialBytes?: number | undefined;
  /** Called when a chunk is complete on the target. */
  readonly onChunkDone?: ((chunk: ThinChunkDone) => void) | undefined;
  /** Called with the bytes uploaded so far and those of the chunk in flight. */
  readonly onProgress?:
    | ((p: { wireBytes: number; inFlight: number; totalBytes: number }) => void)
    | undefined;
  readonly signal?: AbortSignal | undefined;
  /** The target's datacenter, for a vCenter. Default: the one that holds the target datastore. */
  readonly datacenter?: MoRef | undefined;
  /** Areas to copy instead of asking change tracking (tests, or a caller that knows them). Default: asked. */
  readonly areas?: readonly DiskArea[] | undefined;
  /**
   * Set: the target already holds the disk as it was at an earlier point (a kept test copy, its
   * descriptor `<disk>.vmdk` beside `target`), and `areas` are only what changed since. The extents
   * are then written as a child of that disk, which the host flattens into the new disk; the digest
   * covers the changed areas. Default: false, a disk of its own.
   */
  readonly overBase?: boolean | undefined;
}

/** The result of `copyThinDisk`. */
export interface ThinDiskResult {
  /** SHA-256 hex of the allocated data read from the source, in disk order. */
  readonly sha256Source: string;
  /** The same over the converted target read back; null when not read back. */
  readonly sha256Target: string | null;
  readonly report: ThinDiskReport;
}

/**
 * Copies a snapshotted disk's allocated data into a new disk on the target: `target` is where its flat
 * extent ends up (`[ds] folder/disk-flat.vmdk`; the descriptor is the caller's, copied as a file). Throws
 * the transfer's typed errors; VerificationError when a chunk or the converted disk differs.
 */
export async function copyThinDisk(
  source: ThinDiskSource,
  target: { readonly client: VSphereClient; readonly path: DatastorePath | string },
  given: CopyThinDiskOptions,
): Promise<ThinDiskResult> {
  const dstDatastore = toDatastorePath(target.path).datastore;
  const options: CopyThinDiskOptions = {
    ...given,
    datacenter: given.datacenter ?? (await target.client.files.datacenterOf(dstDatastore)),
  };
  const verify = options.verify ?? 'sha256';
  const dst = toDatastorePath(target.path);
  const targetName = formatDatastorePath(dst);
  const src = toDatastorePath(source.extent);
  const chunkBytes = Math.min(MAX_CHUNK_BYTES, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const areas =
    options.areas ??
    (await source.client.disks.allocatedAreas(
      source.vm,
      source.snapshot,
      source.deviceKey,
      source.capacityBytes,
    ));
  const runs = grainRuns(areas, source.capacityBytes);
  const chunks = planChunks(runs, source.capacityBytes, chunkBytes);
  const totalBytes = chunks.reduce((n, c) => n + c.fileBytes, 0);
  const base = baseName(dst.path);
  const stage = joinDatastorePath(datastorePathDir(dst), `${base}.quickmig-thin`);
  const extentName = (i: number) => `${base}-s${String(i + 1).padStart(3, '0')}.vmdk`;
  await ensureFolder(target.client, stage, options.datacenter);

  const meter = new RateMeter(10_000);
  const started = performance.now();
  let wire = 0;
  const kept = new Map(
    (options.chunksDone ?? []).filter((c) => c.target === targetName).map((c) => [c.index, c]),
  );
  let chunksKept = 0;
  const sourceHash = createHash('sha256');
  for (const chunk of chunks) {
    options.signal?.throwIfAborted();
    const file = joinDatastorePath(stage, extentName(chunk.index));
    // An extent is uploaded under a `.part` name and gets its own name only once verified: the name on
    // the target is the durable proof, so a retry keeps every verified chunk, also those completed after
    // the last heartbeat a killed worker sent (the heartbeat's list alone could lag by seconds of chunks).
    const prior = kept.get(chunk.index);
    const recorded =
      prior === undefined ||
      (prior.lo === chunk.lo && prior.hi === chunk.hi && prior.size === chunk.fileBytes);
    if (recorded && (await holds(target.client, file, chunk.fileBytes))) {
      // Kept: the disk digest still needs its data, read from the verified extent on the target
      // (a read on the target side, nothing sent again).
      await hashRuns(target.client, file, chunkFileRuns(chunk), sourceHash, options.signal);
      chunksKept++;
      continue;
    }
    const part = joinDatastorePath(stage, `${extentName(chunk.index)}.part`);
    let inFlight = 0;
    const fileHash = createHash('sha256');
    const body = Readable.from(
      chunkStream(source.client, src, chunk, sourceHash, fileHash, options.signal, (n) => {
        inFlight += n;
        meter.record(wire + inFlight);
        options.onProgress?.({ wireBytes: wire + inFlight, inFlight, totalBytes });
      }),
      { objectMode: false },
    );
    await target.client.files
      .put(part, body, chunk.fileBytes, { signal: options.signal })
      .catch(async (err: unknown) => {
        throw await targetSpaceError(err, target.client, part, chunk.fileBytes);
      });
    wire += chunk.fileBytes;
    const sha256 = fileHash.digest('hex');
    if (verify === 'sha256') {
      const back = createHash('sha256');
      const n = await readAll(target.client, part, back, options.signal);
      const got = back.digest('hex');
      if (n !== chunk.fileBytes || got !== sha256) {
        throw new VerificationError(
          context(target.client, 'verify chunk', part),
          formatDatastorePath(src),
          formatDatastorePath(part),
          n !== chunk.fileBytes ? 'size' : 'sha256',
          n !== chunk.fileBytes ? String(chunk.fileBytes) : sha256,
          n !== chunk.fileBytes ? String(n) : got,
        );
      }
    }
    await target.client.datastores.moveFile(part, file, { datacenter: options.datacenter, force: true });
    const done = {
      target: targetName,
      index: chunk.index,
      lo: chunk.lo,
      hi: chunk.hi,
      size: chunk.fileBytes,
      sha256,
    };
    options.onChunkDone?.(done);
  }
  const sha256Source = sourceHash.digest('hex');

  // The host turns the uploaded extents into a disk of the asked type, then it moves into place.
  const descriptor = joinDatastorePath(stage, `${base}-sparse.vmdk`);
  const parent = options.overBase
    ? {
        cid: await descriptorCid(target.client, joinDatastorePath(datastorePathDir(dst), `${base}.vmdk`)),
        hint: `../${base}.vmdk`,
      }
    : undefined;
  const text = Buffer.from(sparseDescriptor(chunks, extentName, parent), 'utf8');
  await target.client.files.put(descriptor, Readable.from([text]), text.length, { signal: options.signal });
  const converted = joinDatastorePath(stage, `${base}.vmdk`);
  for (const leftover of [converted, joinDatastorePath(stage, `${base}-flat.vmdk`)]) {
    await deleteIfPresent(target.client, leftover, options.datacenter);
  }
  await target.client.disks.copyVirtualDisk(descriptor, converted, {
    diskType: options.diskType,
    datacenter: options.datacenter,
    signal: options.signal,
  });
  await target.client.datastores.moveFile(joinDatastorePath(stage, `${base}-flat.vmdk`), dst, {
    datacenter: options.datacenter,
    force: true,
  });

  let sha256Target: string | null = null;
  if (verify === 'sha256') {
    const back = createHash('sha256');
    await hashRuns(target.client, dst, runs, back, options.signal);
    sha256Target = back.digest('hex');
    if (sha256Target !== sha256Source) {
      throw new VerificationError(
        context(target.client, 'verify disk', dst),
        formatDatastorePath(src),
        targetName,
        'sha256',
        sha256Source,
        sha256Target,
      );
    }
  }
  const info = await target.client.files.stat(dst);
  if (info.size !== source.capacityBytes) {
    throw new VerificationError(
      context(target.client, 'verify size', dst),
      formatDatastorePath(src),
      targetName,
      'size',
      String(source.capacityBytes),
      String(info.size),
    );
  }
  await target.client.datastores.deleteFile(stage, { datacenter: options.datacenter });
  const seconds = (performance.now() - started) / 1000;
  return {
    sha256Source,
    sha256Target,
    report: {
      transport: 'allocated-areas',
      logicalBytes: source.capacityBytes,
      allocatedBytes: runs.reduce((n, r) => n + (r.end - r.start), 0),
      wireBytes: wire + text.length,
      resentBytes: Math.min(options.partialBytes ?? 0, wire),
      chunksKept,
      chunks: chunks.length,
      rateBytesPerSec: seconds > 0 ? Math.round(wire / seconds) : 0,
      diskType: options.diskType,
    },
  };
}

/** The grain runs of a chunk as offsets into its extent file (grains follow the head in order). */
function chunkFileRuns(chunk: ChunkPlan): Run[] {
  let at = extentHead(chunk).length;
  return chunk.runs.map((r) => {
    const len = Math.ceil((r.end - r.start) / GRAIN_BYTES) * GRAIN_BYTES;
    const out = { start: at, end: at + (r.end - r.start) };
    at += len;
    return out;
  });
}

/**
 * The bytes of a chunk's extent: its head, then each run read from the source with a Range GET (a run's
 * last grain padded to the grain size). Hashes the file bytes and the data.
 */
async function* chunkStream(
  client: VSphereClient,
  src: DatastorePath,
  chunk: ChunkPlan,
  dataHash: ReturnType<typeof createHash>,
  fileHash: ReturnType<typeof createHash>,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): AsyncGenerator<Buffer> {
  const head = extentHead(chunk);
  fileHash.update(head);
  onBytes(head.length);
  yield head;
  const ctx = context(client, 'GET /folder', src);
  for (const run of chunk.runs) {
    const download = await client.files.get(src, {
      range: { start: run.start, end: run.end - 1 },
      signal,
    });
    if (download.status !== 206 && run.start !== 0) {
      download.stream.destroy();
      throw new VSphereError(ctx, `the server ignored the Range of ${run.start}-${run.end - 1}`);
    }
    let got = 0;
    const want = run.end - run.start;
    try {
      for await (const piece of download.stream) {
        let buf = piece as Buffer;
        if (got + buf.length > want) buf = buf.subarray(0, want - got);
        got += buf.length;
        dataHash.update(buf);
        fileHash.update(buf);
        onBytes(buf.length);
        yield buf;
        if (got >= want) break;
      }
    } catch (err) {
      throw toConnectionError(ctx, err);
    } finally {
      if (!download.stream.readableEnded) download.stream.destroy();
    }
    if (got !== want)
      throw new VSphereError(ctx, `range ${run.start}-${run.end - 1} ended after ${got} bytes`);
    const pad = Math.ceil(want / GRAIN_BYTES) * GRAIN_BYTES - want;
    if (pad > 0) {
      const zeros = Buffer.alloc(pad);
      fileHash.update(zeros);
      onBytes(pad);
      yield zeros;
    }
  }
}

/** Hashes `runs` of a file read with Range GETs. */
async function hashRuns(
  client: VSphereClient,
  file: DatastorePath,
  runs: readonly Run[],
  hash: ReturnType<typeof createHash>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const ctx = context(client, 'GET /folder', file);
  for (const run of runs) {
    const download = await client.files.get(file, { range: { start: run.start, end: run.end - 1 }, signal });
    let got = 0;
    try {
      for await (const piece of download.stream) {
        hash.update(piece as Buffer);
        got += (piece as Buffer).length;
      }
    } catch (err) {
      throw toConnectionError(ctx, err);
    }
    if (got !== run.end - run.start) {
      throw new VSphereError(ctx, `range ${run.start}-${run.end - 1} gave ${got} bytes`);
    }
  }
}

/** Reads a whole file into `hash`; returns its length. */
async function readAll(
  client: VSphereClient,
  file: DatastorePath,
  hash: ReturnType<typeof createHash>,
  signal: AbortSignal | undefined,
): Promise<number> {
  const download = await client.files.get(file, { signal });
  let n = 0;
  try {
    for await (const piece of download.stream) {
      hash.update(piece as Buffer);
      n += (piece as Buffer).length;
    }
  } catch (err) {
    throw toConnectionError(context(client, 'GET /folder', file), err);
  }
  return n;
}

async function holds(client: VSphereClient, file: DatastorePath, size: number): Promise<boolean> {
  try {
    const info = await client.files.stat(file);
    return info.kind === 'file' && info.size === size;
  } catch (err) {
    if (err instanceof FileNotFoundError) return false;
    throw err;
  }
}

async function deleteIfPresent(
  client: VSphereClient,
  file: DatastorePath,
  datacenter: MoRef | undefined,
): Promise<void> {
  try {
    await client.datastores.deleteFile(file, { datacenter });
  } catch (err) {
    if (!(err instanceof FileNotFoundError)) throw err;
  }
}

async function ensureFolder(
  client: VSphereClient,
  dir: DatastorePath,
  datacenter: MoRef | undefined,
): Promise<void> {
  try {
    await client.datastores.makeDirectory(dir, { datacenter });
  } catch (err) {
    if (!(err instanceof FileAlreadyExistsError)) throw err;
  }
}

/** `disk-flat.vmdk` → `disk`. */
function baseName(path: string): string {
  const file = path.slice(path.lastIndexOf('/') + 1);
  return file.replace(/(-flat)?\.vmdk$/, '');
}
