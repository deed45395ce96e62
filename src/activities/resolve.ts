/**
 * Preflight's lookups: the objects a request names (VM, host, cluster, pool, folder), found on their
 * endpoint. A name that matches nothing, or more than one object, is refused with a RequestValidationError
 * that names the field and what to give instead.
 */

import { RequestValidationError } from '../request/errors';
import type { MigrationRequest } from '../request/request';
import { closestName } from '../request/schema-errors';
import type { HostFacts, MoRef, VmLocator, VSphereClient } from '../vsphere';
import { NotFoundError } from '../vsphere';

/** Where a lookup runs: the endpoint's client and its name (for messages). */
export interface LookupScope {
  readonly client: VSphereClient;
  readonly endpoint: string;
}

/**
 * Refuses the request for one field: a RequestValidationError with that single problem, whose message is
 * the one line `path: message` (a failure's message is shown on one line, e.g. in a batch's status).
 */
export function refuse(path: string, message: string, options?: ErrorOptions): never {
  const error = new RequestValidationError([{ path, message }], options);
  error.message = `${path}: ${message}`;
  throw error;
}

/**
 * Finds the object a request names, by name or by inventory path (`/DC1/host/Prod/Resources`). A name
 * that several objects share is refused with the paths to choose from.
 */
export async function findNamed<T extends { name: string; ref: MoRef }>(
  scope: LookupScope,
  list: readonly T[] | Promise<readonly T[]>,
  value: string,
  what: string,
  field: string,
): Promise<T> {
  const { client, endpoint } = scope;
  const items = await list;
  if (value.startsWith('/')) {
    let ref: MoRef | undefined;
    try {
      ref = await client.inventory.findByInventoryPath(value.slice(1));
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    const found = ref && items.find((i) => i.ref.value === ref.value);
    return found ?? refuse(field, `no ${what} at inventory path '${value}' on ${endpoint}`);
  }
  const matches = items.filter((i) => i.name === value);
  if (matches.length > 1)
    refuse(
      field,
      `${matches.length} ${what}s on ${endpoint} are named '${value}'; give its inventory path instead`,
    );
  return (
    matches[0] ??
    refuse(
      field,
      `no ${what} '${value}' on ${endpoint}; known: ${[...new Set(items.map((i) => i.name))].join(', ') || 'none'}`,
    )
  );
}

/** The request's VM locator in the client's terms, the request field it came from, and its value. */
function locatorOf(request: MigrationRequest): { locator: VmLocator; field: string; value: string } {
  const s = request.source;
  if (s.name !== undefined) return { locator: { name: s.name }, field: 'source.name', value: s.name };
  if (s.inventoryPath !== undefined) {
    const value = s.inventoryPath;
    return { locator: { inventoryPath: value }, field: 'source.inventoryPath', value };
  }
  if (s.moref !== undefined) {
    const locator = { ref: { type: 'VirtualMachine', value: s.moref } };
    return { locator, field: 'source.moref', value: s.moref };
  }
  const value = s.instanceUuid as string;
  return { locator: { instanceUuid: value }, field: 'source.instanceUuid', value };
}

/** The VM the request's source names; a VM that is not there is refused naming the field used. */
export async function findSourceVm(client: VSphereClient, request: MigrationRequest): Promise<MoRef> {
  const { locator, field, value } = locatorOf(request);
  try {
    return (await client.inventory.findVm(locator)).ref;
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    // A name is likely a typo of one that exists: say which (the worker alone can list the VMs).
    const close =
      'name' in locator
        ? closestName(
            value,
            (await client.inventory.listVms()).map((v) => v.name),
          )
        : undefined;
    const message = `no VM '${value}' on ${request.source.endpoint}; ${close ? `did you mean '${close}'? ` : ''}check the name or identifier ('quickmig inventory ${request.source.endpoint} vms' lists them)`;
    return refuse(field, message, { cause: error });
  }
}

/**
 * The target host: the one the request names, else the best of the named cluster's (connected, not in
 * maintenance, mounting the target datastore), else the source's host on the same endpoint, else the
 * target endpoint's only host.
 */
export async function chooseTargetHost(
  scope: LookupScope,
  request: MigrationRequest,
  sameEndpoint: boolean,
  sourceHost: MoRef,
  datastoreName: string,
): Promise<HostFacts> {
  const { client } = scope;
  const { target } = request;
  if (target.host) {
    const host = await findNamed(scope, client.inventory.listHosts(), target.host, 'host', 'target.host');
    return client.facts.host(host.ref);
  }
  if (target.cluster) {
    const list = client.inventory.listClusters();
    const cluster = await findNamed(scope, list, target.cluster, 'cluster', 'target.cluster');
    const hosts = await client.facts.hosts(cluster.hosts);
    // The first usable host that mounts the target datastore; ties go to inventory order.
    const ds = (await client.inventory.listDatastores()).find((d) => d.name === datastoreName);
    const usable = hosts.filter((h) => h.connectionState === 'connected' && !h.inMaintenanceMode);
    const mounting = usable.filter((h) => !ds || h.datastores.some((r) => r.value === ds.ref.value));
    const chosen = mounting[0] ?? usable[0] ?? hosts[0];
    return chosen ?? refuse('target.cluster', 'the cluster has no hosts; choose another cluster or a host');
  }
  if (sameEndpoint) return client.facts.host(sourceHost);
  const hosts = await client.inventory.listHosts();
  if (hosts.length !== 1 || !hosts[0]) {
    return refuse(
      'target.host',
      `name the target host or cluster; ${target.endpoint} has ${hosts.map((h) => h.name).join(', ')}`,
    );
  }
  return client.facts.host(hosts[0].ref);
}
