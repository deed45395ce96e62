/**
 * @internal Stream and error helpers of the datastore file API's HTTP requests, shared by the file
 * operations (./files) and the copy (./transfer).
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { TransformCallback } from 'node:stream';
import { Transform, Writable } from 'node:stream';
import type { RequestContext } from './errors';
import { ConnectionError, VSphereError } from './errors';

/** Counts bytes, reports progress and refuses a stream longer or shorter than announced. */
export class LengthGuard extends Transform {
  #seen = 0;
  /** Bytes passed on so far. */
  get seen(): number {
    return this.#seen;
  }
  readonly #expected: number;
  readonly #onProgress: ((bytes: number) => void) | undefined;

  constructor(expected: number, onProgress: ((bytes: number) => void) | undefined) {
    super();
    this.#expected = expected;
    this.#onProgress = onProgress;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#expected) {
      callback(new RangeError(`source has more than the announced ${this.#expected} bytes`));
      return;
    }
    this.#onProgress?.(this.#seen);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#seen !== this.#expected) {
      callback(new RangeError(`source ended after ${this.#seen} of the announced ${this.#expected} bytes`));
      return;
    }
    callback();
  }
}

/**
 * The request as the last stage of a pipeline, telling `onWritten` when the socket has taken each chunk
 * (its write callback), which `pipe` into the request itself does not.
 */
export function writeThrough(req: ClientRequest, onWritten: (chunk: Buffer) => void): Writable {
  const sink = new Writable({
    highWaterMark: 0,
    autoDestroy: false,
    write(chunk: Buffer, _encoding, callback) {
      const more = req.write(chunk, (err) => {
        if (err === undefined || err === null) onWritten(chunk);
      });
      if (more) callback();
      else req.once('drain', () => callback());
    },
    final(callback) {
      req.end(() => callback());
    },
    destroy(err, callback) {
      // Not after a clean finish: the request then still waits for its answer.
      if (err !== null || !sink.writableFinished) req.destroy(err ?? undefined);
      callback(err);
    },
  });
  // Every 'error' of the request, not only the first (see DatastoreFiles.put).
  req.on('error', (err) => sink.destroy(err));
  // Torn down from outside (a refused upload): the pipeline must not wait for a drain that never comes.
  req.once('close', () => {
    if (!sink.writableFinished) sink.destroy();
  });
  return sink;
}

/** A numeric header's value; undefined when absent or not a number. */
export function numberHeader(v: string | string[] | undefined): number | undefined {
  const n = Number(Array.isArray(v) ? v[0] : v);
  return v === undefined || Number.isNaN(n) ? undefined : n;
}

/** The first 4 KiB of an answer's body (an error answer's text, for the message); reads it to its end. */
export async function readSmall(res: IncomingMessage): Promise<string> {
  let text = '';
  res.setEncoding('utf8');
  try {
    for await (const chunk of res) {
      if (text.length < 4096) text += chunk as string;
    }
  } catch {
    // The body of an error answer is only for the message.
  }
  return text;
}

/** `err` as a ConnectionError of the request, unless it is typed already. */
export function toConnectionError(context: RequestContext, err: unknown): VSphereError {
  // Already typed (a thumbprint mismatch from the agent, a length error wrapped below): keep it.
  if (err instanceof VSphereError) return err;
  const e = err as Error & { code?: string };
  return new ConnectionError(context, e.message ?? String(err), e.code, { cause: err });
}
