/**
 * The operator's half of the client API: each endpoint's state (`endpoints`), discovery (`inventory`),
 * and the endpoint names the workers publish, with which a request naming an unknown endpoint is refused
 * before any workflow starts.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { EndpointState } from '../activities/endpoints';
import type { InventoryListing, InventoryQuery } from '../activities/inventory';
import { ENDPOINT_DIRECTORY_MEMO, endpointDirectoryId, WORKFLOW_TYPES } from '../request/contract';
import { RequestValidationError } from '../request/errors';
import { closestName } from '../request/schema-errors';
import type { EndpointDirectory, endpointsCheck, inventoryListing } from '../workflows/operator';
import { ClientBase } from './base';

/** A request field naming an endpoint, for {@link OperatorClient.checkEndpointNames}. */
export interface EndpointField {
  /** The field's path, e.g. `source.endpoint` or `migrations[2].target.endpoint`. */
  path: string;
  endpoint: string;
}

/** The operator operations of {@link QuickmigClient}. */
export class OperatorClient extends ClientBase {
  /**
   * The endpoint names the workers of the task queue published (their directory workflow's memo), or
   * null when none did (a worker older than the directory, or none ever started): then only the worker
   * can say, when the request reaches it.
   */
  async endpointNames(): Promise<string[] | null> {
    try {
      const description = await this.temporal.workflow
        .getHandle(endpointDirectoryId(this.taskQueue))
        .describe();
      const directory = description.memo?.[ENDPOINT_DIRECTORY_MEMO] as EndpointDirectory | undefined;
      return Array.isArray(directory?.endpoints) ? directory.endpoints : null;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return null;
      throw error;
    }
  }

  /**
   * Refuses endpoint names the workers did not publish, before anything starts: RequestValidationError
   * naming each field, with the name meant when one is close ("did you mean"). Passes when no directory
   * is published (the worker still refuses an unknown endpoint, with its list).
   */
  async checkEndpointNames(fields: readonly EndpointField[]): Promise<void> {
    const known = await this.endpointNames();
    if (!known) return;
    const problems = fields
      .filter((f) => !known.includes(f.endpoint))
      .map((f) => {
        const close = closestName(f.endpoint, known);
        return {
          path: f.path,
          message: `unknown endpoint '${f.endpoint}'${close ? ` — did you mean '${close}'?` : ''} The workers on task queue ${this.taskQueue} have ${known.join(', ') || 'no endpoints'}: fix the request's endpoint name or add the endpoint to the worker configuration`,
        };
      });
    const unique = problems.filter(
      (p, i) => problems.findIndex((q) => q.path === p.path && q.message === p.message) === i,
    );
    if (unique.length === 0) return;
    const error = new RequestValidationError(unique);
    // An endpoint named on a command line (inventory, endpoints) is no request: say just what is wrong.
    if (unique.every((p) => p.path === 'endpoint')) error.message = unique.map((p) => p.message).join('; ');
    throw error;
  }

  /**
   * Checks the workers' endpoints (default all) from the worker: reachability, certificate against the
   * configured pin or CAs, login, API version. Throws NoWorkerError without a worker.
   */
  async endpoints(names: readonly string[] = []): Promise<EndpointState[]> {
    await this.checkEndpointNames(names.map((endpoint) => ({ path: 'endpoint', endpoint })));
    await this.waitForWorker();
    const id = `quickmig-check-endpoints-${randomUUID().slice(0, 8)}`;
    try {
      return await this.temporal.workflow.execute<typeof endpointsCheck>(WORKFLOW_TYPES.endpointsCheck, {
        taskQueue: this.taskQueue,
        workflowId: id,
        args: [names.length > 0 ? { endpoints: [...names] } : {}],
        workflowExecutionTimeout: '5m',
        staticSummary: `Check endpoints${names.length > 0 ? ` ${names.join(', ')}` : ''}`,
      });
    } catch (error) {
      throw await this.failureOf(id, error);
    }
  }

  /**
   * Lists VMs, hosts, datastores or networks of an endpoint (default every endpoint) with sizes and
   * states, filtered on the worker. Throws RequestValidationError for an unknown endpoint.
   */
  async inventory(query: InventoryQuery = {}): Promise<InventoryListing> {
    if (query.endpoint) await this.checkEndpointNames([{ path: 'endpoint', endpoint: query.endpoint }]);
    await this.waitForWorker();
    const id = `quickmig-inventory-${randomUUID().slice(0, 8)}`;
    try {
      return await this.temporal.workflow.execute<typeof inventoryListing>(WORKFLOW_TYPES.inventoryListing, {
        taskQueue: this.taskQueue,
        workflowId: id,
        args: [query],
        workflowExecutionTimeout: '5m',
        staticSummary: `Inventory: ${query.kind ?? 'vms'} of ${query.endpoint ?? 'every endpoint'}`,
      });
    } catch (error) {
      throw await this.failureOf(id, error);
    }
  }
}
