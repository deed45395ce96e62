/**
 * @internal Stream helpers of the copy: the idle/abort watchdog of a phase, the hashing pass-through of a
 * streamed upload, and the thread download that keeps a watchdog awake.
 */
import { createHash } from 'node:crypto';
import type { TransformCallback } from 'node:stream';
import { Transform } from 'node:stream';
import type { VSphereClient } from '../client';
import type { DatastorePath } from '../datastore-path';
import type { RequestContext, VSphereError } from '../errors';
import { ConnectionError } from '../errors';
import type { ThreadDownload } from './mover';
import { threadDownload } from './mover';
import type { FileReporter } from './progress';
import type { TransferPhase } from './types';

/** Bytes a streamed upload gathers before it passes them on (1 MiB; see HashingCounter). */
const COALESCE_BYTES = 1024 * 1024;

/** What one file's copy phases share: the caller's signal, the idle timeout and the file's reporter. */
export interface Io {
  readonly signal: AbortSignal | undefined;
  readonly idleTimeoutMs: number;
  readonly reporter: FileReporter;
}

/** What an upload sent: its size and the SHA-256 hex of its bytes. */
export interface Sent {
  readonly size: number;
  readonly sha256: string;
}

/** A download on a thread whose every block keeps `watchdog` awake and reports the phase's progress. */
export function watchedThreadDownload(
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

/**
 * Aborts the requests of one phase when the caller's signal aborts, or when no byte moved for the idle
 * timeout (`kick()` on every chunk).
 */
export class Watchdog {
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
export class HashingCounter extends Transform {
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
