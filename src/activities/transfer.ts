/**
 * The data-mover activity: copies VM files between datastores with src/vsphere/transfer, heartbeating
 * its progress, resuming from the last heartbeat on a retry, stopping on cancellation, and failing
 * permanently (non-retryable) only where a retry cannot help.
 *
 * The Temporal specifics live in `createTransferActivities`; everything else is `runCopyFiles`, which
 * takes a small context (heartbeat, last heartbeat, cancellation signal) so it can be tested alone.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { VmxEdit } from '../planner/vmx';
import { editVmx } from '../planner/vmx';
import type {
  CopyFileResult,
  CopyFileSpec,
  ThinChunkDone,
  TransferProgress,
  VerifyMode,
  VSphereClient,
} from '../vsphere';
import { copyFiles, FileNotFoundError, HttpStatusError, VSphereFaultError } from '../vsphere';
import { recordCopy } from './copy-rates';
import { PERMANENT_ERROR_TYPES } from './errors';
import type { CopyDiskInput, DiskCopyReport, TargetDiskType } from './thin-disks';
import { planThinJobs, runThinJobs } from './thin-disks';
import type { SourceStopped } from './transfer-input';
import { chunksFrom, inFlightFrom, resumeFrom, sourceRestarted, validateInput } from './transfer-input';

export type { CopyFileResult, VerifyMode } from '../vsphere';
export type { CopyDiskInput, DiskCopyReport, TargetDiskType } from './thin-disks';
export { chunksFrom, resumeFrom } from './transfer-input';

/**
 * A text rewrite as data (activity inputs cannot carry functions): each `[from, to]` replaces every
 * occurrence of `from`, in order; then, for a .vmx, the settings of `vmx` (src/planner/vmx.ts).
 */
export interface ReplaceTransform {
  readonly kind: 'replace';
  readonly pairs: readonly (readonly [string, string])[];
  /** .vmx edits after the replacements: keys set, ISO-backed drives disconnected. Default: none. */
  readonly vmx?: VmxEdit | undefined;
}

/** One file to copy. Paths are `[datastore] folder/file` on the input's source and target endpoints. */
export interface CopyFilesInputFile {
  readonly source: string;
  readonly target: string;
  /** Applied to the file's text before the upload (files of at most 1 MiB, UTF-8). Default: none. */
  readonly transform?: ReplaceTransform | undefined;
  /** The source's size as listed (the VM's file layout), bytes; default: looked up on the datastore. */
  readonly size?: number | undefined;
  /**
   * Set on the base extent of a disk frozen by a snapshot: the file then moves by its allocated areas
   * when change tracking allows (see thin-disks.ts). Default: copied as a file.
   */
  readonly disk?: CopyDiskInput | undefined;
}

/** Input of the `copyFiles` activity. */
export interface CopyFilesInput {
  /** Endpoint name (worker configuration) the files are read from. */
  readonly sourceEndpoint: string;
  /** Endpoint name the files are written to; may equal the source. */
  readonly targetEndpoint: string;
  readonly files: readonly CopyFilesInputFile[];
  /** How each target is checked after its upload. */
  readonly verify: VerifyMode;
  /** Files copied at the same time. Default 4. */
  readonly concurrency?: number | undefined;
  /** Provisioning of the disks moved by their allocated areas. Default 'same'. */
  readonly diskType?: TargetDiskType | undefined;
  /**
   * The source VM and the state it must keep while its files are copied (a switchover's final delta of
   * a stopped VM): checked at each attempt's start and after a failure (a running VM's locked files fail
   * their reads); found otherwise, the copy fails non-retryably with SourceRestartedError. Default: none.
   */
  readonly sourceStopped?: SourceStopped | undefined;
}

/** Result of the `copyFiles` activity. */
export interface CopyFilesResult {
  /** One result per input file, in input order; `skipped` for files an earlier attempt completed. */
  readonly files: CopyFileResult[];
  /** Bytes uploaded by the attempt that succeeded (skipped files not counted). */
  readonly bytesCopied: number;
  /** Bytes of all files. */
  readonly bytesTotal: number;
  /** Wall time of the attempt that succeeded, in ms. */
  readonly durationMs: number;
  /** One report per file marked as a disk (`disk`): how it moved and what it cost. Default: []. */
  readonly disks?: DiskCopyReport[] | undefined;
}

/** A file in flight, as heartbeated. */
export interface HeartbeatFile {
  /** Source datastore path. */
  readonly file: string;
  readonly target: string;
  readonly phase: 'copy' | 'verify';
  /** Bytes moved in this phase. */
  readonly bytes: number;
  readonly size: number;
}

/** The heartbeat details of `copyFiles`; the `done` list is what a retry resumes from. */
export interface CopyFilesHeartbeat {
  /** Files complete on the target (and verified, at verify 'sha256'). */
  readonly done: CopyFileResult[];
  readonly current: HeartbeatFile[];
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly rateBytesPerSec: number;
  /** Chunks of disks moved by their allocated areas that are complete on the target. */
  readonly chunks?: ThinChunkDone[] | undefined;
  /** Bytes of the chunk in flight (what a retry sends again). */
  readonly chunkInFlight?: number | undefined;
  /** Per-disk reports so far. */
  readonly disks?: DiskCopyReport[] | undefined;
}

/** What `runCopyFiles` needs from its runtime: Temporal's activity context, or a test's stand-in. */
export interface TransferActivityContext {
  /** Records progress (and proves liveness). */
  heartbeat(details: CopyFilesHeartbeat): void;
  /** The last heartbeat of the previous attempt, if any (untrusted: validated before use). */
  readonly heartbeatDetails: unknown;
  /** Aborts on cancellation. */
  readonly signal: AbortSignal;
  /** Default: no logging. */
  readonly log?: { info(message: string, meta?: Record<string, unknown>): void } | undefined;
  /**
   * Told the bytes sent to the target since its last call, as they move. Default: not told.
   */
  readonly bytesMoved?: ((bytes: number) => void) | undefined;
}

/** Where a copy's bytes go, for whoever counts them. */
export interface CopyRoute {
  readonly sourceEndpoint: string;
  readonly targetEndpoint: string;
  readonly namespace: string;
  readonly taskQueue: string;
}

/** Dependencies of the transfer activities. */
export interface TransferDeps {
  /** A connected client by endpoint name. The activity does not close it (the worker's pool owns it). */
  clientFor(endpoint: string): Promise<VSphereClient>;
  /**
   * Told the bytes each copy sends to its target as they move (the worker counts them in
   * quickmig_copied_bytes_total, src/telemetry). Default: not told.
   */
  bytesMoved?: ((bytes: number, route: CopyRoute) => void) | undefined;
}

/** Options of `runCopyFiles` (tests shorten them). */
export interface RunCopyFilesOptions {
  /** Minimum time between two heartbeats, in ms. Default 2000. */
  readonly heartbeatIntervalMs?: number | undefined;
}

/**
 * Builds the data-mover activities.
 *
 * `copyFiles` expects a `heartbeatTimeout` of about 30 s or more (it heartbeats every ~2 s while bytes
 * move; a stall of more than the timeout makes Temporal retry it elsewhere, and a stalled connection
 * fails by itself after 120 s without a byte), a `startToCloseTimeout` that fits the largest copy, and a
 * retry policy without a low attempt cap: a retry re-copies only the files not yet complete.
 */
export function createTransferActivities(deps: TransferDeps) {
  return {
    /**
     * Copies VM files from one endpoint's datastores to another's (see CopyFilesInput). Heartbeats
     * CopyFilesHeartbeat, resumes from it on a retry (after checking each completed file's size on the
     * target), stops on cancellation. Missing sources, a full target datastore, a refused login or an
     * invalid input fail non-retryably, typed with the error's class name; transient failures (a broken
     * connection, a 5xx, a verification mismatch) are retried.
     */
    async copyFiles(input: CopyFilesInput): Promise<CopyFilesResult> {
      const ctx = Context.current();
      const route: CopyRoute = {
        sourceEndpoint: input.sourceEndpoint,
        targetEndpoint: input.targetEndpoint,
        namespace: ctx.info.namespace,
        taskQueue: ctx.info.taskQueue,
      };
      const { bytesMoved } = deps;
      const result = await runCopyFiles(deps, input, {
        heartbeat: (details) => ctx.heartbeat(details),
        heartbeatDetails: ctx.info.heartbeatDetails,
        signal: ctx.cancellationSignal,
        log: ctx.log,
        bytesMoved: bytesMoved && ((bytes) => bytesMoved(bytes, route)),
      });
      recordCopy(input.sourceEndpoint, input.targetEndpoint, result.bytesCopied, result.durationMs);
      return result;
    },
  };
}

/** The `copyFiles` activity without Temporal: see createTransferActivities. */
export async function runCopyFiles(
  deps: TransferDeps,
  input: CopyFilesInput,
  ctx: TransferActivityContext,
  options: RunCopyFilesOptions = {},
): Promise<CopyFilesResult> {
  const started = performance.now();
  validateInput(input);
  const prior = resumeFrom(ctx.heartbeatDetails);
  if (prior.length > 0) {
    ctx.log?.info(`copyFiles resumes: ${prior.length} file(s) were complete after the previous attempt`, {
      files: prior.map((r) => r.target),
    });
  }

  // Until copyFiles has re-checked them, the previous attempt's results stay in the heartbeat, so an
  // attempt that fails early loses nothing; files about to be copied again leave it at once.
  let pending = new Map(prior.map((r) => [key(r), r]));
  const done = new Map<string, CopyFileResult>();
  // Disks moved by their allocated areas: chunks complete on the target, and reports.
  const chunks = new Map(chunksFrom(ctx.heartbeatDetails).map((c) => [`${c.target}#${c.index}`, c]));
  const priorInFlight = inFlightFrom(ctx.heartbeatDetails);
  let chunkInFlight = 0;
  const reports = new Map<string, DiskCopyReport>();
  let latest: TransferProgress | undefined;
  let bytesCopied = 0;
  // Bytes reported to ctx.bytesMoved so far: progress reports them as they move; the end adds what the
  // last progress report had not seen yet.
  let bytesReported = 0;
  const reportBytes = (uploaded: number): void => {
    if (uploaded > bytesReported) ctx.bytesMoved?.(uploaded - bytesReported);
    bytesReported = Math.max(bytesReported, uploaded);
  };
  const heartbeat = (): void => {
    ctx.heartbeat({
      done: [...done.values(), ...pending.values()],
      current: (latest?.current ?? []).map((f) => ({
        file: f.source,
        target: f.target,
        phase: f.phase,
        bytes: f.bytes,
        size: f.size,
      })),
      bytesDone: latest?.bytesDone ?? 0,
      bytesTotal: latest?.bytesTotal ?? 0,
      rateBytesPerSec: Math.round(latest?.rateBytesPerSec ?? 0),
      // Disks moved by their allocated data only: absent from the heartbeat of a copy of plain files.
      ...(chunks.size > 0 || chunkInFlight > 0 ? { chunks: [...chunks.values()], chunkInFlight } : {}),
      ...(reports.size > 0 ? { disks: [...reports.values()] } : {}),
    });
  };
  const throttle = new Throttle(options.heartbeatIntervalMs ?? 2_000, heartbeat);
  // Liveness through phases that report no bytes (a disk's read-back, its conversion on the target
  // host, which can take minutes): each step there has its own timeout, the heartbeat only says "alive".
  const keepAlive = setInterval(() => throttle.request(), options.heartbeatIntervalMs ?? 2_000);

  try {
    const [source, target] = await Promise.all([
      deps.clientFor(input.sourceEndpoint),
      deps.clientFor(input.targetEndpoint),
    ]);
    const restarted = await sourceRestarted(source, input.sourceStopped);
    if (restarted) throw restarted;
    const thin = await planThinJobs(source, target, input.files, input.diskType ?? 'same');
    for (const r of thin.fallbacks) reports.set(r.target, r);
    const results: (CopyFileResult | undefined)[] = input.files.map(() => undefined);
    throttle.request();
    await runThinJobs(source, target, thin.jobs, {
      verify: input.verify,
      signal: ctx.signal,
      prior,
      chunksDone: [...chunks.values()],
      partialBytes: priorInFlight,
      onChunkDone: (c) => {
        chunks.set(`${c.target}#${c.index}`, c);
        chunkInFlight = 0;
        throttle.request();
      },
      onProgress: (report, inFlight) => {
        reports.set(report.target, report);
        chunkInFlight = inFlight;
        throttle.request();
      },
      onFileDone: (index, result, report) => {
        results[index] = result;
        reports.set(report.target, report);
        done.set(key(result), result);
        pending.delete(key(result));
        for (const k of [...chunks.keys()]) if (k.startsWith(`${result.target}#`)) chunks.delete(k);
        bytesCopied += report.wireBytes;
        throttle.request();
      },
      holds: async (r) => {
        try {
          const info = await target.files.stat(r.target);
          return info.kind === 'file' && info.size === r.size;
        } catch (err) {
          if (err instanceof FileNotFoundError) return false;
          throw err;
        }
      },
    });
    const thinIndexes = new Set(thin.jobs.map((j) => j.index));
    const rest = input.files.map((f, index) => ({ f, index })).filter(({ index }) => !thinIndexes.has(index));
    const specs: CopyFileSpec[] = rest.map(({ f }) => ({
      source: { client: source, path: f.source },
      target: { client: target, path: f.target },
      transform: f.transform === undefined ? undefined : replaceAll(f.transform),
      size: f.size,
    }));
    const copied = await copyFiles(specs, {
      verify: input.verify,
      concurrency: input.concurrency,
      alreadyDone: prior,
      signal: ctx.signal,
      onFileDone: (result) => {
        done.set(key(result), result);
        pending.delete(key(result));
        if (!result.skipped) bytesCopied += result.size;
        const whole = reports.get(result.target);
        if (whole !== undefined && whole.transport === 'whole-file') {
          reports.set(result.target, { ...whole, wireBytes: result.skipped ? 0 : result.size });
        }
        throttle.request();
      },
      onPlan: () => {
        pending = new Map();
      },
      onProgress: (progress) => {
        latest = progress;
        reportBytes(progress.bytesUploaded);
        throttle.request();
      },
    });
    for (const [i, { index }] of rest.entries()) results[index] = copied[i];
    const files = results.map((r, i) => {
      if (r === undefined) throw new Error(`copyFiles: no result for file ${i}`);
      return r;
    });
    reportBytes(Math.max(latest?.bytesUploaded ?? 0, bytesCopied));
    return {
      files,
      bytesCopied,
      bytesTotal: files.reduce((sum, r) => sum + r.size, 0),
      durationMs: Math.round(performance.now() - started),
      disks: input.files.flatMap((f) => reports.get(f.target) ?? []),
    };
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    // The files completed since the last heartbeat are what the retry must not copy again: record them now.
    throttle.stop();
    heartbeat();
    const restarted = input.sourceStopped
      ? await deps
          .clientFor(input.sourceEndpoint)
          .then((c) => sourceRestarted(c, input.sourceStopped))
          .catch(() => undefined)
      : undefined;
    throw toActivityFailure(restarted ?? err);
  } finally {
    clearInterval(keepAlive);
    throttle.stop();
  }
}

const PERMANENT: ReadonlySet<string> = new Set(PERMANENT_ERROR_TYPES);

/** HTTP statuses of the file API below 500 that a retry may get past: a lost session, timeout, conflict, lock, rate limit. */
const TRANSIENT_4XX = new Set([401, 403, 408, 409, 423, 425, 429]);

/**
 * True when retrying cannot help: an error named in PERMANENT_ERROR_TYPES, or an HTTP status of the file
 * API in the 4xx range other than TRANSIENT_4XX (which no name can say).
 */
export function isPermanent(err: unknown): boolean {
  if (err instanceof HttpStatusError)
    return err.status >= 400 && err.status < 500 && !TRANSIENT_4XX.has(err.status);
  return err instanceof Error && PERMANENT.has(err.name);
}

/**
 * What the activity throws for `err`: a non-retryable ApplicationFailure typed with the class name for a
 * permanent error, the error itself otherwise (Temporal retries it, typed with its name).
 */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (!(err instanceof Error)) return err;
  if (!isPermanent(err)) return err;
  const e = err as Error & { endpoint?: string; method?: string; object?: string };
  const fault = err instanceof VSphereFaultError ? err.fault.type : undefined;
  return ApplicationFailure.create({
    type: err.name,
    message: err.message,
    nonRetryable: true,
    cause: err,
    details: [{ endpoint: e.endpoint, method: e.method, object: e.object, fault }],
  });
}

/** Builds the text function of a ReplaceTransform. */
export function replaceAll(transform: ReplaceTransform): (text: string) => string {
  const { vmx } = transform;
  return (text) => {
    const replaced = transform.pairs.reduce((out, [from, to]) => out.split(from).join(to), text);
    return vmx ? editVmx(replaced, vmx).text : replaced;
  };
}

// ---------------------------------------------------------------------------------------------------

function key(r: { source: string; target: string }): string {
  return `${r.source}\n${r.target}`;
}

/** Calls `fn` at most every `intervalMs`: at once when the last call is old enough, else once at the end of the interval. */
class Throttle {
  readonly #intervalMs: number;
  readonly #fn: () => void;
  #last = -Infinity;
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number, fn: () => void) {
    this.#intervalMs = intervalMs;
    this.#fn = fn;
  }

  request(): void {
    if (this.#timer !== undefined) return;
    const wait = this.#last + this.#intervalMs - performance.now();
    if (wait <= 0) {
      this.#fire();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fire();
    }, wait);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#last = performance.now();
    this.#fn();
  }
}
