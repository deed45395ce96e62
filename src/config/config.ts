/**
 * The worker's configuration: vSphere endpoints with their credentials and TLS trust, the task queues
 * and the Temporal connection. Read once, validated with messages that name the field and the fix, and
 * passed down; nothing below this folder reads the environment. Credentials stay here: migration
 * requests name endpoints, never secrets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { DEFAULT_TASK_QUEUE } from '../request/contract';
import { ConfigError } from './errors';
import { LAB_DIR, labDirOf, labWorkerConfigPath } from './lab-paths';
import { Secret } from './secret';
import { normalizeThumbprint } from './thumbprint';

/** How a client trusts an endpoint's certificate. Default: the system's CAs. */
export interface TlsTrust {
  /** Pin the server certificate by its SHA-256 thumbprint (colon-separated hex). */
  thumbprint?: string;
  /** Trust this PEM CA bundle in addition to nothing else. */
  caFile?: string;
  /** Skip verification entirely. Off by default; the worker warns in its log when it is on. */
  insecure?: boolean;
}

/** A vSphere endpoint (vCenter or standalone ESXi) the worker may act on. */
export interface EndpointConfig {
  /** The name migration requests use. */
  name: string;
  /** The SDK URL, e.g. `https://vcenter.example.com/sdk`. */
  url: string;
  username: string;
  password: Secret;
  tls: TlsTrust;
}

/** The whole worker configuration. */
export interface WorkerConfig {
  /** File it was read from, when any. */
  source?: string;
  /** Task queue for workflows and control activities. Default `quickmig`. */
  taskQueue: string;
  /** Temporal frontend address. Default: the environment (TEMPORAL_ADDRESS, profiles), else localhost:7233. */
  temporalAddress: string;
  /** Temporal namespace. Default: the environment (TEMPORAL_NAMESPACE), else `default`. */
  namespace: string;
  /**
   * TLS, API key and gRPC metadata of the Temporal connection (Temporal Cloud, a TLS frontend), from the
   * environment or a `temporal` CLI profile (@temporalio/envconfig: TEMPORAL_API_KEY,
   * TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, ...).
   * Default: none (plain gRPC, as a local cluster serves it).
   */
  temporalConnection: Pick<NativeConnectionOptions, 'tls' | 'apiKey' | 'metadata'>;
  endpoints: Map<string, EndpointConfig>;
  /**
   * Payload encryption (src/codec): the AES-256 key file shared with the clients. Default: none (payloads
   * in clear). From `encryption.keyFile` in the file, or QUICKMIG_ENCRYPTION_KEY_FILE, which wins.
   */
  encryption?: { keyFile: string };
}

/** Environment variable naming the payload encryption key file (worker and clients). */
export const ENCRYPTION_KEY_FILE_ENV = 'QUICKMIG_ENCRYPTION_KEY_FILE';

interface RawEndpoint {
  url?: unknown;
  username?: unknown;
  password?: unknown;
  passwordFile?: unknown;
  passwordEnv?: unknown;
  tls?: { thumbprint?: unknown; caFile?: unknown; insecure?: unknown };
}

const stringOrUndefined = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

function parseEndpoint(
  name: string,
  raw: RawEndpoint,
  baseDir: string,
  env: NodeJS.ProcessEnv,
  problems: string[],
): EndpointConfig | undefined {
  const at = `endpoints.${name}`;
  const before = problems.length;
  if (typeof raw !== 'object' || raw === null) {
    problems.push(`${at}: must be an object with url, username and a password source`);
    return undefined;
  }
  let url: URL | undefined;
  try {
    url = new URL(String(raw.url));
    if (url.protocol !== 'https:') problems.push(`${at}.url: use https:// (vSphere serves its API over TLS)`);
  } catch {
    problems.push(`${at}.url: must be the endpoint's SDK URL, e.g. https://vcenter.example.com/sdk`);
  }
  if (typeof raw.username !== 'string' || raw.username === '')
    problems.push(`${at}.username: give the login user name`);
  const sources = ['password', 'passwordFile', 'passwordEnv'].filter(
    (k) => raw[k as keyof RawEndpoint] !== undefined,
  );
  let password: string | undefined;
  if (sources.length !== 1) {
    problems.push(
      `${at}: give exactly one of password, passwordFile (a file holding it) or passwordEnv (an environment variable holding it)`,
    );
  } else if (typeof raw.passwordFile === 'string') {
    const file = isAbsolute(raw.passwordFile) ? raw.passwordFile : resolve(baseDir, raw.passwordFile);
    try {
      password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch {
      problems.push(`${at}.passwordFile: cannot read ${file}; create it (mode 0600) or fix the path`);
    }
  } else if (typeof raw.passwordEnv === 'string') {
    password = env[raw.passwordEnv];
    if (password === undefined)
      problems.push(`${at}.passwordEnv: the environment variable ${raw.passwordEnv} is not set`);
  } else if (typeof raw.password === 'string') {
    password = raw.password;
  } else {
    problems.push(`${at}.${sources[0]}: must be a string`);
  }
  const tls: TlsTrust = {};
  if (raw.tls?.thumbprint !== undefined) {
    try {
      tls.thumbprint = normalizeThumbprint(String(raw.tls.thumbprint));
    } catch {
      problems.push(`${at}.tls.thumbprint: must be a SHA-256 thumbprint, 32 hex bytes separated by colons`);
    }
  }
  if (raw.tls?.caFile !== undefined) {
    tls.caFile = isAbsolute(String(raw.tls.caFile))
      ? String(raw.tls.caFile)
      : resolve(baseDir, String(raw.tls.caFile));
  }
  if (raw.tls?.insecure !== undefined) {
    if (typeof raw.tls.insecure !== 'boolean') problems.push(`${at}.tls.insecure: must be true or false`);
    else tls.insecure = raw.tls.insecure;
  }
  if (problems.length > before || !url || password === undefined) return undefined;
  return { name, url: url.href, username: raw.username as string, password: new Secret(password), tls };
}

/**
 * Reads a worker configuration file (JSON). Relative paths in it are relative to the file. The Temporal
 * connection comes from the environment and the `temporal` CLI's profiles first (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, ...), then from the file, then the defaults.
 */
export function loadWorkerConfig(file: string, env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  let raw: {
    taskQueue?: unknown;
    temporal?: { address?: unknown; namespace?: unknown };
    endpoints?: unknown;
    encryption?: { keyFile?: unknown };
  };
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`Cannot read worker configuration ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return parseWorkerConfig(raw, { source: file, baseDir: dirname(resolve(file)), env });
}

/** Validates an already parsed worker configuration object. */
export function parseWorkerConfig(
  raw: {
    taskQueue?: unknown;
    temporal?: { address?: unknown; namespace?: unknown };
    endpoints?: unknown;
    encryption?: { keyFile?: unknown };
  },
  options: { source?: string; baseDir: string; env: NodeJS.ProcessEnv },
): WorkerConfig {
  const problems: string[] = [];
  const keyFileRaw = options.env[ENCRYPTION_KEY_FILE_ENV] || raw.encryption?.keyFile;
  let keyFile: string | undefined;
  if (keyFileRaw !== undefined) {
    if (typeof keyFileRaw !== 'string' || keyFileRaw === '')
      problems.push('encryption.keyFile: must be the path of a file holding a 256-bit key (base64)');
    else {
      keyFile = isAbsolute(keyFileRaw) ? keyFileRaw : resolve(options.baseDir, keyFileRaw);
      if (!existsSync(keyFile))
        problems.push(
          `encryption.keyFile: ${keyFile} does not exist; create it with: openssl rand -base64 32 > ${keyFile}`,
        );
    }
  }
  const endpoints = new Map<string, EndpointConfig>();
  if (typeof raw.endpoints !== 'object' || raw.endpoints === null || Array.isArray(raw.endpoints)) {
    problems.push(
      'endpoints: must be an object mapping endpoint names to { url, username, passwordFile | passwordEnv | password, tls }',
    );
  } else {
    for (const [name, value] of Object.entries(raw.endpoints as Record<string, RawEndpoint>)) {
      if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name))
        problems.push(`endpoints.${name}: names are letters, digits, '.', '_' and '-'`);
      const endpoint = parseEndpoint(name, value, options.baseDir, options.env, problems);
      if (endpoint) endpoints.set(name, endpoint);
    }
  }
  if (raw.taskQueue !== undefined && (typeof raw.taskQueue !== 'string' || raw.taskQueue === '')) {
    problems.push('taskQueue: must be a non-empty string (default quickmig)');
  }
  if (problems.length > 0) {
    throw new ConfigError(
      `Invalid worker configuration${options.source ? ` ${options.source}` : ''}:\n  ${problems.join('\n  ')}`,
    );
  }
  // An environment variable beats the file; the file beats a `temporal` CLI profile; then the defaults.
  const profile = loadClientConfigProfile({ overrideEnvVars: options.env as Record<string, string> });
  const { connectionOptions } = toClientOptions(profile);
  const file = {
    address: stringOrUndefined(raw.temporal?.address),
    namespace: stringOrUndefined(raw.temporal?.namespace),
  };
  return {
    ...(options.source ? { source: options.source } : {}),
    taskQueue: (raw.taskQueue as string | undefined) ?? DEFAULT_TASK_QUEUE,
    temporalAddress:
      (options.env.TEMPORAL_ADDRESS ? profile.address : file.address) ?? profile.address ?? 'localhost:7233',
    namespace:
      (options.env.TEMPORAL_NAMESPACE ? profile.namespace : file.namespace) ?? profile.namespace ?? 'default',
    temporalConnection: {
      ...(connectionOptions.tls !== undefined ? { tls: connectionOptions.tls } : {}),
      ...(connectionOptions.apiKey !== undefined ? { apiKey: connectionOptions.apiKey } : {}),
      ...(connectionOptions.metadata !== undefined ? { metadata: connectionOptions.metadata } : {}),
    },
    endpoints,
    ...(keyFile ? { encryption: { keyFile } } : {}),
  };
}

/** The lab's worker configuration, used when nothing else is given (relative to the working directory). */
export const LAB_WORKER_CONFIG = labWorkerConfigPath(LAB_DIR);

/**
 * Which configuration file a worker reads: the `--config` argument, else QUICKMIG_CONFIG, else the
 * worker configuration of the lab (`lab`: `--lab DIR`, else QUICKMIG_LAB, else `.quickmig/lab`).
 */
export function workerConfigPath(
  argument: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  lab?: string,
): string {
  const path = argument ?? env.QUICKMIG_CONFIG ?? labWorkerConfigPath(labDirOf(lab, env).dir);
  return resolve(path);
}
