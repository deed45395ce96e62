/** Progress of the copy: per file (FileReporter) and over a whole `copyFiles` call (AggregateProgress). */
import type { CopyFilesOptions, FileProgress, TransferPhase, TransferProgress, VerifyMode } from './types';

/** Default minimum time between two progress calls of one file, in ms. */
const DEFAULT_FILE_PROGRESS_MS = 250;

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

/** @internal Per-file progress: rate per phase, throttled calls. */
export class FileReporter {
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

/** @internal A file in flight, as AggregateProgress counts it. */
export interface ActiveState {
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

/** @internal Sums the files' progress into one, with a sliding-window rate and an ETA; throttles the callback. */
export class AggregateProgress {
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
