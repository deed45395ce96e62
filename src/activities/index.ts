/** Every activity of the worker, wired to the endpoint pool. The worker is the only place that calls this. */
import { Context } from '@temporalio/activity';
import { createDatastoreActivities } from './datastore';
import type { EndpointPool } from './endpoints';
import { createEndpointActivities } from './endpoints';
import { createInventoryActivities } from './inventory';
import { createPreflightActivities } from './preflight';
import { createSwitchoverActivities } from './switchover';
import { createTestCopyActivities } from './test-copy';
import type { TransferDeps } from './transfer';
import { createTransferActivities, toActivityFailure } from './transfer';
import { createVmActivities } from './vm';

/** How often a control activity tells Temporal it is alive; the workflow's heartbeat timeout is a multiple. */
export const LIVENESS_INTERVAL_MS = 5000;

/** Activities that heartbeat with their own progress details, which a bare heartbeat would overwrite. */
const OWN_HEARTBEATS = new Set(['relocateVm', 'waitForGuestHeartbeat', 'waitForService']);

/**
 * A permanent error (PERMANENT_ERROR_TYPES: a refused request, a missing VM, a wrong password) leaves the
 * activity as a non-retryable ApplicationFailure typed with its name, as the copies' do: the history and
 * the UI then say it will not be retried, not only the workflow's retry policy.
 */
function permanentAsNonRetryable<F extends (...args: never[]) => Promise<unknown>>(fn: F): F {
  return (async (...args: never[]) => {
    try {
      return await fn(...args);
    } catch (error) {
      throw toActivityFailure(error);
    }
  }) as F;
}

/**
 * Wraps each activity so it heartbeats while it waits on vSphere. A worker that dies mid-step is then
 * noticed within the heartbeat timeout and the step is retried elsewhere, instead of after the whole
 * start-to-close timeout (with a suspended source, that wait would be downtime).
 */
function withLiveness<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    const typed = permanentAsNonRetryable(fn);
    wrapped[name] = OWN_HEARTBEATS.has(name)
      ? typed
      : async (...args: never[]) => {
          let context: Context;
          try {
            context = Context.current();
          } catch {
            return fn(...args); // called directly, outside a worker: nobody to tell
          }
          const timer = setInterval(() => context.heartbeat(), LIVENESS_INTERVAL_MS);
          try {
            return await typed(...args);
          } finally {
            clearInterval(timer);
          }
        };
  }
  return wrapped as T;
}

/** The control activities: preflight, VM and datastore steps (short vSphere calls). */
export function createControlActivities(pool: EndpointPool) {
  return withLiveness({
    ...createPreflightActivities(pool),
    ...createVmActivities(pool),
    ...createDatastoreActivities(pool),
    ...createSwitchoverActivities(pool),
    ...createEndpointActivities(pool),
    ...createInventoryActivities(pool),
    ...createTestCopyActivities(pool),
  });
}

/**
 * The data-mover activities: file copies, which may run on workers near the storage. `bytesMoved` is told
 * the bytes each copy sends as they move (default: nobody).
 */
export function createDataMoverActivities(
  pool: EndpointPool,
  options: { bytesMoved?: TransferDeps['bytesMoved'] } = {},
) {
  return createTransferActivities({
    clientFor: (name) => pool.clientFor(name),
    bytesMoved: options.bytesMoved,
  });
}
