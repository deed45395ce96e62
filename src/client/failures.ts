/**
 * Failures of the client API beyond request validation (RequestValidationError in src/request). Each is
 * thrown with a message an operator can act on, and carries its context as readonly fields; a
 * workflow's failure becomes one of them in {@link migrationFailureOf}.
 */
import type { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/client';
import { FAILURE_TYPES } from '../request/contract';

/**
 * Failure types that mean "the request itself is wrong". `InvalidRequestError` is what workflows ended
 * with before the request error class was unified: their histories still map.
 */
const REQUEST_FAILURE_TYPES: readonly string[] = [
  FAILURE_TYPES.requestInvalid,
  'InvalidRequestError',
  FAILURE_TYPES.unknownEndpoint,
];

/** Base class of the client API's failures; `instanceof QuickmigClientError` catches them all. */
export class QuickmigClientError extends Error {
  override readonly name: string = 'QuickmigClientError';
}

/** Thrown when a migration of the same VM (same workflow id) is already running. */
export class MigrationAlreadyRunningError extends QuickmigClientError {
  override readonly name: string = 'MigrationAlreadyRunningError';
  constructor(
    readonly migrationId: string,
    readonly vm: string,
    options?: ErrorOptions,
  ) {
    super(
      `${vm} is already being migrated by ${migrationId}; watch it with 'quickmig watch ${migrationId}' or stop it with 'quickmig cancel ${migrationId}'`,
      options,
    );
  }
}

/** Thrown when no migration (workflow) has the given id in the namespace. */
export class MigrationNotFoundError extends QuickmigClientError {
  override readonly name: string = 'MigrationNotFoundError';
  constructor(
    readonly migrationId: string,
    readonly namespace: string,
    options?: ErrorOptions,
  ) {
    super(`no migration '${migrationId}' in namespace ${namespace}; 'quickmig list' shows them`, options);
  }
}

/** Thrown when no quickmig worker polls the task queue, so nothing would run the request. */
export class NoWorkerError extends QuickmigClientError {
  override readonly name: string = 'NoWorkerError';
  constructor(
    readonly taskQueue: string,
    readonly address: string,
    /** What was seen, e.g. that a started dry run was not taken in time. Default: none polls. */
    readonly detail?: string,
  ) {
    super(
      `no quickmig worker polls task queue '${taskQueue}' on ${address}${detail ? ` (${detail})` : ''}; start one with 'quickmig worker --config FILE' (it holds the vSphere credentials), or name the right --task-queue`,
    );
  }
}

/**
 * Thrown when a migration or a plan ends in failure. `type` is the root failure's type (FAILURE_TYPES
 * in src/request/contract.ts): the worker's `RequestValidationError`, `UnknownEndpointError` or
 * `PreflightBlockedError` (nothing was changed), or `MigrationFailed` (it failed after changing things
 * and rolled back; `undone` lists what it undid).
 */
export class MigrationFailedError extends QuickmigClientError {
  override readonly name: string = 'MigrationFailedError';
  constructor(
    readonly migrationId: string,
    readonly type: string,
    message: string,
    readonly step: string | null = null,
    readonly undone: readonly string[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /** True when the worker rejected the request itself (bad VM, endpoint or field): the fix is in the request. */
  get rejected(): boolean {
    return REQUEST_FAILURE_TYPES.includes(this.type);
  }

  /** True when preflight found blocking problems; nothing was changed. */
  get blocked(): boolean {
    return this.type === FAILURE_TYPES.preflightBlocked;
  }
}

/** Thrown by `result` when the migration was cancelled; `undone` lists what the rollback undid. */
export class MigrationCancelledError extends QuickmigClientError {
  override readonly name: string = 'MigrationCancelledError';
  constructor(
    readonly migrationId: string,
    readonly undone: readonly string[],
    options?: ErrorOptions,
  ) {
    super(
      `migration ${migrationId} was cancelled and rolled back${undone.length ? `: ${undone.join('; ')}` : ' (nothing to undo)'}`,
      options,
    );
  }
}

/** Thrown when an approval, a cancellation, a revert or a commit is refused, with the workflow's reason. */
export class OperationRefusedError extends QuickmigClientError {
  override readonly name: string = 'OperationRefusedError';
  constructor(
    readonly migrationId: string,
    readonly operation: 'approve' | 'cancel' | 'revert' | 'commit' | 'cleanup',
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`${operation} ${migrationId} refused: ${reason}`, options);
  }
}

/** Thrown when a batch of the same id exists already (running or finished): a plan runs once per id. */
export class BatchAlreadyStartedError extends QuickmigClientError {
  override readonly name: string = 'BatchAlreadyStartedError';
  constructor(
    readonly batchId: string,
    options?: ErrorOptions,
  ) {
    super(
      `batch ${batchId} exists already (a batch id runs once, so no VM is migrated twice); see it with 'quickmig status ${batchId}', or give the plan another name or --id`,
      options,
    );
  }
}

/**
 * A workflow's failure as the client's error: MigrationCancelledError when it was cancelled, else
 * MigrationFailedError with the root failure's type and message, the step that failed and what the
 * rollback undid (the failure's details, else `undone` as the progress query last reported it).
 */
export function migrationFailureOf(
  id: string,
  error: WorkflowFailedError,
  undone: readonly string[],
): MigrationFailedError | MigrationCancelledError {
  if (error.cause instanceof CancelledFailure)
    return new MigrationCancelledError(id, undone, { cause: error });
  const root = rootFailure(error);
  const details =
    root instanceof ApplicationFailure
      ? (root.details?.[0] as { step?: string; undone?: string[] } | undefined)
      : undefined;
  return new MigrationFailedError(
    id,
    root instanceof ApplicationFailure ? (root.type ?? 'Error') : (root?.name ?? 'Error'),
    root?.message || error.cause?.message || error.message,
    details?.step ?? null,
    details?.undone ?? undone,
    { cause: error },
  );
}

/** The innermost failure: an activity's ApplicationFailure rather than the ActivityFailure around it. */
function rootFailure(error: WorkflowFailedError): Error | undefined {
  let current: Error | undefined = error.cause;
  while (current instanceof ActivityFailure) current = current.cause;
  return current;
}

/** The message of the innermost cause: a refused update's reason rather than the SDK's wrapper. */
export function rootMessage(error: Error): string {
  let current: Error = error;
  while (current.cause instanceof Error) current = current.cause;
  return current.message;
}
