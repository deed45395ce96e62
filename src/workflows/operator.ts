/**
 * The operator's workflows: reads the CLI runs on the worker because the worker alone holds the
 * credentials (`quickmig endpoints`, `quickmig inventory`), and the directory through which the worker
 * publishes its endpoint names, so that a client can refuse an unknown endpoint before anything starts.
 * Workflow code: no Node builtins; activities as types only.
 */
import { condition } from '@temporalio/workflow';
import type { EndpointState } from '../activities/endpoints';
import type { InventoryListing, InventoryQuery } from '../activities/inventory';
import { operatorActivities } from './activity-options';

/** Checks the worker's endpoints (default all): reachability, certificate, login, API version. */
export async function endpointsCheck(input: { endpoints?: string[] } = {}): Promise<EndpointState[]> {
  return operatorActivities().checkEndpoints(input);
}

/** Lists VMs, hosts, datastores or networks of an endpoint (or of all), with sizes and states. */
export async function inventoryListing(query: InventoryQuery): Promise<InventoryListing> {
  return operatorActivities().listInventory(query);
}

/**
 * What a worker publishes about itself in the memo of its task queue's directory workflow (memo key
 * `directory`): clients read it with DescribeWorkflowExecution, which needs no worker and no credentials.
 */
export interface EndpointDirectory {
  /** The configured endpoint names. */
  endpoints: string[];
  /** Each endpoint's state as the worker found it at start (login, certificate); null when not checked. */
  states: EndpointState[] | null;
  /** The worker that published it (Temporal identity), and when (ISO 8601). */
  worker: string;
  publishedAt: string;
}

/**
 * The directory of a task queue's workers: it only holds its memo (set at start by the worker, which
 * replaces the previous run on each start) and waits; no timers, no history beyond its start.
 */
export async function endpointDirectory(_directory: EndpointDirectory): Promise<void> {
  await condition(() => false);
}
