/**
 * How the workflows call their activities: the retry policy, the timeouts per kind of step (short
 * vSphere calls, long tasks that heartbeat, data movers, planning reads) and the one-line summaries the
 * Temporal UI shows. Proxies are made by functions, not at module level: clients import the workflow
 * modules for their queries and types, outside any workflow.
 * Workflow code: no Node builtins; the activities are imported as types only.
 */
import type { ActivityOptions } from '@temporalio/common';
import { proxyActivities } from '@temporalio/workflow';
import type { createDatastoreActivities } from '../activities/datastore';
import type { createEndpointActivities } from '../activities/endpoints';
// A plain list of names from a module without I/O; the activities themselves are imported as types only.
import { PERMANENT_ERROR_TYPES } from '../activities/errors';
import type { createInventoryActivities } from '../activities/inventory';
import type { createPreflightActivities } from '../activities/preflight';
import type { createSwitchoverActivities } from '../activities/switchover';
import type { createTestCopyActivities } from '../activities/test-copy';
import type { createTransferActivities } from '../activities/transfer';
import type { createVmActivities } from '../activities/vm';
import type { QuickMigrationOptions } from './definitions';

/** The control-plane activities: preflight, VM, datastore and switchover calls. */
export type ControlActivities = ReturnType<typeof createPreflightActivities> &
  ReturnType<typeof createVmActivities> &
  ReturnType<typeof createDatastoreActivities> &
  ReturnType<typeof createSwitchoverActivities> &
  ReturnType<typeof createTestCopyActivities>;
/** The data movers: file copies between datastores. */
export type TransferActivities = ReturnType<typeof createTransferActivities>;

/** Error names that fail an activity at once; everything else is retried. */
export const NON_RETRYABLE = [...PERMANENT_ERROR_TYPES];

/** Backoff of every retried activity: 1 s doubling to 30 s; the permanent errors are not retried. */
const retry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  nonRetryableErrorTypes: NON_RETRYABLE,
};

/**
 * Short vSphere calls: a few seconds each, retried on transient faults (10 attempts, backoff 1 s to
 * 30 s). `scheduleToCloseTimeout` bounds a step with its retries (default 15 minutes), so a fault that
 * looks transient but persists (a VM locked by another task, a host that stays disconnected) fails the
 * migration and rolls it back instead of retrying for hours, while a blip of a few minutes is ridden out.
 * RELIABILITY.md explains the numbers.
 */
export function controlActivities(options: QuickMigrationOptions) {
  return proxyActivities<ControlActivities>({
    startToCloseTimeout: options.controlStepTimeout ?? '10m',
    scheduleToCloseTimeout: options.controlRetryTimeout ?? '15m',
    // The activities heartbeat every 5 s while they wait (src/activities/index.ts): a dead worker is
    // noticed in 30 s, not after the step's whole timeout.
    heartbeatTimeout: '30s',
    retry: { ...retry, maximumAttempts: 10 },
  });
}

/** Long vSphere tasks that heartbeat (relocation, waiting for the guest): 12 h, 5 attempts. */
export function longControlActivities() {
  return proxyActivities<ControlActivities>({
    startToCloseTimeout: '12h',
    heartbeatTimeout: '2m',
    retry: { ...retry, maximumAttempts: 5 },
  });
}

/**
 * File copies, on the data-mover task queue when one is given: 24 h, 20 attempts, and a heartbeat
 * timeout (default 1 minute) after which Temporal retries the copy, perhaps on another worker.
 */
export function transferActivities(options: QuickMigrationOptions, ownTaskQueue: string) {
  return proxyActivities<TransferActivities>({
    taskQueue: options.dataMoverTaskQueue ?? ownTaskQueue,
    startToCloseTimeout: '24h',
    heartbeatTimeout: options.transferHeartbeatTimeout ?? '1m',
    retry: { ...retry, maximumAttempts: 20 },
  });
}

/** Planning reads (`planOnly`): a dry run of preflight, 5 minutes, 3 attempts. */
export function planningActivities() {
  return proxyActivities<ReturnType<typeof createPreflightActivities>>({
    startToCloseTimeout: '5m',
    retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
  });
}

/** The operator's reads (`checkEndpoints`, `listInventory`): 5 minutes, 3 attempts, like planning. */
export function operatorActivities() {
  return proxyActivities<
    ReturnType<typeof createEndpointActivities> & ReturnType<typeof createInventoryActivities>
  >({
    startToCloseTimeout: '5m',
    retry: { initialInterval: '1s', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
  });
}

/**
 * Call-site options of the rollback step that powers a stopped source on again: retried every 10 s
 * at most, without an attempt limit, for up to `sourceReturnTimeout` (default 24 h), so a source
 * host that went away comes back to a running source, whenever that is (patch SOURCE_HOST_RETURN).
 */
export function sourceReturnOptions(options: QuickMigrationOptions): Partial<ActivityOptions> {
  return {
    scheduleToCloseTimeout: options.sourceReturnTimeout ?? '24h',
    // Infinity: no attempt limit (the SDK refuses 0 here); the schedule-to-close timeout bounds it.
    retry: { maximumInterval: '10s', maximumAttempts: Number.POSITIVE_INFINITY },
  };
}

/** Call-site options of the switchover's steps on the stopped source: `switchoverRetryTimeout` bounds them. */
export function switchoverSourceOptions(options: QuickMigrationOptions): Partial<ActivityOptions> {
  return options.switchoverRetryTimeout ? { scheduleToCloseTimeout: options.switchoverRetryTimeout } : {};
}

/** Runs an activity with a one-line summary and call-site options (merged over the proxy's). */
export function stepWith<A extends unknown[], R>(
  activity: Summarizable<A, R>,
  options: Partial<ActivityOptions>,
  summary: string,
  ...args: A
): Promise<R> {
  return activity.executeWithOptions({ ...options, summary } as ActivityOptions, args);
}

/** An activity proxy that takes call-site options (all of proxyActivities' functions do). */
interface Summarizable<A extends unknown[], R> {
  executeWithOptions(options: ActivityOptions, args: A): Promise<R>;
}

/** Runs an activity with a one-line summary, which the Temporal UI shows in the event history. */
export function step<A extends unknown[], R>(
  activity: Summarizable<A, R>,
  summary: string,
  ...args: A
): Promise<R> {
  return activity.executeWithOptions({ summary }, args);
}
