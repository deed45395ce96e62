/** Public API of the vSphere client library. Nothing here knows about Temporal. */
export { VSphereClient, type VSphereClientOptions } from './client';
export * from './datastore-path';
export type { Datastores, SearchOptions } from './datastores';
export type { CopyVirtualDiskOptions, DiskArea, VirtualDisks, VirtualDiskType } from './disks';
export * from './errors';
export type { Facts } from './facts';
export type { ByteRange, DatastoreFiles, Download, PutOptions } from './files';
export {
  cancelChoice,
  type Guest,
  type GuestState,
  type GuestWaitOptions,
  isUuidQuestion,
  movedChoice,
  parseQuestion,
  type QuestionAnswerer,
  type ShutdownOutcome,
  type VmQuestion,
  VmQuestionError,
} from './guest';
export type { Inventory, VmItem, VmLocator } from './inventory';
export { sameRef } from './inventory';
export type { CallOptions, SessionOptions } from './session';
export type { Tasks, TaskWaitOptions, TaskWaitStrategy } from './tasks';
export {
  certificateThumbprint,
  consoleLogger,
  type Logger,
  normalizeThumbprint,
  type TlsOptions,
} from './tls';
export {
  type ActiveFile,
  type CopyFileOptions,
  type CopyFileResult,
  type CopyFileSpec,
  type CopyFilesOptions,
  checkTarget,
  copyFile,
  copyFiles,
  type FileLocation,
  type FileProgress,
  isComplete,
  OFFLOAD_MIN_BYTES,
  RateMeter,
  TRANSFORM_MAX_BYTES,
  type TransferPhase,
  type TransferProgress,
  TransformError,
  VerificationError,
  type VerifyMode,
} from './transfer';
export {
  type CopyThinDiskOptions,
  copyThinDisk,
  DEFAULT_CHUNK_BYTES,
  MAX_CHUNK_BYTES,
  type ThinChunkDone,
  type ThinDiskReport,
  type ThinDiskResult,
  type ThinDiskSource,
} from './transfer/thin';
export type * from './types';
export type { MutationOptions, RegisterVmSpec, RelocateSpec, SnapshotSpec, Vms } from './vms';
