/**
 * How quickmig names its workflows in Temporal: the VM a request moves, the workflow id derived from it
 * (one migration per VM at a time), and the one-line summaries the Temporal UI shows.
 */
import type { BatchPlan } from '../request/batch-plan';
import type { MigrationRequest, MigrationRequestInput } from '../request/request';

/** The VM a request names, as `<endpoint>/<name | moref | path | uuid>`. */
export function vmOf(request: MigrationRequestInput | MigrationRequest): string {
  const s = request.source;
  return `${s.endpoint}/${s.name ?? s.moref ?? s.inventoryPath ?? s.instanceUuid}`;
}

/**
 * The workflow id of a request's migration, `quickmig-<endpoint>-<vm identity>`, sanitised to
 * letters, digits, `.`, `_` and `-`. One id per VM means one VM cannot be migrated twice at once:
 * `start` uses the conflict policy FAIL while a migration runs, and allows a new run once it closed.
 */
export function migrationIdOf(request: MigrationRequestInput | MigrationRequest): string {
  const sanitised = vmOf(request)
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `quickmig-${sanitised}`;
}

/** The workflow id of a request's dry run: unique per call, so plans never collide with each other. */
export function planIdOf(request: MigrationRequest, unique: string): string {
  return `quickmig-plan-${migrationIdOf(request).slice('quickmig-'.length)}-${unique}`;
}

/** A one-line description of a request for the UI's summary: `esx-a/app01 → esx-b datastore1 (cold)`. */
export function describeRequest(request: MigrationRequest): string {
  const where = [request.target.endpoint, request.target.host ?? request.target.cluster]
    .filter(Boolean)
    .join('/');
  const options = [
    request.options.method !== 'auto' ? request.options.method : '',
    request.options.mode !== 'auto' ? request.options.mode : '',
    request.options.switchover === 'manual' ? 'manual switchover' : '',
    request.options.finalizeInstantRecovery ? 'finalize Instant Recovery' : '',
  ].filter(Boolean);
  return `Migrate ${vmOf(request)} → ${where} datastore ${request.target.datastore}${options.length ? ` (${options.join(', ')})` : ''}`;
}

/** A one-line description of a batch for the UI's summary: `Batch wave-1: 12 migrations (global 4, ...)`. */
export function describeBatch(plan: BatchPlan): string {
  const { global, perSourceHost, perTargetDatastore } = plan.limits;
  const limits = [
    global ? `global ${global}` : '',
    perSourceHost ? `${perSourceHost} per source host` : '',
    perTargetDatastore ? `${perTargetDatastore} per target datastore` : '',
  ].filter(Boolean);
  return `Batch${plan.name ? ` ${plan.name}` : ''}: ${plan.migrations.length} migration(s), ${limits.length ? `at most ${limits.join(', ')}` : 'no limits'}`;
}
