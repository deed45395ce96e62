/** Every workflow the quickmig worker runs (the bundle's entry point). */
export { migrationBatch } from './batch';
export { endpointDirectory, endpointsCheck, inventoryListing } from './operator';
export { planMigration } from './plan-migration';
export { quickMigration } from './quick-migration';
