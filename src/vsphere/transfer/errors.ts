/**
 * Errors of the datastore file transfer (./index). They extend the library's base `VSphereError`,
 * so callers that handle "anything from src/vsphere" keep working, and carry the file they concern.
 * Failures of the underlying requests keep their own classes (ConnectionError, FileNotFoundError...);
 * the internal helpers below build those the copy raises itself (idle timeout, full target).
 */
import type { VSphereClient } from '../client';
import type { DatastorePath } from '../datastore-path';
import { formatDatastorePath } from '../datastore-path';
import type { RequestContext } from '../errors';
import { ConnectionError, HttpStatusError, InsufficientResourcesError, VSphereError } from '../errors';
import { TRANSFORM_MAX_BYTES } from './types';

/**
 * Thrown when the file on the target does not hold what was sent: a different size (verify 'size' or
 * 'sha256') or different bytes (verify 'sha256'). Transient: copying the file again may succeed.
 */
export class VerificationError extends VSphereError {
  override name = 'VerificationError';
  /** The source datastore path. */
  readonly source: string;
  /** The target datastore path that failed the check. */
  readonly target: string;
  /** Which comparison failed. */
  readonly check: 'size' | 'sha256';
  /** What was sent: the byte count (check 'size') or the SHA-256 hex of the bytes sent. */
  readonly expected: string;
  /** What the target holds: its size or the SHA-256 hex of its bytes read back. */
  readonly actual: string;

  constructor(
    context: RequestContext,
    source: string,
    target: string,
    check: 'size' | 'sha256',
    expected: string,
    actual: string,
  ) {
    super(
      context,
      check === 'size'
        ? `${target} holds ${actual} bytes, ${expected} were sent (copied from ${source})`
        : `${target} has SHA-256 ${actual}, the bytes sent had ${expected} (copied from ${source})`,
    );
    this.source = source;
    this.target = target;
    this.check = check;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * Thrown when a text transform cannot be applied: the source is larger than the transform limit, or the
 * transform function threw. Permanent: the same input fails the same way.
 */
export class TransformError extends VSphereError {
  override name = 'TransformError';
  /** The source datastore path. */
  readonly source: string;

  constructor(context: RequestContext, source: string, message: string, options?: { cause?: unknown }) {
    super(context, message, options);
    this.source = source;
  }
}

/**
 * @internal The file API answers a PUT that does not fit with HTTP 507; src/vsphere reports that as a plain
 * HttpStatusError, while the product acts on InsufficientResourcesError (a full datastore is permanent).
 */
export function targetError(err: unknown): unknown {
  if (err instanceof HttpStatusError && err.status === 507) {
    return new InsufficientResourcesError(
      { endpoint: err.endpoint, method: err.method, object: err.object },
      {
        type: 'NoDiskSpace',
        message: 'the target datastore has not enough free space (HTTP 507)',
        detail: {},
      },
      { cause: err },
    );
  }
  return err;
}

/**
 * @internal `targetError` for the PUT of `needed` bytes to `dst`, the full datastore named with the
 * shortfall: what the target reports free now (another writer may have taken the space while the copy
 * ran), what the file needs, and the difference. Other errors are returned as `targetError` makes them.
 */
export async function targetSpaceError(
  err: unknown,
  client: VSphereClient,
  dst: DatastorePath,
  needed: number,
): Promise<unknown> {
  const typed = targetError(err);
  if (!(typed instanceof InsufficientResourcesError) || !(err instanceof HttpStatusError)) return typed;
  let free: number | undefined;
  try {
    const item = await client.inventory.findDatastore(dst.datastore);
    free = (await client.facts.datastore(item.ref)).freeBytes;
  } catch {
    free = undefined;
  }
  const need = `${formatDatastorePath(dst)} needs ${mib(needed)}`;
  const message =
    free === undefined
      ? `datastore ${dst.datastore} is full: ${need} (HTTP 507)`
      : free < needed
        ? `datastore ${dst.datastore} is full: ${need}, ${mib(free)} free, short by ${mib(needed - free)} (HTTP 507)`
        : `datastore ${dst.datastore} refused the file as full (HTTP 507): ${need} and reports ${mib(free)} free`;
  return new InsufficientResourcesError(
    { endpoint: err.endpoint, method: err.method, object: err.object },
    {
      type: 'NoDiskSpace',
      message,
      detail: { datastore: dst.datastore, neededBytes: needed, freeBytes: free },
    },
    { cause: err },
  );
}

/** Bytes as MiB with one decimal and the exact count, e.g. `16.0 MiB (16777216 bytes)`. */
function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB (${bytes} bytes)`;
}

/** @internal The error of a phase in which no byte moved for `ms`. */
export function idleError(ctx: RequestContext, what: string, ms: number): ConnectionError {
  return new ConnectionError(ctx, `${what}: no byte moved for ${Math.round(ms / 1000)} s`, 'ETIMEDOUT');
}

/** @internal The error of a transform whose source is over TRANSFORM_MAX_BYTES. */
export function tooLarge(ctx: RequestContext, source: string, size: number): TransformError {
  return new TransformError(
    ctx,
    source,
    `the file has ${size} bytes or more; a transform takes at most ${TRANSFORM_MAX_BYTES}`,
  );
}

/** @internal The request context of an operation on `p` through `client`. */
export function context(client: VSphereClient, method: string, p: DatastorePath): RequestContext {
  return { endpoint: client.endpoint, method, object: formatDatastorePath(p) };
}

/** @internal The message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
