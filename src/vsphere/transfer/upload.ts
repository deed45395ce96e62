/**
 * @internal The three ways a file is uploaded: streamed on this thread (GET piped into PUT, hashed on the
 * way), offloaded (the download and its hash on a worker thread), or transformed (a small text file read
 * whole, rewritten, then uploaded).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { VSphereClient } from '../client';
import type { DatastorePath } from '../datastore-path';
import { formatDatastorePath } from '../datastore-path';
import { VSphereError } from '../errors';
import { toConnectionError } from '../http-io';
import {
  context,
  errorMessage,
  idleError,
  TransformError,
  targetError,
  targetSpaceError,
  tooLarge,
} from './errors';
import type { ThreadDownload } from './mover';
import type { Io, Sent } from './streams';
import { HashingCounter, Watchdog, watchedThreadDownload } from './streams';
import { TRANSFORM_MAX_BYTES } from './types';

/** @internal The copy on this thread: the source's GET piped through a HashingCounter into the PUT. */
export async function uploadStreamed(
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
  let size: number | undefined;
  try {
    const download = await sourceClient.files.get(src, { signal: watchdog.signal });
    stream = download.stream;
    size = download.length ?? (await sourceClient.files.stat(src)).size;
    if (size === undefined)
      throw new VSphereError(sourceContext, 'the server did not say how large the file is');
    const length = size;
    watchdog.kick();
    const hasher = new HashingCounter(
      length,
      sourceContext,
      (bytes) => io.reporter.update('copy', bytes, length),
      () => watchdog.kick(),
    );
    // A failure of the download is the source's, whatever the upload makes of it: hand the upload a
    // typed source error (files.put keeps VSphereErrors as they are).
    stream.once('error', (err) => hasher.destroy(toConnectionError(sourceContext, err)));
    stream.pipe(hasher);
    await targetClient.files.put(dst, hasher, length, { signal: watchdog.signal });
    io.reporter.end('copy', length, length);
    return { size: length, sha256: hasher.digest() };
  } catch (err) {
    throw watchdog.reason() ?? (await targetSpaceError(err, targetClient, dst, size ?? 0));
  } finally {
    watchdog.stop();
    if (stream !== undefined && !stream.readableEnded) stream.destroy();
  }
}

/**
 * The copy with the download and its hash on a worker thread (./mover): this thread only uploads the
 * blocks the thread hands over. Undefined when the source client's trust cannot be given to a thread.
 */
export async function uploadOffloaded(
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
    throw watchdog.reason() ?? (await targetSpaceError(err, targetClient, dst, size));
  } finally {
    watchdog.stop();
    download?.stop();
  }
}

/** @internal The copy of a small text file read whole, rewritten by `transform`, then uploaded. */
export async function uploadTransformed(
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
      throw err instanceof VSphereError ? err : toConnectionError(sourceContext, err);
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
