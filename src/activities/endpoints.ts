/**
 * One logged-in vSphere client per configured endpoint, shared by every activity of the worker. Endpoint
 * names come from migration requests; credentials and TLS trust come from the worker configuration only.
 */
import type { EndpointConfig } from '../config/config';
import type { PrivilegeObject } from '../planner/privileges';
import { ROLES } from '../planner/privileges';
import type { Logger, MoRef } from '../vsphere';
import { VSphereClient } from '../vsphere';
import { UnknownEndpointError } from './errors';

/** Gives activities a connected client by endpoint name. */
export interface EndpointPool {
  /** The connected client of `name`; connects on first use. */
  clientFor(name: string): Promise<VSphereClient>;
  /** Names of the configured endpoints. */
  names(): string[];
  /** Checks the named endpoints (default all) with a fresh login each: see {@link checkEndpoint}. */
  check(names?: readonly string[]): Promise<EndpointState[]>;
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
    check: (names) => checkEndpoints(endpoints, names, logger),
    async close() {
      const all = [...clients.values()];
      clients.clear();
      await Promise.allSettled(all.map(async (c) => (await c).close()));
    },
  };
}

/**
 * What a check of one endpoint found: whether it answers, whether its certificate is the trusted one,
 * whether the configured login works, and what it runs. Plain data, free of credentials.
 */
export interface EndpointState {
  /** The configured name, as requests use it. */
  name: string;
  /** The SDK URL. */
  url: string;
  /** The endpoint answered over TLS (false: refused, timed out, no route). */
  reachable: boolean;
  /**
   * The certificate against the configured trust: `pin-match` / `pin-mismatch` (tls.thumbprint),
   * `trusted` / `untrusted` (tls.caFile or the system CAs), `not-verified` (tls.insecure); null when
   * the endpoint did not answer.
   */
  certificate: 'pin-match' | 'pin-mismatch' | 'trusted' | 'untrusted' | 'not-verified' | null;
  /** The certificate's SHA-256 thumbprint when it failed the pin (what to pin once verified). */
  presentedThumbprint: string | null;
  /** `ok`, `refused` (user name or password wrong), or `not-tried` (the connection failed first). */
  login: 'ok' | 'refused' | 'not-tried';
  /** The vim25 API version in use after login. */
  apiVersion: string | null;
  /** about.fullName, e.g. `VMware ESXi 8.0.2 build-...`. */
  product: string | null;
  /** vCenter or standalone ESXi, after login. */
  kind: 'vcenter' | 'esx' | null;
  /**
   * Privileges of the migration roles (docs/privileges.md: quickmig-qm-source and -qm-target, and
   * quickmig-vmotion on a vCenter) the login holds on no object they are checked on (no VM folder,
   * datastore, resource pool or host): every migration that needs one fails preflight. Empty: each is
   * held somewhere (preflight checks the objects of each migration). Null: not checked (no answer).
   */
  missingPrivileges: string[] | null;
  /** What failed, with the fix in the worker configuration; null when the endpoint is usable. */
  problem: string | null;
}

/** Node TLS error codes that mean "the certificate is not trusted" (the endpoint did answer). */
const UNTRUSTED_CODES =
  /^(CERT_|UNABLE_TO_(GET|VERIFY)|SELF_SIGNED|DEPTH_ZERO|ERR_TLS_CERT|HOSTNAME_MISMATCH)/;

/**
 * Checks one endpoint with a fresh login (never a cached session: the password may have changed since),
 * then logs out. Never throws for the endpoint's own failures: they are the state.
 */
export async function checkEndpoint(config: EndpointConfig, logger?: Logger): Promise<EndpointState> {
  const pinned = config.tls.thumbprint !== undefined;
  const verified = pinned ? 'pin-match' : config.tls.insecure ? 'not-verified' : 'trusted';
  const base: EndpointState = {
    name: config.name,
    url: config.url,
    reachable: true,
    certificate: verified,
    presentedThumbprint: null,
    login: 'not-tried',
    apiVersion: null,
    product: null,
    kind: null,
    missingPrivileges: null,
    problem: null,
  };
  const at = `endpoints.${config.name}`;
  let client: VSphereClient;
  try {
    client = await VSphereClient.connect({
      url: config.url,
      username: config.username,
      password: config.password.reveal(),
      tls: config.tls,
      // A check answers within seconds; a black-holed address must not hold `quickmig endpoints` for minutes.
      requestTimeoutMs: 15_000,
      ...(logger ? { logger } : {}),
    });
  } catch (error) {
    const e = error as Error & { code?: string; actual?: string };
    if (e.name === 'ThumbprintMismatchError')
      return {
        ...base,
        certificate: 'pin-mismatch',
        presentedThumbprint: e.actual ?? null,
        problem: `the certificate is not the pinned one (${e.message}); verify the endpoint's certificate, then fix ${at}.tls.thumbprint`,
      };
    if (e.name === 'AuthenticationError')
      return {
        ...base,
        login: 'refused',
        problem: `login refused (${e.message}); fix ${at}.username and its password (password, passwordFile or passwordEnv)`,
      };
    if (e.name === 'ConnectionError' && UNTRUSTED_CODES.test(e.code ?? ''))
      return {
        ...base,
        certificate: 'untrusted',
        problem: `the certificate is not trusted (${e.message}); pin it with ${at}.tls.thumbprint or trust its CA with ${at}.tls.caFile`,
      };
    return {
      ...base,
      reachable: false,
      certificate: null,
      problem: `cannot reach ${config.url} (${e.message}); check ${at}.url and the network path from the worker`,
    };
  }
  try {
    return {
      ...base,
      login: 'ok',
      apiVersion: client.apiVersion,
      product: client.about.fullName || null,
      kind: client.isVCenter ? 'vcenter' : 'esx',
      missingPrivileges: await missingPrivileges(client),
    };
  } finally {
    await client.close().catch(() => undefined);
  }
}

/**
 * The migration roles' privileges the login holds on none of the objects they are checked on (VM
 * folders, datastores, resource pools, hosts: docs/privileges.md); null when the endpoint cannot say.
 */
async function missingPrivileges(client: VSphereClient): Promise<string[] | null> {
  const roles = [
    'quickmig-qm-source',
    'quickmig-qm-target',
    ...(client.isVCenter ? ['quickmig-vmotion'] : []),
  ];
  try {
    const inv = client.inventory;
    const [folders, datastores, pools, hosts] = await Promise.all([
      inv
        .listFolders()
        .then((f) => f.filter((x) => x.childTypes.includes('VirtualMachine')).map((x) => x.ref)),
      inv.listDatastores().then((d) => d.map((x) => x.ref)),
      inv.listResourcePools().then((p) => p.map((x) => x.ref)),
      inv.listHosts().then((h) => h.map((x) => x.ref)),
    ]);
    const on: Record<PrivilegeObject, MoRef[]> = {
      vm: folders,
      vmFolder: folders,
      targetFolder: folders,
      sourceDatastores: datastores,
      targetDatastores: datastores,
      targetPool: pools,
      irHosts: hosts,
      targetNetwork: [], // the test roles are not among those listed here
    };
    const wanted = new Map<string, Set<PrivilegeObject>>();
    for (const role of roles)
      for (const [privilege, kinds] of Object.entries(ROLES[role] ?? {}))
        for (const kind of kinds) wanted.set(privilege, (wanted.get(privilege) ?? new Set()).add(kind));
    const entities = [
      ...new Map([...folders, ...datastores, ...pools, ...hosts].map((r) => [r.value, r])).values(),
    ];
    const grants = await client.authorization.hasPrivileges(entities, [...wanted.keys()]);
    return [...wanted].flatMap(([privilege, kinds]) =>
      [...kinds].some((k) => on[k].some((r) => grants.get(r.value)?.get(privilege) === true))
        ? []
        : [privilege],
    );
  } catch {
    return null;
  }
}

/** Checks every configured endpoint (or the named ones) at once; UnknownEndpointError for a name not configured. */
export function checkEndpoints(
  endpoints: ReadonlyMap<string, EndpointConfig>,
  names?: readonly string[],
  logger?: Logger,
): Promise<EndpointState[]> {
  const wanted = names && names.length > 0 ? names : [...endpoints.keys()];
  return Promise.all(
    wanted.map((name) => {
      const config = endpoints.get(name);
      if (!config) throw new UnknownEndpointError(name, [...endpoints.keys()]);
      return checkEndpoint(config, logger);
    }),
  );
}

/**
 * Whether a worker should refuse to start: every endpoint failed, and each for a reason of the
 * configuration (login refused, certificate pin or trust), which waiting will not fix. An unreachable
 * endpoint may come back, so the worker runs and retries it on first use.
 */
export function unusableConfiguration(states: readonly EndpointState[]): boolean {
  return states.length > 0 && states.every((s) => s.problem !== null) && states.every((s) => s.reachable);
}

/** Builds the endpoint check activity over the pool. */
export function createEndpointActivities(pool: EndpointPool) {
  return {
    /** Checks the named endpoints (default all) with a fresh login each; the states, never the credentials. */
    async checkEndpoints(input: { endpoints?: string[] }): Promise<EndpointState[]> {
      return pool.check(input.endpoints);
    },
  };
}
