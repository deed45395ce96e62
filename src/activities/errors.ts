/**
 * Failures the activities raise on purpose. Temporal names a failure by the error's `name`; the
 * workflow lists the permanent ones in `nonRetryableErrorTypes`, so they fail at once while anything
 * else (a dropped connection, a 503, a busy object) is retried.
 */
import type { MigrationPlan } from '../planner/plan';
import { FAILURE_TYPES } from '../request/contract';

/** Thrown when a request names an endpoint that the worker's configuration does not have. */
export class UnknownEndpointError extends Error {
  override readonly name = FAILURE_TYPES.unknownEndpoint;
  constructor(
    readonly endpoint: string,
    readonly known: readonly string[],
  ) {
    super(
      `unknown endpoint '${endpoint}': the worker is configured for ${known.join(', ') || 'no endpoints'}; fix the request's endpoint name or add the endpoint to the worker configuration`,
    );
  }
}

/** Thrown when preflight finds blocking problems; nothing was changed. */
export class PreflightBlockedError extends Error {
  override readonly name = FAILURE_TYPES.preflightBlocked;
  constructor(readonly plan: MigrationPlan) {
    const errors = plan.findings.filter((f) => f.severity === 'error');
    super(
      `preflight refused the migration: ${errors.map((f) => `${f.field ? `${f.field}: ` : ''}${f.message}`).join('; ')}`,
    );
  }
}

/** Thrown when a target folder exists and was not made by this migration: it is never overwritten or deleted. */
export class TargetFolderExistsError extends Error {
  override readonly name = 'TargetFolderExistsError';
  constructor(readonly folder: string) {
    super(
      `${folder} already exists on the target and belongs to another VM or migration; choose another target.name or target.datastore, or remove the folder`,
    );
  }
}

/** Thrown when the target VM does not report a guest heartbeat in time, so the source is not deleted. */
export class HeartbeatTimeoutError extends Error {
  override readonly name = 'HeartbeatTimeoutError';
}

/** Thrown when a guest shutdown does not power the VM off within options.shutdown.timeoutMs and the request says abort. */
export class GuestShutdownTimeoutError extends Error {
  override readonly name = 'GuestShutdownTimeoutError';
}

/** Thrown when a guest shutdown is asked of a VM whose VMware Tools are not running (fault ToolsUnavailable). */
export class GuestToolsUnavailableError extends Error {
  override readonly name = 'GuestToolsUnavailableError';
}

/** Thrown when a source quickmig stopped for the switchover runs again before its final delta is copied. */
export class SourceRestartedError extends Error {
  override readonly name = 'SourceRestartedError';
}

/**
 * Error names that are permanent: retrying cannot help. The one list of the project: workflows pass it as
 * `nonRetryableErrorTypes`, and the transfer activity raises these non-retryable itself (isPermanent in
 * ./transfer). The vSphere ones come from src/vsphere/errors.ts and src/vsphere/transfer/errors.ts; an
 * InvalidState or TaskInProgress fault is transient (another task holds the VM) and so is an expired
 * session (SessionExpiredError: the session was renewed), a connection failure or a verification
 * mismatch: those are retried. Names only, no classes: the workflow bundle imports this file.
 */
export const PERMANENT_ERROR_TYPES = [
  // Raised by the activities.
  FAILURE_TYPES.unknownEndpoint,
  FAILURE_TYPES.requestInvalid,
  FAILURE_TYPES.preflightBlocked,
  'TargetFolderExistsError',
  // Raised by src/vsphere.
  'NotFoundError',
  'FileNotFoundError',
  'AlreadyExistsError',
  'FileAlreadyExistsError',
  'AuthenticationError',
  'PermissionDeniedError',
  'ThumbprintMismatchError',
  'InsufficientResourcesError',
  'InvalidArgumentError',
  'MethodNotFoundError',
  'AmbiguousNameError',
  'GuestShutdownTimeoutError',
  'GuestToolsUnavailableError',
  'SourceRestartedError',
  // A question quickmig does not answer: asking again would meet it again.
  'VmQuestionError',
  'TransformError',
] as const;
