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
import type { CopyFileResult, CopyFileSpec, TransferProgress, VerifyMode, VSphereClient } from '../vsphere';
import { copyFiles, HttpStatusError, parseDatastorePath, VSphereFaultError } from '../vsphere';
import { recordCopy } from './copy-rates';
import { PERMANENT_ERROR_TYPES } from './errors';

export type { CopyFileResult, VerifyMode } from '../vsphere';

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
    });
  };
  const throttle = new Throttle(options.heartbeatIntervalMs ?? 2_000, heartbeat);

  try {
    const [source, target] = await Promise.all([
      deps.clientFor(input.sourceEndpoint),
      deps.clientFor(input.targetEndpoint),
    ]);
    const specs: CopyFileSpec[] = input.files.map((f) => ({
      source: { client: source, path: f.source },
      target: { client: target, path: f.target },
      transform: f.transform === undefined ? undefined : replaceAll(f.transform),
      size: f.size,
    }));
    throttle.request();
    const results = await copyFiles(specs, {
      verify: input.verify,
      concurrency: input.concurrency,
      alreadyDone: prior,
      signal: ctx.signal,
      onFileDone: (result) => {
        done.set(key(result), result);
        pending.delete(key(result));
        if (!result.skipped) bytesCopied += result.size;
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
    reportBytes(Math.max(latest?.bytesUploaded ?? 0, bytesCopied));
    return {
      files: results,
      bytesCopied,
      bytesTotal: results.reduce((sum, r) => sum + r.size, 0),
      durationMs: Math.round(performance.now() - started),
    };
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    // The files completed since the last heartbeat are what the retry must not copy again: record them now.
    throttle.stop();
    heartbeat();
    throw toActivityFailure(err);
  } finally {
    throttle.stop();
  }
}

/** The previous attempt's completed files from its last heartbeat; anything malformed is ignored. */
export function resumeFrom(details: unknown): CopyFileResult[] {
  if (typeof details !== 'object' || details === null) return [];
  const list = (details as { done?: unknown }).done;
  if (!Array.isArray(list)) return [];
  return list.filter(isResult).map((r) => ({ ...r, skipped: r.skipped === true }));
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

function isResult(v: unknown): v is CopyFileResult {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.source === 'string' &&
    typeof r.target === 'string' &&
    typeof r.size === 'number' &&
    Number.isSafeInteger(r.size) &&
    r.size >= 0 &&
    typeof r.sha256Source === 'string' &&
    (r.sha256Target === null || typeof r.sha256Target === 'string')
  );
}

function isPair(p: unknown): boolean {
  return (
    Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && p[0] !== '' && typeof p[1] === 'string'
  );
}

function isVmxEdit(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    Array.isArray(e.set) &&
    e.set.every(isPair) &&
    Array.isArray(e.disconnectIsoOn) &&
    e.disconnectIsoOn.every((d) => typeof d === 'string')
  );
}

function validateInput(input: CopyFilesInput): void {
  const problems: string[] = [];
  if (typeof input.sourceEndpoint !== 'string' || input.sourceEndpoint === '')
    problems.push('sourceEndpoint is empty');
  if (typeof input.targetEndpoint !== 'string' || input.targetEndpoint === '')
    problems.push('targetEndpoint is empty');
  if (!['none', 'size', 'sha256'].includes(input.verify))
    problems.push(`verify must be none, size or sha256, not ${input.verify}`);
  if (input.concurrency !== undefined && !(Number.isInteger(input.concurrency) && input.concurrency >= 1)) {
    problems.push(`concurrency must be a positive integer, not ${input.concurrency}`);
  }
  if (!Array.isArray(input.files)) problems.push('files is not a list');
  for (const [i, f] of (Array.isArray(input.files) ? input.files : []).entries()) {
    for (const side of ['source', 'target'] as const) {
      try {
        parseDatastorePath(f[side]);
      } catch (err) {
        problems.push(`files[${i}].${side}: ${(err as Error).message}`);
      }
    }
    if (f.size !== undefined && !(Number.isSafeInteger(f.size) && f.size >= 0)) {
      problems.push(
        `files[${i}].size must be a whole number of bytes (0 or more), not ${f.size}; or leave it out`,
      );
    }
    const t = f.transform;
    if (t !== undefined) {
      const pairs: unknown = t.pairs;
      const vmx: unknown = t.vmx;
      const ok =
        t.kind === 'replace' &&
        Array.isArray(pairs) &&
        pairs.every(isPair) &&
        (vmx === undefined || isVmxEdit(vmx));
      if (!ok)
        problems.push(
          `files[${i}].transform must be {kind: 'replace', pairs: [[from, to], ...], vmx?: {set: [[key, value], ...], disconnectIsoOn: [datastore, ...]}} with non-empty "from" strings and keys`,
        );
    }
  }
  if (problems.length > 0) {
    throw ApplicationFailure.create({
      type: 'InvalidTransferInput',
      message: `copyFiles input is invalid: ${problems.join('; ')}`,
      nonRetryable: true,
      details: [problems],
    });
  }
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
