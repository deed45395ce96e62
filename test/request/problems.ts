/** The problems normalizeRequest refuses `input` with; fails the test when it accepts it or throws another error. */
import { RequestValidationError } from '../../src/request/errors';
import { normalizeRequest } from '../../src/request/request';

export function problems(input: unknown): { path: string; message: string }[] {
  try {
    normalizeRequest(input);
  } catch (error) {
    if (error instanceof RequestValidationError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a RequestValidationError');
}
