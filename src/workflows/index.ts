/** Every workflow the quickmig worker runs (the bundle's entry point). */
export { quickMigration } from './quick-migration';
