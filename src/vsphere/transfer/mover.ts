/**
 * @internal Downloads on worker threads (./download-thread.mjs) for the file copy (./index): the
 * thread GETs the source, hashes it and hands over its bytes in blocks, this thread uploads them and
 * hands each block back once the socket has taken it. A copy then runs on two threads, like `curl |
 * curl` on two processes, and its memory is a fixed set of blocks (bench/TUNING.md).
 *
 * The threads are shared by every copy of the process, started on first use, and do not keep the
 * process alive while idle.
 */
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { packagePath } from '../../package-root';
import type { DatastorePath } from '../datastore-path';
import type { RequestContext, VSphereError } from '../errors';
import { ConnectionError, ThumbprintMismatchError } from '../errors';
import type { DatastoreFiles } from '../files';
import type { Trust } from '../tls';

/** Bytes per block handed between the threads: the upload's write size (bench/TUNING.md, fourth round). */
const BLOCK_BYTES = 512 * 1024;
/** Blocks per download: its read-ahead, and all the memory it uses (2 MiB). */
const BLOCKS_PER_DOWNLOAD = 4;

const THREAD_URL = pathToFileURL(packagePath('src', 'vsphere', 'transfer', 'download-thread.mjs'));

type FromThread =
  | { type: 'head'; id: number; status: number; length: number | undefined; body: string | undefined }
  | { type: 'block'; id: number; buf: ArrayBuffer; bytes: number; size: number }
  | { type: 'end'; id: number; bytes: number; sha256: string }
  | {
      type: 'error';
      id: number;
      message: string;
      code: string | undefined;
      idle: boolean;
      expected: string | undefined;
      actual: string | undefined;
    };

/** A download running on a thread. */
export interface ThreadDownload {
  /** Bytes of the file (Content-Length). */
  readonly length: number;
  /** The file's bytes in blocks; hand each to `release` once uploaded. Fails with the download's typed error. */
  readonly stream: Readable;
  /** Gives a block back to the thread for reuse. */
  release(chunk: Buffer): void;
  /**
   * SHA-256 hex of every byte, once the thread has read them all (it hashes each block before handing it
   * over, so this resolves as soon as the last block has arrived).
   */
  readonly sha256: Promise<string>;
  /** Stops the download (idempotent). */
  stop(): void;
}

/** Options of `threadDownload`. */
export interface ThreadDownloadOptions {
  /** Stops the download; it then fails with the signal's reason. */
  readonly signal: AbortSignal | undefined;
  /** No byte read and no block given back for this long fails the download with `idleError()`. */
  readonly idleTimeoutMs: number;
  /** Called with the running byte count on every block. */
  readonly onBlock: (bytes: number) => void;
  /** The error of an idle download. */
  readonly idleError: () => VSphereError;
}

/**
 * Starts a GET of `path` on a download thread; resolves once the server answered with the headers, with
 * the typed error `files.get` would throw otherwise (`context` names the request in errors). Resolves
 * undefined when the client's agent has no trust a thread can apply (an agent not made by createAgent) or
 * the answer is not framed by Content-Length: the caller then copies on its own thread.
 */
export async function threadDownload(
  files: DatastoreFiles,
  path: DatastorePath,
  context: RequestContext,
  options: ThreadDownloadOptions,
): Promise<ThreadDownload | undefined> {
  for (let attempt = 0; ; attempt++) {
    const ticket = await files.downloadTicket(path);
    if (ticket.trust === undefined) return undefined;
    const started = await pool().start(ticket.url, ticket.cookie, ticket.trust, context, options);
    if ('download' in started) return started.download;
    // Not a Content-Length answer (not seen from the file API): the caller copies the file itself.
    if ('unframed' in started) return undefined;
    const { status, body } = started;
    // A GET can be repeated safely: after a lost session, log in again once and retry.
    if ((status === 401 || status === 403) && attempt === 0) {
      await files.relogin(ticket.generation);
      continue;
    }
    throw await files.failedDownload(path, status, body, ticket.generation);
  }
}

type Started = { download: ThreadDownload } | { status: number; body: string } | { unframed: true };

interface Pending {
  head(msg: FromThread & { type: 'head' }): void;
  message(msg: FromThread): void;
  fail(err: Error): void;
}

interface Thread {
  readonly worker: Worker;
  readonly active: Map<number, Pending>;
}

/** The download threads: as many as the other cores, at most 4; each download on the least busy one. */
class ThreadPool {
  readonly #threads: Thread[] = [];
  readonly #size = Math.max(1, Math.min(4, availableParallelism() - 1));
  #nextId = 1;

  start(
    url: string,
    cookie: string | undefined,
    trust: Trust,
    context: RequestContext,
    options: ThreadDownloadOptions,
  ): Promise<Started> {
    options.signal?.throwIfAborted();
    const thread = this.#pick();
    const id = this.#nextId++;
    const { worker, active } = thread;
    return new Promise<Started>((resolve, reject) => {
      let stream: Readable | undefined;
      let settled = false;
      let resolveDigest: (sha256: string) => void = () => {};
      let rejectDigest: (err: Error) => void = () => {};
      const sha256 = new Promise<string>((res, rej) => {
        resolveDigest = res;
        rejectDigest = rej;
      });
      sha256.catch(() => undefined);
      // The thread is done with this download (ended, failed, or told to stop).
      const settle = () => {
        if (settled) return;
        settled = true;
        active.delete(id);
        options.signal?.removeEventListener('abort', onAbort);
        if (active.size === 0) worker.unref();
      };
      const stop = () => {
        if (settled) return;
        worker.postMessage({ type: 'abort', id });
        settle();
        rejectDigest(new Error('the download was stopped'));
      };
      const failWith = (err: Error) => {
        settle();
        rejectDigest(err);
        if (stream === undefined) reject(err);
        else stream.destroy(err);
      };
      const onAbort = () => {
        const reason: unknown = options.signal?.reason;
        stop();
        if (stream === undefined) reject(reason);
        else stream.destroy(reason instanceof Error ? reason : new Error(String(reason)));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      active.set(id, {
        head: (msg) => {
          if (msg.length === undefined) {
            settle();
            resolve({ status: msg.status, body: msg.body ?? '' });
            return;
          }
          stream = new Readable({ objectMode: true, highWaterMark: BLOCKS_PER_DOWNLOAD, read() {} });
          resolve({
            download: {
              length: msg.length,
              stream,
              // Also once the download has ended: the thread keeps the block for its next download.
              release: (chunk) => {
                if (chunk.byteOffset !== 0 || chunk.buffer.byteLength !== BLOCK_BYTES) return;
                const buf = chunk.buffer as ArrayBuffer;
                worker.postMessage({ type: 'free', id, buf }, [buf]);
              },
              sha256,
              stop,
            },
          });
        },
        message: (msg) => {
          if (msg.type === 'block') {
            options.onBlock(msg.bytes);
            stream?.push(Buffer.from(msg.buf, 0, msg.size));
          } else if (msg.type === 'end') {
            settle();
            resolveDigest(msg.sha256);
            stream?.push(null);
          } else if (msg.type === 'error' && msg.code === 'UNFRAMED' && stream === undefined) {
            settle();
            resolve({ unframed: true });
          } else if (msg.type === 'error') {
            failWith(threadError(context, msg, options));
          }
        },
        fail: (err) => failWith(new ConnectionError(context, err.message, undefined, { cause: err })),
      });
      worker.ref();
      worker.postMessage({
        type: 'start',
        id,
        url,
        cookie,
        trust,
        blockSize: BLOCK_BYTES,
        maxBlocks: BLOCKS_PER_DOWNLOAD,
        idleTimeoutMs: options.idleTimeoutMs,
      });
    });
  }

  #pick(): Thread {
    let best: Thread | undefined;
    for (const t of this.#threads) if (best === undefined || t.active.size < best.active.size) best = t;
    // A new thread while every thread is busy and the pool is not full.
    if (best === undefined || (best.active.size > 0 && this.#threads.length < this.#size)) {
      best = this.#spawn();
    }
    return best;
  }

  #spawn(): Thread {
    const worker = new Worker(THREAD_URL, { name: 'quickmig-download' });
    const thread: Thread = { worker, active: new Map<number, Pending>() };
    worker.on('message', (msg: FromThread) => {
      const pending = thread.active.get(msg.id);
      if (pending === undefined) return;
      if (msg.type === 'head') pending.head(msg);
      else pending.message(msg);
    });
    const lost = (err: Error) => {
      const i = this.#threads.indexOf(thread);
      if (i >= 0) this.#threads.splice(i, 1);
      for (const pending of [...thread.active.values()]) pending.fail(err);
      thread.active.clear();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the download thread exited (code ${code})`)));
    worker.unref();
    this.#threads.push(thread);
    return thread;
  }
}

function threadError(
  context: RequestContext,
  msg: FromThread & { type: 'error' },
  options: ThreadDownloadOptions,
): VSphereError {
  if (msg.idle) return options.idleError();
  if (msg.code === 'THUMBPRINT_MISMATCH') {
    return new ThumbprintMismatchError(
      { endpoint: context.endpoint, method: 'TLS handshake' },
      msg.expected ?? '',
      msg.actual ?? '(none)',
    );
  }
  return new ConnectionError(context, msg.message, msg.code);
}

let shared: ThreadPool | undefined;

function pool(): ThreadPool {
  shared ??= new ThreadPool();
  return shared;
}
