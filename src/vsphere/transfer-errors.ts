/**
 * Errors of the datastore file transfer (./transfer). They extend the library's base `VSphereError`,
 * so callers that handle "anything from src/vsphere" keep working, and carry the file they concern.
 * Failures of the underlying requests keep their own classes (ConnectionError, FileNotFoundError...).
 */
import type { RequestContext } from './errors';
import { VSphereError } from './errors';

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
