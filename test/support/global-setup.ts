import { labDown } from '../../src/lab/lab';
import { TEST_LAB_DIR } from './lab';

/** Stops the shared test lab after the run, if any test file started it. */
export default function setup(): () => Promise<void> {
  return async () => {
    await labDown(TEST_LAB_DIR);
  };
}
