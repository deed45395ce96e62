/**
 * Datastore-to-datastore file copy over the HTTP file API: the bytes stream from the source's GET into
 * the target's PUT with back-pressure and are hashed (SHA-256) on the way, so nothing is held in memory
 * beyond the streams' buffers and nothing is staged on local disk. Source and target may be on different
 * endpoints. After the upload the target is checked (size, or its bytes read back and hashed).
 *
 * The file API cannot append to a file, so a partial target is always copied again whole; what can be
 * resumed is the set of files: `copyFiles` skips the files an earlier attempt completed and verified.
 */
import { createHash } from 'node:crypto';
import type { TransformCallback } from 'node:stream';
import { Readable, Transform } from 'node:stream';
import type { VSphereClient } from './client';
import type { DatastorePath } from './datastore-path';
import { datastorePathDir, formatDatastorePath, parseDatastorePath } from './datastore-path';
import type { RequestContext } from './errors';
import {
  ConnectionError,
  FileAlreadyExistsError,
  FileNotFoundError,
  HttpStatusError,
  InsufficientResourcesError,
  VSphereError,
} from './errors';
import type { ThreadDownload } from './mover';
import { threadDownload } from './mover';
import { TransformError, VerificationError } from './transfer-errors';

/**
 * How the target is checked after the upload: 'none'; 'size' (the target's size as the datastore
 * reports it); 'sha256' (the target read back and hashed, compared with the hash of the bytes sent).
 */
export type VerifyMode = 'none' | 'size' | 'sha256';

/** Largest source a text transform accepts (1 MiB): transforms are for .vmx files and disk descriptors. */
export const TRANSFORM_MAX_BYTES = 1024 * 1024;

/** One side of a copy: a logged-in client and a datastore path on its endpoint. */
export interface FileLocation {
  readonly client: VSphereClient;
  /** `[datastore] folder/file`. */
  readonly path: DatastorePath | string;
}

/** What a file's copy is doing: uploading, or reading the target back to verify it. */
export type TransferPhase = 'copy' | 'verify';

/** Progress of one file. */
export interface FileProgress {
  /** Source datastore path. */
  readonly source: string;
  /** Target datastore path. */
  readonly target: string;
  readonly phase: TransferPhase;
  /** Bytes moved in this phase so far. */
  readonly bytes: number;
  /** Bytes this phase will move. */
  readonly size: number;
  /** Bytes per second over the last few seconds of this phase. */
  readonly rateBytesPerSec: number;
}

/** Options of `copyFile`. */
export interface CopyFileOptions {
  /** How the target is checked after the upload. Default 'sha256'. */
  readonly verify?: VerifyMode | undefined;
  /**
   * Rewrites a small text file (UTF-8, at most TRANSFORM_MAX_BYTES) before the upload, e.g. the disk
   * paths in a .vmx. The hash and size recorded are those of the uploaded (transformed) bytes.
   * Default: none, the bytes are streamed unchanged.
   */
  readonly transform?: ((text: string) => string) | undefined;
  /** Aborts the copy; it then rejects with the signal's reason. Default: none. */
  readonly signal?: AbortSignal | undefined;
  /** Called with the file's progress, at most every `progressIntervalMs` and at the end of each phase. Default: none. */
  readonly onProgress?: ((progress: FileProgress) => void) | undefined;
  /** Minimum time between two `onProgress` calls, in ms. Default 250. */
  readonly progressIntervalMs?: number | undefined;
  /**
   * A request during which no byte moves for this long fails with ConnectionError (code ETIMEDOUT), so a
   * hung connection does not hang the copy. In ms. Default 120000.
   */
  readonly idleTimeoutMs?: number | undefined;
  /** Creates the target's folder (and its parents) when it does not exist. Default true. */
  readonly createFolder?: boolean | undefined;
  /**
   * Downloads and hashes the file on a worker thread while this thread uploads it, so the copy uses two
   * cores; its memory is then a fixed 2 MiB. Files known to be smaller than OFFLOAD_MIN_BYTES and
   * transformed files are always copied on the calling thread. Default true.
   */
  readonly offload?: boolean | undefined;
}

/** Files below this size (8 MiB) are copied on the calling thread: a thread's hand-over is not worth it. */
export const OFFLOAD_MIN_BYTES = 8 * 1024 * 1024;

/** The outcome of one file's copy. JSON-serialisable, so it can travel in a heartbeat. */
export interface CopyFileResult {
  /** Source datastore path. */
  readonly source: string;
  /** Target datastore path. */
  readonly target: string;
  /** Bytes written to the target (after the transform, if any). */
  readonly size: number;
  /** SHA-256 hex of the bytes sent (after the transform, if any). */
  readonly sha256Source: string;
  /** SHA-256 hex of the target read back (verify 'sha256'), null when it was not read back. */
  readonly sha256Target: string | null;
  /** True when an earlier attempt had completed the file and it was not copied again. */
  readonly skipped: boolean;
}

const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
const DEFAULT_FILE_PROGRESS_MS = 250;
const COALESCE_BYTES = 1024 * 1024;

/**
 * Copies one datastore file to another datastore path, possibly on another endpoint, replacing the
 * target. Throws the library's typed errors: FileNotFoundError (source missing), ConnectionError (a
 * broken or idle connection on either side), HttpStatusError, InsufficientResourcesError (target
 * datastore full), VerificationError (target differs from what was sent), TransformError.
 */
export function copyFile(
  source: FileLocation,
  target: FileLocation,
  options: CopyFileOptions = {},
): Promise<CopyFileResult> {
  return copyOne(source, target, options, undefined);
}

/** `copyFile`, told the source's size when the caller knows it (`copyFiles` does). */
async function copyOne(
  source: FileLocation,
  target: FileLocation,
  options: CopyFileOptions,
  sizeHint: number | undefined,
): Promise<CopyFileResult> {
  const src = toPath(source.path);
  const dst = toPath(target.path);
  const names = { source: formatDatastorePath(src), target: formatDatastorePath(dst) };
  const verify = options.verify ?? 'sha256';
  options.signal?.throwIfAborted();
  if (options.createFolder ?? true) await ensureFolder(target.client, datastorePathDir(dst));
  const reporter = new FileReporter(names, options.onProgress, options.progressIntervalMs);
  const io: Io = {
    signal: options.signal,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    reporter,
  };
  const offload =
    options.transform === undefined &&
    (options.offload ?? true) &&
    (sizeHint === undefined || sizeHint >= OFFLOAD_MIN_BYTES);
  const sent =
    options.transform !== undefined
      ? await uploadTransformed(source.client, src, target.client, dst, options.transform, io)
      : ((offload ? await uploadOffloaded(source.client, src, target.client, dst, io) : undefined) ??
        (await uploadStreamed(source.client, src, target.client, dst, io)));
  const sha256Target = await verifyTarget(
    target.client,
    dst,
    names.source,
    sent,
    verify,
    io,
    offload && sent.size >= OFFLOAD_MIN_BYTES,
  );
  return { ...names, size: sent.size, sha256Source: sent.sha256, sha256Target, skipped: false };
}

/** One file for `copyFiles`. */
export interface CopyFileSpec {
  readonly source: FileLocation;
  readonly target: FileLocation;
  /** See CopyFileOptions.transform. Default: none. */
  readonly transform?: ((text: string) => string) | undefined;
  /**
   * The source's size as the caller listed it (a VM's file layout), bytes: the file is then not looked
   * up before the copy, which saves a datastore search per file. Only totals and the choice of the
   * download thread use it; the copy moves what the source serves. Default: looked up.
   */
  readonly size?: number | undefined;
}

/** A file being copied or verified right now. */
export interface ActiveFile {
  readonly source: string;
  readonly target: string;
  readonly phase: TransferPhase;
  /** Bytes moved in this phase so far. */
  readonly bytes: number;
  /** Size of the file. */
  readonly size: number;
}

/** Progress of a whole `copyFiles` call. */
export interface TransferProgress {
  /** Bytes uploaded so far, counting skipped files as done. */
  readonly bytesDone: number;
  /**
   * Bytes sent to targets so far: never decreases (an upload that fails and is sent again counts twice), and
   * skipped files do not count. What moved over the network, for throughput metrics.
   */
  readonly bytesUploaded: number;
  /** Bytes of all files (a transformed file counts with its source size until it is done). */
  readonly bytesTotal: number;
  /** Upload rate over the sliding window, bytes per second (0 until two samples exist). */
  readonly rateBytesPerSec: number;
  /** Seconds left at the current pace, read-backs included; null while the pace is unknown. */
  readonly etaSeconds: number | null;
  readonly filesDone: number;
  readonly filesTotal: number;
  /** The files in flight. */
  readonly current: readonly ActiveFile[];
}

/** Options of `copyFiles`. */
export interface CopyFilesOptions {
  /** How each target is checked after its upload. Default 'sha256'. */
  readonly verify?: VerifyMode | undefined;
  /** Files copied at the same time. Default 4. */
  readonly concurrency?: number | undefined;
  /**
   * Results of an earlier attempt over the same sources. A file listed there is not copied again when
   * its target still exists with the recorded size and, at verify 'sha256', the recorded hashes
   * matched; it is returned with `skipped: true`. The sources must not have changed since (the callers
   * copy frozen base disks, or files of a stopped VM). Default: none.
   */
  readonly alreadyDone?: readonly CopyFileResult[] | undefined;
  /** Aborts every copy in flight; the call then rejects with the signal's reason. Default: none. */
  readonly signal?: AbortSignal | undefined;
  /** Called with the aggregate progress at most every `progressIntervalMs`, and once at the end. Default: none. */
  readonly onProgress?: ((progress: TransferProgress) => void) | undefined;
  /** Minimum time between two `onProgress` calls, in ms. Default 500. */
  readonly progressIntervalMs?: number | undefined;
  /** Width of the sliding window the rate is measured over, in ms. Default 10000. */
  readonly rateWindowMs?: number | undefined;
  /**
   * Called once for every file that is complete on the target (copied and verified, or skipped), as
   * soon as it is, so a caller can record partial results of a call that fails later. Default: none.
   */
  readonly onFileDone?: ((result: CopyFileResult) => void) | undefined;
  /** See CopyFileOptions.idleTimeoutMs. Default 120000. */
  readonly idleTimeoutMs?: number | undefined;
  /**
   * Called once before the first byte moves, with the files that will be copied (every other file was
   * skipped and reported to `onFileDone`), so a caller can forget earlier results for those. Default: none.
   */
  readonly onPlan?: ((toCopy: readonly { source: string; target: string }[]) => void) | undefined;
  /** See CopyFileOptions.offload. Default true. */
  readonly offload?: boolean | undefined;
}

/**
 * Copies several files, `concurrency` at a time, largest first, and returns one result per file in the
 * order given. Sources are checked first, so a missing one fails the call (FileNotFoundError) before any
 * byte moves. When a copy fails, no new copy starts, the copies in flight run to their end (their bytes
 * would otherwise be lost: a partial file cannot be resumed) and are reported to `onFileDone`, then the
 * first error is thrown as it was (the typed errors of `copyFile`). An abort stops everything at once.
 */
export async function copyFiles(
  files: readonly CopyFileSpec[],
  options: CopyFilesOptions = {},
): Promise<CopyFileResult[]> {
  const verify = options.verify ?? 'sha256';
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 4));
  const signal = options.signal;
  signal?.throwIfAborted();

  const jobs = files.map((spec, index) => {
    const src = toPath(spec.source.path);
    const dst = toPath(spec.target.path);
    return { spec, index, src, dst, source: formatDatastorePath(src), target: formatDatastorePath(dst) };
  });
  const targets = new Set<string>();
  for (const job of jobs) {
    const key = `${job.spec.target.client.endpoint} ${job.target}`;
    if (targets.has(key)) throw new TypeError(`copyFiles: ${job.target} is the target of two files`);
    targets.add(key);
  }

  const results: (CopyFileResult | undefined)[] = jobs.map(() => undefined);
  const progress = new AggregateProgress(options, verify);
  const finish = (index: number, result: CopyFileResult): void => {
    results[index] = result;
    options.onFileDone?.(result);
  };

  // Resume: files an earlier attempt completed (and verified) stay, if the target still holds them.
  const prior = new Map((options.alreadyDone ?? []).map((r) => [`${r.source}\n${r.target}`, r]));
  const toCopy: (typeof jobs)[number][] = [];
  await mapLimit(jobs, concurrency, async (job) => {
    const done = prior.get(`${job.source}\n${job.target}`);
    if (
      done !== undefined &&
      isComplete(done, verify) &&
      (await holds(job.spec.target.client, job.dst, done))
    ) {
      progress.addSkipped(done.size);
      finish(job.index, { ...done, skipped: true });
    } else {
      toCopy.push(job);
    }
  });

  // Sizes first: the totals need them, and a missing source fails here, before anything is copied
  // (a listed file that is gone fails at its download, the first thing its copy does).
  const sizes = new Map<number, number>();
  await mapLimit(toCopy, concurrency, async (job) => {
    const listed = job.spec.size;
    sizes.set(job.index, listed ?? (await job.spec.source.client.files.stat(job.src)).size ?? 0);
  });
  for (const job of toCopy) progress.addPending(sizes.get(job.index) ?? 0);
  progress.setFilesTotal(jobs.length);

  const folders = new Map<string, { client: VSphereClient; dir: DatastorePath }>();
  for (const job of toCopy) {
    const dir = datastorePathDir(job.dst);
    folders.set(`${job.spec.target.client.endpoint} ${formatDatastorePath(dir)}`, {
      client: job.spec.target.client,
      dir,
    });
  }
  for (const { client, dir } of folders.values()) await ensureFolder(client, dir);

  // Largest first: the long copies start at once and the small files fill the gaps.
  toCopy.sort((a, b) => (sizes.get(b.index) ?? 0) - (sizes.get(a.index) ?? 0));
  let firstError: { error: unknown } | undefined;
  options.onPlan?.(toCopy.map(({ source, target }) => ({ source, target })));
  progress.emit(true);
  await mapLimit(toCopy, concurrency, async (job) => {
    if (firstError !== undefined || signal?.aborted) return;
    const estimate = sizes.get(job.index) ?? 0;
    const active = progress.start(job.source, job.target, estimate);
    try {
      const result = await copyOne(
        job.spec.source,
        job.spec.target,
        {
          verify,
          transform: job.spec.transform,
          signal,
          idleTimeoutMs: options.idleTimeoutMs,
          createFolder: false,
          offload: options.offload,
          progressIntervalMs: 0,
          onProgress: (p) => progress.update(active, p),
        },
        estimate,
      );
      progress.complete(active, result.size, estimate);
      finish(job.index, result);
    } catch (error) {
      progress.fail(active);
      firstError ??= { error };
    }
  });
  progress.emit(true);
  if (signal?.aborted) throw signal.reason;
  if (firstError !== undefined) throw firstError.error;
  return results.map((r, i) => {
    if (r === undefined) throw new Error(`copyFiles: no result for file ${i}`);
    return r;
  });
}

/** True when an earlier result may be kept at this verify level: at 'sha256' only if it was verified and matched. */
export function isComplete(result: CopyFileResult, verify: VerifyMode): boolean {
  if (verify !== 'sha256') return true;
  return result.sha256Target !== null && result.sha256Target === result.sha256Source;
}

/**
 * Compares what was sent with what the target holds; throws VerificationError on a difference. Sizes
 * are compared first (a short file is reported as such), then hashes when both are given.
 */
export function checkTarget(
  context: RequestContext,
  source: string,
  target: string,
  sent: { readonly size: number; readonly sha256: string },
  found: { readonly size: number; readonly sha256?: string | undefined },
): void {
  if (sent.size !== found.size) {
    throw new VerificationError(context, source, target, 'size', String(sent.size), String(found.size));
  }
  if (found.sha256 !== undefined && found.sha256 !== sent.sha256) {
    throw new VerificationError(context, source, target, 'sha256', sent.sha256, found.sha256);
  }
}

/**
 * Measures a rate over a sliding window: bytes counted between the oldest sample still in the window
 * and the newest, over the time between them.
 */
export class RateMeter {
  readonly #windowMs: number;
  readonly #samples: { t: number; bytes: number }[] = [];

  /** `windowMs` default 10000. */
  constructor(windowMs = 10_000) {
    this.#windowMs = windowMs;
  }

  /** Records the running total `bytes` at time `t` (ms, monotonic). */
  record(bytes: number, t: number = performance.now()): void {
    const last = this.#samples.at(-1);
    if (last !== undefined && t - last.t < 50) {
      last.bytes = bytes; // coalesce bursts of chunks; keeps the window small
    } else {
      this.#samples.push({ t, bytes });
    }
    // Keep one sample at or before the window's start, so the rate spans the whole window.
    while (this.#samples.length > 2 && (this.#samples[1]?.t ?? t) <= t - this.#windowMs)
      this.#samples.shift();
  }

  /** Bytes per second over the window; 0 until two samples exist. */
  rate(): number {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (first === undefined || last === undefined || last.t <= first.t) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
  }
}

// ---------------------------------------------------------------------------------------------------

interface Io {
  readonly signal: AbortSignal | undefined;
  readonly idleTimeoutMs: number;
  readonly reporter: FileReporter;
}

interface Sent {
  readonly size: number;
  readonly sha256: string;
}

async function uploadStreamed(
  sourceClient: VSphereClient,
  src: DatastorePath,
  targetClient: VSphereClient,
  dst: DatastorePath,
  io: Io,
): Promise<Sent> {
  const sourceContext = context(sourceClient, 'GET /folder', src);
  const targetContext = context(targetClient, 'PUT /folder', dst);
  const watchdog = new Watchdog(io.signal, io.idleTimeoutMs, () =>
    idleError(targetContext, `copy from ${formatDatastorePath(src)}`, io.idleTimeoutMs),
  );
  let stream: Readable | undefined;
  try {
    const download = await sourceClient.files.get(src, { signal: watchdog.signal });
    stream = download.stream;
    const size = download.length ?? (await sourceClient.files.stat(src)).size;
    if (size === undefined)
      throw new VSphereError(sourceContext, 'the server did not say how large the file is');
    watchdog.kick();
    const hasher = new HashingCounter(
      size,
      sourceContext,
      (bytes) => io.reporter.update('copy', bytes, size),
      () => watchdog.kick(),
    );
    // A failure of the download is the source's, whatever the upload makes of it: hand the upload a
    // typed source error (files.put keeps VSphereErrors as they are).
    stream.once('error', (err) => hasher.destroy(asConnectionError(sourceContext, err)));
    stream.pipe(hasher);
    await targetClient.files.put(dst, hasher, size, { signal: watchdog.signal });
    io.reporter.end('copy', size, size);
    return { size, sha256: hasher.digest() };
  } catch (err) {
    throw watchdog.reason() ?? targetError(err);
  } finally {
    watchdog.stop();
    if (stream !== undefined && !stream.readableEnded) stream.destroy();
  }
}

/**
 * The copy with the download and its hash on a worker thread (./mover): this thread only uploads the
 * blocks the thread hands over. Undefined when the source client's trust cannot be given to a thread.
 */
async function uploadOffloaded(
  sourceClient: VSphereClient,
  src: DatastorePath,
  targetClient: VSphereClient,
  dst: DatastorePath,
  io: Io,
): Promise<Sent | undefined> {
  const sourceContext = context(sourceClient, 'GET /folder', src);
  const targetContext = context(targetClient, 'PUT /folder', dst);
  const idle = () => idleError(targetContext, `copy from ${formatDatastorePath(src)}`, io.idleTimeoutMs);
  const watchdog = new Watchdog(io.signal, io.idleTimeoutMs, idle);
  let download: ThreadDownload | undefined;
  let size = 0;
  try {
    download = await watchedThreadDownload(
      sourceClient,
      src,
      sourceContext,
      watchdog,
      idle,
      io,
      'copy',
      () => size,
    );
    if (download === undefined) return undefined;
    const blocks = download;
    size = blocks.length;
    watchdog.kick();
    await targetClient.files.put(dst, blocks.stream, size, {
      signal: watchdog.signal,
      onProgress: () => watchdog.kick(),
      onWritten: (chunk) => blocks.release(chunk),
    });
    const sha256 = await blocks.sha256;
    io.reporter.end('copy', size, size);
    return { size, sha256 };
  } catch (err) {
    throw watchdog.reason() ?? targetError(err);
  } finally {
    watchdog.stop();
    download?.stop();
  }
}

async function uploadTransformed(
  sourceClient: VSphereClient,
  src: DatastorePath,
  targetClient: VSphereClient,
  dst: DatastorePath,
  transform: (text: string) => string,
  io: Io,
): Promise<Sent> {
  const source = formatDatastorePath(src);
  const sourceContext = context(sourceClient, 'GET /folder', src);
  const transformContext = context(sourceClient, 'transform', src);
  const watchdog = new Watchdog(io.signal, io.idleTimeoutMs, () =>
    idleError(sourceContext, 'download', io.idleTimeoutMs),
  );
  let original: Buffer;
  let stream: Readable | undefined;
  try {
    const download = await sourceClient.files.get(src, { signal: watchdog.signal });
    stream = download.stream;
    if (download.length !== undefined && download.length > TRANSFORM_MAX_BYTES) {
      throw tooLarge(transformContext, source, download.length);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of stream) {
        watchdog.kick();
        total += (chunk as Buffer).length;
        if (total > TRANSFORM_MAX_BYTES) throw tooLarge(transformContext, source, total);
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      throw err instanceof VSphereError ? err : asConnectionError(sourceContext, err);
    }
    original = Buffer.concat(chunks);
  } catch (err) {
    throw watchdog.reason() ?? err;
  } finally {
    watchdog.stop();
    if (stream !== undefined && !stream.readableEnded) stream.destroy();
  }

  let text: string;
  try {
    // Fatal decoding: a file that is not UTF-8 is refused rather than silently mangled.
    text = new TextDecoder('utf-8', { fatal: true }).decode(original);
  } catch (err) {
    throw new TransformError(transformContext, source, 'the file is not UTF-8 text', { cause: err });
  }
  let rewritten: string;
  try {
    rewritten = transform(text);
  } catch (err) {
    throw new TransformError(transformContext, source, `the transform failed: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const bytes = Buffer.from(rewritten, 'utf8');
  const upload = new Watchdog(io.signal, io.idleTimeoutMs, () =>
    idleError(context(targetClient, 'PUT /folder', dst), 'upload', io.idleTimeoutMs),
  );
  try {
    await targetClient.files.put(dst, Readable.from([bytes]), bytes.length, {
      signal: upload.signal,
      onProgress: (n) => {
        upload.kick();
        io.reporter.update('copy', n, bytes.length);
      },
    });
  } catch (err) {
    throw upload.reason() ?? targetError(err);
  } finally {
    upload.stop();
  }
  io.reporter.end('copy', bytes.length, bytes.length);
  return { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function verifyTarget(
  client: VSphereClient,
  dst: DatastorePath,
  source: string,
  sent: Sent,
  verify: VerifyMode,
  io: Io,
  offload: boolean,
): Promise<string | null> {
  const target = formatDatastorePath(dst);
  if (verify === 'none') return null;
  if (verify === 'size') {
    const info = await client.files.stat(dst);
    checkTarget(context(client, 'verify size', dst), source, target, sent, { size: info.size ?? -1 });
    return null;
  }
  const readContext = context(client, 'GET /folder', dst);
  const onThread = offload ? await readBackOffloaded(client, dst, readContext, sent, io) : undefined;
  if (onThread !== undefined) {
    checkTarget(context(client, 'verify sha256', dst), source, target, sent, onThread);
    return onThread.sha256;
  }
  const watchdog = new Watchdog(io.signal, io.idleTimeoutMs, () =>
    idleError(readContext, 'read-back', io.idleTimeoutMs),
  );
  let stream: Readable | undefined;
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    const download = await client.files.get(dst, { signal: watchdog.signal });
    stream = download.stream;
    watchdog.kick();
    try {
      for await (const chunk of stream) {
        watchdog.kick();
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
        io.reporter.update('verify', bytes, sent.size);
      }
    } catch (err) {
      throw asConnectionError(readContext, err);
    }
  } catch (err) {
    throw watchdog.reason() ?? err;
  } finally {
    watchdog.stop();
    if (stream !== undefined && !stream.readableEnded) stream.destroy();
  }
  io.reporter.end('verify', bytes, sent.size);
  const sha256 = hash.digest('hex');
  checkTarget(context(client, 'verify sha256', dst), source, target, sent, { size: bytes, sha256 });
  return sha256;
}

/**
 * The read-back of a large target on a download thread (./mover), which hashes it and hands each block
 * back at once: the bytes never become garbage on this thread (on it, every 16 KiB TLS record would be
 * a new buffer). Undefined when the client's trust cannot be given to a thread.
 */
async function readBackOffloaded(
  client: VSphereClient,
  dst: DatastorePath,
  readContext: RequestContext,
  sent: Sent,
  io: Io,
): Promise<{ size: number; sha256: string } | undefined> {
  const idle = () => idleError(readContext, 'read-back', io.idleTimeoutMs);
  const watchdog = new Watchdog(io.signal, io.idleTimeoutMs, idle);
  let download: ThreadDownload | undefined;
  try {
    download = await watchedThreadDownload(
      client,
      dst,
      readContext,
      watchdog,
      idle,
      io,
      'verify',
      () => sent.size,
    );
    if (download === undefined) return undefined;
    const blocks = download;
    for await (const chunk of blocks.stream) blocks.release(chunk as Buffer);
    const sha256 = await blocks.sha256;
    io.reporter.end('verify', blocks.length, sent.size);
    return { size: blocks.length, sha256 };
  } catch (err) {
    throw watchdog.reason() ?? err;
  } finally {
    watchdog.stop();
    download?.stop();
  }
}

/** A download on a thread whose every block keeps `watchdog` awake and reports the phase's progress. */
function watchedThreadDownload(
  client: VSphereClient,
  path: DatastorePath,
  ctx: RequestContext,
  watchdog: Watchdog,
  idle: () => VSphereError,
  io: Io,
  phase: TransferPhase,
  total: () => number,
): Promise<ThreadDownload | undefined> {
  return threadDownload(client.files, path, ctx, {
    signal: watchdog.signal,
    idleTimeoutMs: io.idleTimeoutMs,
    idleError: idle,
    onBlock: (bytes) => {
      watchdog.kick();
      io.reporter.update(phase, bytes, total());
    },
  });
}

/** True when the target exists with the size an earlier attempt recorded. */
async function holds(client: VSphereClient, dst: DatastorePath, done: CopyFileResult): Promise<boolean> {
  try {
    const info = await client.files.stat(dst);
    return info.kind === 'file' && info.size === done.size;
  } catch (err) {
    if (err instanceof FileNotFoundError) return false;
    throw err;
  }
}

/** Creates a folder and its parents unless it exists (the datastore root always does). */
async function ensureFolder(client: VSphereClient, dir: DatastorePath): Promise<void> {
  if (dir.path === '') return;
  try {
    await client.files.mkdir(dir);
  } catch (err) {
    if (!(err instanceof FileAlreadyExistsError)) throw err;
  }
}

/**
 * The file API answers a PUT that does not fit with HTTP 507; src/vsphere reports that as a plain
 * HttpStatusError, while the product acts on InsufficientResourcesError (a full datastore is permanent).
 */
function targetError(err: unknown): unknown {
  if (err instanceof HttpStatusError && err.status === 507) {
    return new InsufficientResourcesError(
      { endpoint: err.endpoint, method: err.method, object: err.object },
      {
        type: 'NoDiskSpace',
        message: 'the target datastore has not enough free space (HTTP 507)',
        detail: {},
      },
      { cause: err },
    );
  }
  return err;
}

function asConnectionError(ctx: RequestContext, err: unknown): VSphereError {
  if (err instanceof VSphereError) return err;
  const e = err as { message?: string; code?: string };
  return new ConnectionError(ctx, e.message ?? String(err), e.code, { cause: err });
}

function idleError(ctx: RequestContext, what: string, ms: number): ConnectionError {
  return new ConnectionError(ctx, `${what}: no byte moved for ${Math.round(ms / 1000)} s`, 'ETIMEDOUT');
}

function tooLarge(ctx: RequestContext, source: string, size: number): TransformError {
  return new TransformError(
    ctx,
    source,
    `the file has ${size} bytes or more; a transform takes at most ${TRANSFORM_MAX_BYTES}`,
  );
}

function context(client: VSphereClient, method: string, p: DatastorePath): RequestContext {
  return { endpoint: client.endpoint, method, object: formatDatastorePath(p) };
}

function toPath(path: DatastorePath | string): DatastorePath {
  return typeof path === 'string' ? parseDatastorePath(path) : path;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs `fn` over `items`, at most `limit` at a time; rejects with the first error after all settled. */
async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure !== undefined) throw failure.error;
}

/**
 * Aborts the requests of one phase when the caller's signal aborts, or when no byte moved for the idle
 * timeout (`kick()` on every chunk).
 */
class Watchdog {
  readonly #idle = new AbortController();
  readonly #timer: NodeJS.Timeout;
  /** The signal to hand to the requests: the caller's and the idle timeout's. */
  readonly signal: AbortSignal;
  readonly #outer: AbortSignal | undefined;

  constructor(outer: AbortSignal | undefined, ms: number, makeError: () => Error) {
    this.#outer = outer;
    this.signal = outer === undefined ? this.#idle.signal : AbortSignal.any([outer, this.#idle.signal]);
    this.#timer = setTimeout(() => this.#idle.abort(makeError()), ms);
  }

  kick(): void {
    this.#timer.refresh();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  /** The caller's abort reason, or the idle timeout's error, when either fired. */
  reason(): unknown {
    if (this.#outer?.aborted) return this.#outer.reason;
    if (this.#idle.signal.aborted) return this.#idle.signal.reason;
    return undefined;
  }
}

/**
 * Passes bytes through in writes of about COALESCE_BYTES, hashing and counting them; fails when the
 * source ends short of or past its size.
 */
class HashingCounter extends Transform {
  readonly #hash = createHash('sha256');
  readonly #expected: number;
  readonly #context: RequestContext;
  readonly #onBytes: (bytes: number) => void;
  readonly #onAlive: () => void;
  #bytes = 0;
  /** Chunks hashed but not yet passed on (see COALESCE_BYTES). */
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  /** `onBytes` gets the running total once per write passed on; `onAlive` is called on every chunk read. */
  constructor(expected: number, ctx: RequestContext, onBytes: (bytes: number) => void, onAlive: () => void) {
    // Larger buffers than the 16 KiB default: fewer, larger writes to the upload socket.
    super({ highWaterMark: 256 * 1024 });
    this.#expected = expected;
    this.#context = ctx;
    this.#onBytes = onBytes;
    this.#onAlive = onAlive;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.#expected) {
      callback(
        new ConnectionError(
          this.#context,
          `the source sent more than its ${this.#expected} bytes`,
          undefined,
        ),
      );
      return;
    }
    this.#onAlive();
    // TLS hands out 16 KiB records: pass them on in larger writes, far fewer trips through the upload's
    // stream and socket code; hash and report per write too, not per record (measured: bench/TUNING.md).
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes >= COALESCE_BYTES) this.#release();
    callback();
  }

  #release(): void {
    if (this.#pendingBytes === 0) return;
    const out =
      this.#pending.length === 1
        ? (this.#pending[0] as Buffer)
        : Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#hash.update(out);
    this.#onBytes(this.#bytes);
    this.push(out);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#bytes !== this.#expected) {
      callback(
        new ConnectionError(
          this.#context,
          `the source ended after ${this.#bytes} of its ${this.#expected} bytes`,
          undefined,
        ),
      );
      return;
    }
    this.#release();
    callback();
  }

  digest(): string {
    return this.#hash.digest('hex');
  }
}

/** Per-file progress: rate per phase, throttled calls. */
class FileReporter {
  readonly #names: { source: string; target: string };
  readonly #onProgress: ((p: FileProgress) => void) | undefined;
  readonly #intervalMs: number;
  #phase: TransferPhase = 'copy';
  #meter = new RateMeter(5_000);
  #last = -Infinity;

  constructor(
    names: { source: string; target: string },
    onProgress: ((p: FileProgress) => void) | undefined,
    intervalMs = DEFAULT_FILE_PROGRESS_MS,
  ) {
    this.#names = names;
    this.#onProgress = onProgress;
    this.#intervalMs = intervalMs;
  }

  update(phase: TransferPhase, bytes: number, size: number): void {
    if (this.#onProgress === undefined) return;
    if (phase !== this.#phase) {
      this.#phase = phase;
      this.#meter = new RateMeter(5_000);
    }
    const now = performance.now();
    this.#meter.record(bytes, now);
    if (now - this.#last < this.#intervalMs) return;
    this.#last = now;
    this.#emit(phase, bytes, size);
  }

  end(phase: TransferPhase, bytes: number, size: number): void {
    if (this.#onProgress === undefined) return;
    this.#meter.record(bytes);
    this.#emit(phase, bytes, size);
  }

  #emit(phase: TransferPhase, bytes: number, size: number): void {
    this.#onProgress?.({ ...this.#names, phase, bytes, size, rateBytesPerSec: this.#meter.rate() });
  }
}

interface ActiveState {
  source: string;
  target: string;
  phase: TransferPhase;
  bytes: number;
  size: number;
  /** Upload bytes of this file already counted into the aggregate. */
  counted: number;
  /** Read-back bytes of this file already counted. */
  verified: number;
}

/** Sums the files' progress into one, with a sliding-window rate and an ETA; throttles the callback. */
class AggregateProgress {
  readonly #onProgress: ((p: TransferProgress) => void) | undefined;
  readonly #intervalMs: number;
  readonly #verify: VerifyMode;
  readonly #copyMeter: RateMeter;
  readonly #workMeter: RateMeter;
  readonly #active = new Set<ActiveState>();
  #bytesDone = 0;
  #bytesTotal = 0;
  #copied = 0;
  #verifiedDone = 0;
  #work = 0;
  #filesDone = 0;
  #filesTotal = 0;
  #last = -Infinity;

  constructor(options: CopyFilesOptions, verify: VerifyMode) {
    this.#onProgress = options.onProgress;
    this.#intervalMs = options.progressIntervalMs ?? 500;
    this.#verify = verify;
    this.#copyMeter = new RateMeter(options.rateWindowMs ?? 10_000);
    this.#workMeter = new RateMeter(options.rateWindowMs ?? 10_000);
  }

  addSkipped(size: number): void {
    this.#bytesDone += size;
    this.#bytesTotal += size;
    this.#verifiedDone += size;
    this.#filesDone++;
  }

  addPending(size: number): void {
    this.#bytesTotal += size;
  }

  setFilesTotal(n: number): void {
    this.#filesTotal = n;
  }

  start(source: string, target: string, size: number): ActiveState {
    const state: ActiveState = { source, target, phase: 'copy', bytes: 0, size, counted: 0, verified: 0 };
    this.#active.add(state);
    return state;
  }

  update(state: ActiveState, p: FileProgress): void {
    state.phase = p.phase;
    state.bytes = p.bytes;
    if (p.phase === 'copy') {
      const delta = p.bytes - state.counted;
      state.counted = p.bytes;
      this.#bytesDone += delta;
      this.#copied += delta;
      this.#work += delta;
    } else {
      const delta = p.bytes - state.verified;
      state.verified = p.bytes;
      this.#verifiedDone += delta;
      this.#work += delta;
    }
    this.emit(false);
  }

  complete(state: ActiveState, size: number, estimate: number): void {
    // A transformed file's size is known only now; a file whose size changed since the stat likewise.
    this.#bytesTotal += size - estimate;
    this.#bytesDone += size - state.counted;
    if (this.#verify === 'sha256') this.#verifiedDone += size - state.verified;
    this.#active.delete(state);
    this.#filesDone++;
    this.emit(false);
  }

  fail(state: ActiveState): void {
    // The partial upload is worth nothing: it will be copied again whole.
    this.#bytesDone -= state.counted;
    this.#verifiedDone -= state.verified;
    this.#active.delete(state);
  }

  emit(force: boolean): void {
    if (this.#onProgress === undefined) return;
    const now = performance.now();
    this.#copyMeter.record(this.#copied, now);
    this.#workMeter.record(this.#work, now);
    if (!force && now - this.#last < this.#intervalMs) return;
    this.#last = now;
    const workRate = this.#workMeter.rate();
    const remaining =
      this.#bytesTotal -
      this.#bytesDone +
      (this.#verify === 'sha256' ? this.#bytesTotal - this.#verifiedDone : 0);
    this.#onProgress({
      bytesDone: this.#bytesDone,
      bytesUploaded: this.#copied,
      bytesTotal: this.#bytesTotal,
      rateBytesPerSec: this.#copyMeter.rate(),
      etaSeconds: remaining <= 0 ? 0 : workRate > 0 ? remaining / workRate : null,
      filesDone: this.#filesDone,
      filesTotal: this.#filesTotal,
      current: [...this.#active.values()].map(({ source, target, phase, bytes, size }) => ({
        source,
        target,
        phase,
        bytes,
        size,
      })),
    });
  }
}
