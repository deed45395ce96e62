/**
 * Every error src/vsphere throws. One base class, `VSphereError`; faults the server returned are
 * `VSphereFaultError`s, with one subclass per fault kind the product acts on, and
 * `VSphereFaultError` itself for any other fault (it keeps the raw fault). Each error carries the
 * request context (endpoint, method, object) and a message that names all three, so a log line
 * alone says what failed where.
 */

/** Where a failed request went and what it asked for. */
export interface RequestContext {
  /** The endpoint URL, e.g. `https://vc.example.com/sdk`. */
  readonly endpoint: string;
  /** The vSphere method (`PowerOnVM_Task`) or HTTP operation (`GET /folder`). */
  readonly method: string;
  /** The object the method ran on: a managed object (`VirtualMachine:vm-42`) or a datastore path. */
  readonly object?: string | undefined;
}

/** A vSphere fault as the server sent it. */
export interface RawFault {
  /** The fault type without namespace prefix, e.g. `InvalidPowerState`. */
  readonly type: string;
  /** The server's text (faultstring or localizedMessage); may be empty. */
  readonly message: string;
  /** The fault's fields as parsed from the XML (strings, nested objects), for diagnostics. */
  readonly detail: Readonly<Record<string, unknown>>;
}

function describe(context: RequestContext): string {
  return context.object === undefined ? context.method : `${context.method} on ${context.object}`;
}

/** Base class of every error thrown by src/vsphere. Thrown as such only for failures no subclass names. */
export class VSphereError extends Error {
  override name = 'VSphereError';
  /** The endpoint URL the request went to. */
  readonly endpoint: string;
  /** The vSphere method or HTTP operation that failed. */
  readonly method: string;
  /** The object the method ran on, when there was one. */
  readonly object: string | undefined;

  constructor(context: RequestContext, message: string, options?: { cause?: unknown }) {
    super(`${describe(context)} failed: ${message} (${context.endpoint})`, options);
    this.endpoint = context.endpoint;
    this.method = context.method;
    this.object = context.object;
  }
}

/** Thrown when the server answered with a vSphere fault that no more specific class below covers. */
export class VSphereFaultError extends VSphereError {
  override name = 'VSphereFaultError';
  /** The fault as the server sent it. */
  readonly fault: RawFault;

  constructor(context: RequestContext, fault: RawFault, options?: { cause?: unknown }) {
    super(context, fault.message ? `${fault.type}: ${fault.message}` : fault.type, options);
    this.fault = fault;
  }
}

/** Thrown when a managed object or inventory item does not exist (faults ManagedObjectNotFound, NotFound), or a lookup found nothing. */
export class NotFoundError extends VSphereFaultError {
  override name = 'NotFoundError';
}

/** Thrown when a datastore file or folder does not exist (fault FileNotFound, or HTTP 404 from the file API). */
export class FileNotFoundError extends VSphereFaultError {
  override name = 'FileNotFoundError';
}

/** Thrown when a datastore file or folder to be created already exists (fault FileAlreadyExists). */
export class FileAlreadyExistsError extends VSphereFaultError {
  override name = 'FileAlreadyExistsError';
}

/** Thrown when an object to be created already exists (faults AlreadyExists, DuplicateName), e.g. registering a VM under a taken name. */
export class AlreadyExistsError extends VSphereFaultError {
  override name = 'AlreadyExistsError';
}

/**
 * Thrown when the endpoint refuses the credentials (fault InvalidLogin). Permanent: the same
 * credentials are refused again; the fix is in the configuration.
 */
export class AuthenticationError extends VSphereFaultError {
  override name = 'AuthenticationError';
}

/**
 * Thrown when the session is gone (fault NotAuthenticated, or HTTP 401/403 from the file API) and this
 * call could not be repeated after logging in again (an upload, whose stream is spent) or was refused
 * again. Transient: the session has been renewed, so a retry of the operation may succeed.
 */
export class SessionExpiredError extends VSphereFaultError {
  override name = 'SessionExpiredError';
}

/** Thrown when the logged-in user may not do the operation on the object (faults NoPermission, NotAuthorized). */
export class PermissionDeniedError extends VSphereFaultError {
  override name = 'PermissionDeniedError';
  /** The privilege the server named (NoPermission.privilegeId), when it did. */
  readonly privilegeId: string | undefined;

  constructor(context: RequestContext, fault: RawFault, options?: { cause?: unknown }) {
    super(context, fault, options);
    const id = fault.detail.privilegeId;
    this.privilegeId = typeof id === 'string' && id !== '' ? id : undefined;
    const on = fault.detail.object as
      | { $value?: unknown; value?: unknown; attributes?: { type?: unknown } }
      | string;
    const value = typeof on === 'string' ? on : (on?.$value ?? on?.value);
    const type = typeof on === 'object' ? on?.attributes?.type : undefined;
    if (this.privilegeId !== undefined)
      this.message += ` [needs ${this.privilegeId}${typeof value === 'string' ? ` on ${typeof type === 'string' ? `${type}:` : ''}${value}` : ''}; docs/privileges.md]`;
  }
}

/** Thrown when the target lacks space or capacity (faults NoDiskSpace, InsufficientResourcesFault and its kinds). */
export class InsufficientResourcesError extends VSphereFaultError {
  override name = 'InsufficientResourcesError';
}

/** Thrown when an object is in a state that forbids the operation (fault InvalidState and its kinds other than InvalidPowerState). */
export class InvalidStateError extends VSphereFaultError {
  override name = 'InvalidStateError';
}

/** Thrown when a VM's power state forbids the operation, e.g. powering on a running VM (fault InvalidPowerState). */
export class InvalidPowerStateError extends InvalidStateError {
  override name = 'InvalidPowerStateError';
  /** The power state the operation needed, when the server said. */
  readonly requestedState: string | undefined;
  /** The power state the VM was in, when the server said. */
  readonly existingState: string | undefined;

  constructor(context: RequestContext, fault: RawFault, options?: { cause?: unknown }) {
    super(context, fault, options);
    const requested = fault.detail.requestedState;
    const existing = fault.detail.existingState;
    this.requestedState = typeof requested === 'string' ? requested : undefined;
    this.existingState = typeof existing === 'string' ? existing : undefined;
    if (this.existingState !== undefined) this.message += ` [VM is ${this.existingState}]`;
  }
}

/** Thrown when another task holds the object (fault TaskInProgress); retrying later may succeed. */
export class TaskInProgressError extends VSphereFaultError {
  override name = 'TaskInProgressError';
}

/** Thrown when the endpoint does not implement the method (fault MethodNotFound), e.g. a standalone host asked for a vCenter-only call. */
export class MethodNotFoundError extends VSphereFaultError {
  override name = 'MethodNotFoundError';
}

/** Thrown when the server rejects an argument (faults InvalidArgument, InvalidProperty, InvalidType). */
export class InvalidArgumentError extends VSphereFaultError {
  override name = 'InvalidArgumentError';
  /** The offending argument or property path, when the server said. */
  readonly invalidProperty: string | undefined;

  constructor(context: RequestContext, fault: RawFault, options?: { cause?: unknown }) {
    super(context, fault, options);
    const prop = fault.detail.invalidProperty ?? fault.detail.name;
    this.invalidProperty = typeof prop === 'string' ? prop : undefined;
    if (this.invalidProperty !== undefined) this.message += ` [argument ${this.invalidProperty}]`;
  }
}

/** Thrown when a name lookup matches more than one object, so the caller must use an inventory path or moref. */
export class AmbiguousNameError extends VSphereError {
  override name = 'AmbiguousNameError';
  /** The morefs (`Type:value`) of every match. */
  readonly matches: readonly string[];

  constructor(context: RequestContext, what: string, matches: readonly string[]) {
    super(context, `${matches.length} objects match ${what}: ${matches.join(', ')}`);
    this.matches = matches;
  }
}

/** Thrown when the endpoint's certificate does not have the pinned SHA-256 thumbprint. Nothing was sent to it. */
export class ThumbprintMismatchError extends VSphereError {
  override name = 'ThumbprintMismatchError';
  /** The pinned thumbprint, colon hex upper case. */
  readonly expected: string;
  /** The thumbprint the endpoint presented, colon hex upper case. */
  readonly actual: string;

  constructor(context: RequestContext, expected: string, actual: string) {
    super(
      context,
      `TLS certificate thumbprint mismatch: expected SHA-256 ${expected}, endpoint presented ${actual}`,
    );
    this.expected = expected;
    this.actual = actual;
  }
}

/** Thrown when the endpoint cannot be reached or the connection breaks (refused, reset, TLS failure, timeout). */
export class ConnectionError extends VSphereError {
  override name = 'ConnectionError';
  /** The Node error code (`ECONNREFUSED`, `ETIMEDOUT`, `CERT_HAS_EXPIRED`...), when there was one. */
  readonly code: string | undefined;

  constructor(
    context: RequestContext,
    message: string,
    code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(context, code ? `${message} [${code}]` : message, options);
    this.code = code;
  }
}

/** Thrown when the datastore file API answers with an HTTP status the operation does not expect (other than 404). */
export class HttpStatusError extends VSphereError {
  override name = 'HttpStatusError';
  /** The HTTP status code. */
  readonly status: number;

  constructor(context: RequestContext, status: number, body: string) {
    super(context, `HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ''}`);
    this.status = status;
  }
}

/** Thrown when the endpoint's answer cannot be understood (not SOAP, missing fields, unknown version list). */
export class ProtocolError extends VSphereError {
  override name = 'ProtocolError';
}

type FaultClass = new (
  context: RequestContext,
  fault: RawFault,
  options?: { cause?: unknown },
) => VSphereFaultError;

// vim25 fault types (and the subtypes seen in practice) mapped to the class the product acts on.
const FAULT_CLASSES: Readonly<Record<string, FaultClass>> = {
  ManagedObjectNotFound: NotFoundError,
  NotFound: NotFoundError,
  FileNotFound: FileNotFoundError,
  FileAlreadyExists: FileAlreadyExistsError,
  AlreadyExists: AlreadyExistsError,
  DuplicateName: AlreadyExistsError,
  InvalidLogin: AuthenticationError,
  NotAuthenticated: SessionExpiredError,
  NoPermission: PermissionDeniedError,
  NotAuthorized: PermissionDeniedError,
  NoDiskSpace: InsufficientResourcesError,
  InsufficientResourcesFault: InsufficientResourcesError,
  InsufficientCpuResourcesFault: InsufficientResourcesError,
  InsufficientMemoryResourcesFault: InsufficientResourcesError,
  InsufficientHostCapacityFault: InsufficientResourcesError,
  InsufficientHostCpuCapacityFault: InsufficientResourcesError,
  InsufficientHostMemoryCapacityFault: InsufficientResourcesError,
  InsufficientStorageSpace: InsufficientResourcesError,
  InsufficientDisks: InsufficientResourcesError,
  InvalidPowerState: InvalidPowerStateError,
  InvalidState: InvalidStateError,
  InvalidHostState: InvalidStateError,
  InvalidDatastoreState: InvalidStateError,
  InvalidVmState: InvalidStateError,
  TaskInProgress: TaskInProgressError,
  MethodNotFound: MethodNotFoundError,
  InvalidArgument: InvalidArgumentError,
  InvalidProperty: InvalidArgumentError,
  InvalidType: InvalidArgumentError,
};

/** Builds the error class that matches `fault.type` (the generic `VSphereFaultError` when none does). */
export function faultError(
  context: RequestContext,
  fault: RawFault,
  options?: { cause?: unknown },
): VSphereFaultError {
  const Class = FAULT_CLASSES[fault.type] ?? VSphereFaultError;
  return new Class(context, fault, options);
}
