/**
 * quickmig's public API (`import { ... } from 'quickmig'`): the client (plan, start, progress, approve,
 * cancel, result, list), the migration request with its validation, and the plan, progress and result
 * types. Everything else in src/ is internal.
 */

export type { EndpointState } from './activities/endpoints';
export type {
  InventoryDatastore,
  InventoryDisk,
  InventoryHost,
  InventoryKind,
  InventoryListing,
  InventoryNetwork,
  InventoryQuery,
  InventoryVm,
} from './activities/inventory';
export type { CopyFilesHeartbeat, HeartbeatFile } from './activities/transfer';
export type { QuickmigClientOptions } from './client/base';
export type { BatchStartOptions, LiveBatchProgress, StartedBatch } from './client/batches';
export type { RevertOptions } from './client/commit-window';
export type { ConnectOptions, ResolvedConnection } from './client/connection';
export { resolveConnection } from './client/connection';
export {
  BatchAlreadyStartedError,
  MigrationAlreadyRunningError,
  MigrationCancelledError,
  MigrationFailedError,
  MigrationNotFoundError,
  NoWorkerError,
  OperationRefusedError,
  QuickmigClientError,
} from './client/failures';
export { describeRequest, migrationIdOf, vmOf } from './client/ids';
export type {
  ListFilter,
  MigrationSummary,
  StartedMigration,
  StartOptions,
  WatchOptions,
  WorkflowKind,
} from './client/migrations';
export { QuickmigClient } from './client/migrations';
export type { EndpointField } from './client/operator';
export type { LiveProgress, TransferProgress } from './client/progress';
export type {
  DowntimeComparison,
  DowntimeInput,
  DowntimeProjection,
  DowntimeTerm,
  EnvironmentRates,
  ModeProjection,
  StatedRate,
} from './planner/downtime';
export { physicalLimit, projectMode } from './planner/downtime';
export { explainPlan } from './planner/explain';
export type {
  CopyEstimate,
  DiskPlacementPlan,
  FactValue,
  Finding,
  MigrationPlan,
  Reason,
  Relocation,
  RuleId,
  SpaceNeed,
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
export { DEFAULT_TASK_QUEUE, FAILURE_TYPES, WORKFLOW_TYPES } from './request/contract';
export type { RequestProblem } from './request/errors';
export { RequestSyntaxError, RequestValidationError } from './request/errors';
export type {
  CommitOptions,
  DiskPlacement,
  DiskType,
  Method,
  MigrationOptions,
  MigrationRequest,
  MigrationRequestInput,
  MissPolicy,
  Mode,
  PrecopyOptions,
  ShutdownOptions,
  SourceHandling,
  SourceSpec,
  Switchover,
  SwitchoverWindow,
  TargetSpec,
  TargetVmOptions,
  TestOptions,
  Verify,
  VmIdentity,
} from './request/request';
export { normalizeRequest, parseRequest } from './request/request';
export type { BatchCounts, BatchProgress, BatchResult, BatchVm, BatchVmState } from './workflows/batch';
export { batchProgressQuery } from './workflows/batch';
export type {
  CommitOutcome,
  CommitWindowStatus,
  MigrationProgress,
  MigrationResult,
  Phase,
  PrecopyStatus,
  RevertOutcome,
  SwitchoverReport,
  VerifiedFile,
} from './workflows/definitions';
export { approveSwitchoverUpdate, commitUpdate, progressQuery, revertUpdate } from './workflows/definitions';
export {
  METHOD_ATTRIBUTE,
  MODE_ATTRIBUTE,
  PHASE_ATTRIBUTE,
  SEARCH_ATTRIBUTE_KEYS,
  VM_ATTRIBUTE,
} from './workflows/search-attributes';
