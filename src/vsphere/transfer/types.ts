/** The public types and limits of the datastore file copy (./index). */
import type { VSphereClient } from '../client';
import type { DatastorePath } from '../datastore-path';

/**
 * How the target is checked after the upload: 'none'; 'size' (the target's size as the datastore
 * reports it); 'sha256' (the target read back and hashed, compared with the hash of the bytes sent).
 */
export type VerifyMode = 'none' | 'size' | 'sha256';

/** Largest source a text transform accepts (1 MiB): transforms are for .vmx files and disk descriptors. */
export const TRANSFORM_MAX_BYTES = 1024 * 1024;

/** Files below this size (8 MiB) are copied on the calling thread: a thread's hand-over is not worth it. */
export const OFFLOAD_MIN_BYTES = 8 * 1024 * 1024;

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
