/** Thrown when the lab cannot be built, started, inspected or stopped; the message says what to do. */
export class LabError extends Error {
  override readonly name = 'LabError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
