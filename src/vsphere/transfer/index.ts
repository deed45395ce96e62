/**
 * Datastore-to-datastore file copy over the HTTP file API: the bytes stream from the source's GET into
 * the target's PUT with back-pressure and are hashed (SHA-256) on the way, so nothing is held in memory
 * beyond the streams' buffers and nothing is staged on local disk. Source and target may be on different
 * endpoints. After the upload the target is checked (size, or its bytes read back and hashed).
 *
 * The file API cannot append to a file, so a partial target is always copied again whole; what can be
 * resumed is the set of files: `copyFiles` skips the files an earlier attempt completed and verified.
 *
 * This file holds the public calls and their orchestration; the rest of the folder: types.ts (options,
 * results, limits), upload.ts (the three upload paths), verify.ts (the target check), streams.ts (idle
 * watchdog, hashing pass-through), progress.ts (per-file and aggregate progress, rate meter), errors.ts,
 * and mover.ts with download-thread.mjs (downloads on worker threads).
 */
import type { VSphereClient } from '../client';
import type { DatastorePath } from '../datastore-path';
import { datastorePathDir, formatDatastorePath, toDatastorePath } from '../datastore-path';
import { FileAlreadyExistsError, FileNotFoundError } from '../errors';
import { AggregateProgress, FileReporter } from './progress';
import type { Io } from './streams';
import type { CopyFileOptions, CopyFileResult, CopyFileSpec, CopyFilesOptions, FileLocation } from './types';
import { OFFLOAD_MIN_BYTES } from './types';
import { uploadOffloaded, uploadStreamed, uploadTransformed } from './upload';
import { isComplete, verifyTarget } from './verify';

export { TransformError, VerificationError } from './errors';
export { RateMeter } from './progress';
export * from './types';
export { checkTarget, isComplete } from './verify';

/** Default of CopyFileOptions.idleTimeoutMs, in ms. */
const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

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
  const src = toDatastorePath(source.path);
  const dst = toDatastorePath(target.path);
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
    const src = toDatastorePath(spec.source.path);
    const dst = toDatastorePath(spec.target.path);
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
