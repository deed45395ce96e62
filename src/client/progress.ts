/**
 * "How far is it?": a migration's progress query merged with the in-flight bytes of its pending copy,
 * read from the `copyFiles` activity's heartbeat details through the public data converter.
 *
 * Why not have the copy activity signal its progress to the workflow? Every signal is an event in
 * the workflow's history: a multi-hour copy heartbeating every two seconds would add thousands of
 * events (history is limited to 50k events / 50 MB, and replay cost grows with it). Heartbeat
 * details are kept by the server beside the pending activity and overwritten in place, which is
 * exactly what a progress bar needs.
 */
import type { WorkflowExecutionDescription, WorkflowExecutionStatusName } from '@temporalio/client';
import type { LoadedDataConverter, Payload } from '@temporalio/common';
import { fromPayloadsAtIndex } from '@temporalio/common';
import type { CopyFilesHeartbeat, HeartbeatFile } from '../activities/transfer';
import type { MigrationPlan } from '../planner/plan';
import type { MigrationProgress, Phase } from '../workflows/definitions';
import { PHASE_ATTRIBUTE, VM_ATTRIBUTE } from '../workflows/search-attributes';

/** The in-flight copy, from the pending `copyFiles` activity's last heartbeat. */
export interface TransferProgress {
  /** Bytes of this copy step done so far (files complete plus the ones in flight). */
  bytesDone: number;
  bytesTotal: number;
  rateBytesPerSec: number;
  /** Files in flight. */
  current: HeartbeatFile[];
  /** Attempt of the activity (1 unless it was retried). */
  attempt: number;
  lastHeartbeatAt: Date | null;
}

/**
 * One answer to "how far is it?": the workflow's progress query merged with the in-flight bytes of the
 * pending copy (heartbeat details), plus the execution's status and times.
 */
export interface LiveProgress extends MigrationProgress {
  id: string;
  runId: string;
  /** Temporal's status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ... */
  status: WorkflowExecutionStatusName;
  startedAt: Date;
  closedAt: Date | null;
  /** The copy under way, when one is. */
  transfer: TransferProgress | null;
  /** Bytes over every copy step so far: finished steps plus the in-flight one. */
  bytes: { done: number; total: number };
  /** Current copy rate, bytes/s; null while nothing is being copied. */
  rateBytesPerSec: number | null;
  /** Seconds until the planned bytes are copied at the current rate; null while unknown. */
  etaSeconds: number | null;
  /** While the source is stopped and the target not yet running: how long so far, in ms. */
  downtimeSoFarMs: number | null;
}

/** The progress a workflow reported, merged with its execution and the copy in flight. */
export function liveProgressOf(
  id: string,
  description: WorkflowExecutionDescription,
  progress: MigrationProgress,
  transfer: TransferProgress | null,
): LiveProgress {
  const done = progress.bytesDone + (transfer?.bytesDone ?? 0);
  const total = Math.max(progress.bytesTotal, done);
  const rate = transfer && transfer.rateBytesPerSec > 0 ? transfer.rateBytesPerSec : null;
  const running = description.status.name === 'RUNNING';
  return {
    ...progress,
    // The workflow leaves the flag set when a cancellation ends the wait; the phase is authoritative.
    awaitingApproval: progress.awaitingApproval && progress.phase === 'awaiting-approval',
    id,
    runId: description.runId,
    status: description.status.name,
    startedAt: description.startTime,
    closedAt: description.closeTime ?? null,
    transfer,
    bytes: { done, total },
    rateBytesPerSec: rate,
    etaSeconds: rate && total > done ? Math.ceil((total - done) / rate) : null,
    downtimeSoFarMs:
      running && progress.sourceStoppedAt !== null && progress.downtimeMs === null
        ? Math.max(0, Date.now() - progress.sourceStoppedAt)
        : null,
  };
}

/** The pending `copyFiles` activity's last heartbeat, or null while no copy runs. */
export async function transferOf(
  converter: LoadedDataConverter,
  description: WorkflowExecutionDescription,
): Promise<TransferProgress | null> {
  const pending = (description.raw.pendingActivities ?? []).find((a) => a.activityType?.name === 'copyFiles');
  if (!pending) return null;
  let details: Partial<CopyFilesHeartbeat> | undefined;
  try {
    details = await firstPayload<Partial<CopyFilesHeartbeat>>(converter, pending.heartbeatDetails?.payloads);
  } catch {
    // A heartbeat this client cannot read (another key, a newer format) leaves the bar without bytes.
    details = undefined;
  }
  const seconds = pending.lastHeartbeatTime?.seconds;
  return {
    bytesDone: details?.bytesDone ?? 0,
    bytesTotal: details?.bytesTotal ?? 0,
    rateBytesPerSec: details?.rateBytesPerSec ?? 0,
    current: details?.current ? [...details.current] : [],
    attempt: pending.attempt ?? 1,
    lastHeartbeatAt: seconds ? new Date(Number(seconds) * 1000) : null,
  };
}

/**
 * The first of `payloads`, through the client's codecs (payload encryption) and payload converter.
 * Codecs decode in the reverse of the order they encode in, as the SDK applies them.
 */
async function firstPayload<T>(
  converter: LoadedDataConverter,
  payloads: Payload[] | null | undefined,
): Promise<T | undefined> {
  if (!payloads?.length) return undefined;
  let decoded = payloads;
  for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  return fromPayloadsAtIndex<T>(converter.payloadConverter, 0, decoded);
}

/** The progress of a migration whose worker cannot answer the query (e.g. none runs). */
export function fallbackProgress(
  id: string,
  d: WorkflowExecutionDescription,
  error: unknown,
): MigrationProgress {
  const memoPlan = (d.memo?.plan as MigrationPlan | undefined) ?? null;
  const phase = (d.typedSearchAttributes.get(PHASE_ATTRIBUTE) ?? 'preflight') as Phase;
  return {
    migrationId: id,
    vm: d.typedSearchAttributes.get(VM_ATTRIBUTE) ?? '',
    phase,
    step: phase,
    plan: memoPlan,
    bytesDone: 0,
    bytesTotal: 0,
    sourceStoppedAt: null,
    downtimeMs: null,
    awaitingApproval: phase === 'awaiting-approval',
    waitingFor: null,
    precopy: null,
    undone: [],
    error: `progress query unanswered (${(error as Error).message}); is a worker running?`,
  };
}
