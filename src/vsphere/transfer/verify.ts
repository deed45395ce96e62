/** Verification of a copied file: the target's size, or its bytes read back and hashed. */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { VSphereClient } from '../client';
import type { DatastorePath } from '../datastore-path';
import { formatDatastorePath } from '../datastore-path';
import type { RequestContext } from '../errors';
import { toConnectionError } from '../http-io';
import { context, idleError, VerificationError } from './errors';
import type { ThreadDownload } from './mover';
import type { Io, Sent } from './streams';
import { Watchdog, watchedThreadDownload } from './streams';
import type { CopyFileResult, VerifyMode } from './types';

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
 * @internal Checks the target as `verify` says; returns the SHA-256 hex of the target read back (verify
 * 'sha256'), null otherwise. Throws VerificationError on a difference.
 */
export async function verifyTarget(
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
      throw toConnectionError(readContext, err);
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
