/**
 * Where a client finds Temporal. The CLI and the client API hold no vSphere credentials: they only
 * reach Temporal, and the worker (which alone holds the credentials) does the rest.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConnectionOptions } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { labDirOf, labStatePath } from '../config/lab-paths';
import { DEFAULT_TASK_QUEUE } from '../request/contract';

/** How to connect; every field is optional. */
export interface ConnectOptions {
  /** Temporal frontend `host:port`. Default: see {@link resolveConnection}. */
  address?: string;
  /** Temporal namespace. Default: see {@link resolveConnection}. */
  namespace?: string;
  /** A `temporal` CLI profile name (its config file, TEMPORAL_CONFIG_FILE). Default `default`. */
  profile?: string;
  /** Task queue of the quickmig worker. Default `quickmig` (DEFAULT_TASK_QUEUE). */
  taskQueue?: string;
  /** Environment to read (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...). Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Folder whose `.quickmig/lab` is used when nothing else names a server. Default: the working directory. */
  cwd?: string;
  /**
   * A lab folder (`quickmig lab up --lab DIR`) whose Temporal to use; wins over the environment and
   * profiles, and a folder without a running lab is an error. Default: QUICKMIG_LAB (below the
   * environment's TEMPORAL_ADDRESS and profiles), else `cwd/.quickmig/lab` when a lab runs there.
   */
  labDir?: string;
  /**
   * Payload encryption key file, the worker's (src/codec). Default: QUICKMIG_ENCRYPTION_KEY_FILE, else
   * none (payloads in clear).
   */
  encryptionKeyFile?: string;
}

/** A resolved connection, with where each part came from (shown by `--help` and errors). */
export interface ResolvedConnection {
  connectionOptions: ConnectionOptions;
  address: string;
  namespace: string;
  taskQueue: string;
  /** `option`, `environment`, `profile`, `lab` or `default`. */
  source: 'option' | 'environment' | 'profile' | 'lab' | 'default';
  /** The lab folder looked at, and whether the user named it (`--lab`, QUICKMIG_LAB). */
  lab: { dir: string; explicit: boolean; up: boolean };
  /** The Temporal Web UI of the lab, when the address is the lab's. */
  uiUrl?: string;
  /** The key file that encrypts payloads, when one is configured. */
  encryptionKeyFile?: string;
}

interface LabStateFile {
  info?: { temporal?: { address?: string; namespace?: string; uiUrl?: string } };
}

/** The Temporal address of the lab in `dir`, when one was started there and not stopped. */
export function labTemporal(dir: string): { address: string; namespace: string; uiUrl?: string } | undefined {
  const file = labStatePath(resolve(dir));
  if (!existsSync(file)) return undefined;
  try {
    const temporal = (JSON.parse(readFileSync(file, 'utf8')) as LabStateFile).info?.temporal;
    if (!temporal?.address) return undefined;
    return {
      address: temporal.address,
      namespace: temporal.namespace ?? 'default',
      ...(temporal.uiUrl ? { uiUrl: temporal.uiUrl } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Resolves the connection in this order: the options, then the environment and the `temporal` CLI's
 * profiles (`@temporalio/envconfig`: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, ...),
 * then the lab running in `cwd/.quickmig/lab`, then `localhost:7233` and namespace `default`.
 */
export function resolveConnection(options: ConnectOptions = {}): ResolvedConnection {
  const env = Object.fromEntries(
    Object.entries(options.env ?? process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const profile = options.profile ? { profile: options.profile } : {};
  let config: ReturnType<typeof loadClientConnectConfig>;
  try {
    config = loadClientConnectConfig({ overrideEnvVars: env, ...profile });
  } catch {
    // envconfig 1.24 throws on a config file without profiles (e.g. an empty one): use the environment.
    config = loadClientConnectConfig({ overrideEnvVars: env, disableFile: true, ...profile });
  }
  const labDir = labDirOf(options.labDir, env, options.cwd ?? process.cwd());
  const labInfo = labTemporal(labDir.dir);
  // --lab names the server as --address does; QUICKMIG_LAB and the default lab come after the environment.
  const fromConfig = options.labDir ? undefined : config.connectionOptions.address;
  const lab = fromConfig ? undefined : labInfo;
  const address = options.address ?? fromConfig ?? lab?.address ?? 'localhost:7233';
  const source: ResolvedConnection['source'] = options.address
    ? 'option'
    : fromConfig
      ? env.TEMPORAL_ADDRESS
        ? 'environment'
        : 'profile'
      : lab
        ? 'lab'
        : 'default';
  const namespace =
    options.namespace ?? (options.labDir ? lab?.namespace : config.namespace) ?? lab?.namespace ?? 'default';
  const { address: _ignored, ...rest } = config.connectionOptions;
  const connectionOptions: ConnectionOptions = { address };
  // A lab's server is plain gRPC on loopback: a profile's TLS or API key is not for it.
  if (options.labDir) Object.assign(rest, { tls: undefined, apiKey: undefined, metadata: undefined });
  if (rest.tls !== undefined) connectionOptions.tls = rest.tls as ConnectionOptions['tls'];
  if (rest.apiKey !== undefined) connectionOptions.apiKey = rest.apiKey as ConnectionOptions['apiKey'];
  if (rest.metadata !== undefined) connectionOptions.metadata = rest.metadata;
  const uiUrl = labInfo && address === labInfo.address ? labInfo.uiUrl : undefined;
  const encryptionKeyFile = options.encryptionKeyFile ?? (env.QUICKMIG_ENCRYPTION_KEY_FILE || undefined);
  return {
    ...(encryptionKeyFile ? { encryptionKeyFile } : {}),
    connectionOptions,
    address,
    namespace,
    taskQueue: options.taskQueue ?? DEFAULT_TASK_QUEUE,
    source,
    lab: { ...labDir, up: labInfo !== undefined },
    ...(uiUrl ? { uiUrl } : {}),
  };
}
