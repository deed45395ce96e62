/** Every activity of the worker, wired to the endpoint pool. The worker is the only place that calls this. */
import { createDatastoreActivities } from './datastore';
import type { EndpointPool } from './endpoints';
import { createPreflightActivities } from './preflight';
import { createTransferActivities } from './transfer';
import { createVmActivities } from './vm';

/** The control activities: preflight, VM and datastore steps (short vSphere calls). */
export function createControlActivities(pool: EndpointPool) {
  return {
    ...createPreflightActivities(pool),
    ...createVmActivities(pool),
    ...createDatastoreActivities(pool),
  };
}

/** The data-mover activities: file copies, which may run on workers near the storage. */
export function createDataMoverActivities(pool: EndpointPool) {
  return createTransferActivities({ clientFor: (name) => pool.clientFor(name) });
}
