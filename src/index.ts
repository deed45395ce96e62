/**
 * quickmig's public API (`import { ... } from 'quickmig'`): the client (plan, start, progress, approve,
 * cancel, result, list), the migration request with its validation, and the plan, progress and result
 * types. Everything else in src/ is internal.
 */

export type { CopyFilesHeartbeat, HeartbeatFile } from './activities/transfer';
export type { ConnectOptions, ResolvedConnection } from './client/connection';
export { resolveConnection } from './client/connection';
// Every error the client throws (each a QuickmigClientError) is public.
export * from './client/failures';
export type {
  BatchStartOptions,
  ListFilter,
  LiveBatchProgress,
  LiveProgress,
  MigrationSummary,
  QuickmigClientOptions,
  StartedBatch,
  StartedMigration,
  StartOptions,
  TransferProgress,
  WorkflowKind,
} from './client/migrations';
export { describeRequest, migrationIdOf, QuickmigClient, vmOf } from './client/migrations';
export { explainPlan } from './planner/explain';
export type {
  DiskPlacementPlan,
  FactValue,
  Finding,
  MigrationPlan,
  Reason,
  Relocation,
  RuleId,
  StepId,
} from './planner/plan';
export type { PrecopyRound, Projection } from './planner/precopy';
export type {
  BatchLimits,
  BatchPlan,
  BatchPlanInput,
  MigrationBatchInput,
  PlanProblem,
} from './request/batch-plan';
export { normalizePlan, PlanSyntaxError, PlanValidationError, parsePlan } from './request/batch-plan';
export { DEFAULT_TASK_QUEUE } from './request/contract';
export type { RequestProblem } from './request/errors';
export { RequestSyntaxError, RequestValidationError } from './request/errors';
export type {
  DiskPlacement,
  DiskType,
  Method,
  MigrationOptions,
  MigrationRequest,
  MigrationRequestInput,
  MissPolicy,
  Mode,
  PrecopyOptions,
  SourceHandling,
  SourceSpec,
  Switchover,
  SwitchoverWindow,
  TargetSpec,
  Verify,
  VmIdentity,
} from './request/request';
export { normalizeRequest, parseRequest } from './request/request';
export type { BatchCounts, BatchProgress, BatchResult, BatchVm, BatchVmState } from './workflows/batch';
export { batchProgressQuery } from './workflows/batch';
export type {
  MigrationProgress,
  MigrationResult,
  Phase,
  PrecopyStatus,
  VerifiedFile,
} from './workflows/definitions';
export { approveSwitchoverUpdate, progressQuery } from './workflows/definitions';
export {
  METHOD_ATTRIBUTE,
  MODE_ATTRIBUTE,
  PHASE_ATTRIBUTE,
  SEARCH_ATTRIBUTE_KEYS,
  VM_ATTRIBUTE,
} from './workflows/search-attributes';
