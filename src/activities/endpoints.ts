/**
 * One logged-in vSphere client per configured endpoint, shared by every activity of the worker. Endpoint
 * names come from migration requests; credentials and TLS trust come from the worker configuration only.
 */
import type { EndpointConfig } from '../config/config';
import type { Logger } from '../vsphere';
import { VSphereClient } from '../vsphere';
import { UnknownEndpointError } from './errors';

/** Gives activities a connected client by endpoint name. */
export interface EndpointPool {
  /** The connected client of `name`; connects on first use. */
  clientFor(name: string): Promise<VSphereClient>;
  /** Names of the configured endpoints. */
  names(): string[];
  /** Logs out of every endpoint. */
  close(): Promise<void>;
}

/** Builds the pool over the worker's configured endpoints. */
export function createEndpointPool(
  endpoints: ReadonlyMap<string, EndpointConfig>,
  logger?: Logger,
): EndpointPool {
  const clients = new Map<string, Promise<VSphereClient>>();
  return {
    clientFor(name) {
      const config = endpoints.get(name);
      if (!config) throw new UnknownEndpointError(name, [...endpoints.keys()]);
      let client = clients.get(name);
      if (!client) {
        client = VSphereClient.connect({
          url: config.url,
          username: config.username,
          password: config.password.reveal(),
          tls: config.tls,
          ...(logger ? { logger } : {}),
        });
        // A failed login is not cached: the next activity attempt logs in again.
        client.catch(() => clients.delete(name));
        clients.set(name, client);
      }
      return client;
    },
    names: () => [...endpoints.keys()],
    async close() {
      const all = [...clients.values()];
      clients.clear();
      await Promise.allSettled(all.map(async (c) => (await c).close()));
    },
  };
}
