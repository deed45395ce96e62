import { FAILURE_TYPES } from './contract';

/** One problem in a migration request: the field as a JSON path (`target.datastore`) and what to do. */
export interface RequestProblem {
  /** Dotted path of the field, e.g. `target.disks[0].index`; `(request)` for the request itself. */
  readonly path: string;
  /** What is wrong and how to fix it, e.g. `must be one of auto, vmotion, quick-migration`. */
  readonly message: string;
}

/**
 * Thrown when a migration request does not match the request schema. The message lists every
 * problem, one per line, so an operator can fix them all in one go.
 */
export class RequestValidationError extends Error {
  override readonly name: string = FAILURE_TYPES.requestInvalid;
  /** Every problem found, in document order. */
  readonly problems: readonly RequestProblem[];

  constructor(problems: readonly RequestProblem[], options?: ErrorOptions) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const lines = problems.map((p) => `  - ${p.path}: ${p.message}`);
    super([`invalid migration request (${count}):`, ...lines].join('\n'), options);
    this.problems = problems;
  }
}

/**
 * Thrown when the text of a migration request is not valid JSON. It is a RequestValidationError,
 * so callers that report request problems need only one catch.
 */
export class RequestSyntaxError extends RequestValidationError {
  override readonly name: string = 'RequestSyntaxError';
  /** 1-based line of the error. */
  readonly line: number;
  /** 1-based column of the error. */
  readonly column: number;
  /** 0-based character offset of the error. */
  readonly position: number;

  constructor(detail: string, position: number, line: number, column: number, options?: ErrorOptions) {
    super(
      [{ path: '(request)', message: `malformed JSON at line ${line}, column ${column}: ${detail}` }],
      options,
    );
    this.position = position;
    this.line = line;
    this.column = column;
  }
}
