/**
 * Failures of the client API beyond request validation (RequestValidationError in ./errors). Each is
 * thrown with a message an operator can act on, and carries its context as readonly fields.
 */

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
  ) {
    super(
      `no quickmig worker polls task queue '${taskQueue}' on ${address}; start one with 'quickmig worker --config FILE' (it holds the vSphere credentials), or name the right --task-queue`,
    );
  }
}

/**
 * Thrown when a migration or a plan ends in failure. `type` is the root failure's type: the worker's
 * `RequestValidationError`, `UnknownEndpointError` or `PreflightBlockedError` (nothing was changed), or
 * `MigrationFailed` (it failed after changing things and rolled back; `undone` lists what it undid).
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
    // 'InvalidRequestError': what workers before the one request error class called it.
    return ['RequestValidationError', 'InvalidRequestError', 'UnknownEndpointError'].includes(this.type);
  }

  /** True when preflight found blocking problems; nothing was changed. */
  get blocked(): boolean {
    return this.type === 'PreflightBlockedError';
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

/** Thrown when an approval or a cancellation is refused, with the workflow's reason. */
export class OperationRefusedError extends QuickmigClientError {
  override readonly name: string = 'OperationRefusedError';
  constructor(
    readonly migrationId: string,
    readonly operation: 'approve' | 'cancel',
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
