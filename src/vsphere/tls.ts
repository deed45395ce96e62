/**
 * TLS for vSphere endpoints: the HTTPS agent every SOAP call and file transfer of one endpoint
 * shares. Verification is always on unless the caller explicitly asks for `insecure`.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { normalizeThumbprint } from '../config/thumbprint';
import { ConnectionError, ThumbprintMismatchError } from './errors';

export { normalizeThumbprint } from '../config/thumbprint';

/** How the endpoint's certificate is checked. Exactly one mode applies; precedence thumbprint > caFile > system CAs. */
export interface TlsOptions {
  /**
   * Pinned SHA-256 thumbprint of the endpoint's certificate, colon hex (`AB:CD:...`; case and
   * colons are normalised). When set, the certificate must have exactly this thumbprint and neither
   * the CA chain nor the host name is checked: the pin is the identity, as with vSphere's own
   * thumbprint trust. Default: unset.
   */
  readonly thumbprint?: string | undefined;
  /** PEM file with the CA certificate(s) that sign the endpoint's certificate; replaces the default CAs. Default: unset. */
  readonly caFile?: string | undefined;
  /**
   * Accept any certificate. Only for throwaway labs: a warning is logged on every client created
   * with it. Default: false.
   */
  readonly insecure?: boolean | undefined;
}

/** Where the client reports things worth a human's attention. Default: warnings to console.warn, nothing else. */
export interface Logger {
  /** Something is unsafe or degraded but the call goes on. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Diagnostics (re-logins, retries, timings). Optional. */
  debug?(message: string, fields?: Record<string, unknown>): void;
}

/** Logger used when none is given: warnings to console.warn, debug dropped. */
export const consoleLogger: Logger = {
  warn: (message, fields) => console.warn(`[quickmig vsphere] ${message}`, fields ?? ''),
};

/** SHA-256 thumbprint of a PEM or DER certificate, colon hex upper case (the form vSphere shows). */
export function certificateThumbprint(cert: string | Buffer): string {
  return new X509Certificate(cert).fingerprint256;
}

/** Options for `createAgent`. */
export interface AgentOptions {
  /** Endpoint URL, for error messages. */
  readonly endpoint: string;
  readonly tls: TlsOptions;
  readonly logger: Logger;
  /**
   * Upper bound of parallel connections to the endpoint. Default: no bound. A bound here is a deadlock
   * waiting to happen: a copy holds its GET's socket while its PUT to the same endpoint waits for one,
   * so with as many downloads as sockets every upload queues behind them until a socket times out
   * (the 60 s stalls seen with two migrations at once). Parallelism is bounded where it is decided:
   * by the copy's concurrency and by the worker's activity slots.
   */
  readonly maxSockets?: number | undefined;
}

/**
 * Creates the keep-alive HTTPS agent for one endpoint.
 * With a pinned thumbprint the agent hands a socket to HTTP only after the certificate was
 * compared, so nothing (not even the Login password) is written to an endpoint that fails the pin.
 */
export function createAgent(options: AgentOptions): https.Agent {
  const base: https.AgentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets ?? Number.POSITIVE_INFINITY,
    // Sockets idle longer than this may be closed by vCenter's reverse proxy; fewer stale-socket resets.
    timeout: 60_000,
  };
  const { tls: t } = options;
  let agent: https.Agent;
  let trust: Trust;
  if (t.thumbprint !== undefined) {
    const expected = normalizeThumbprint(t.thumbprint);
    agent = new PinnedAgent(base, options.endpoint, expected);
    trust = { kind: 'thumbprint', thumbprint: expected };
  } else if (t.caFile !== undefined) {
    const ca = readFileSync(t.caFile, 'utf8');
    agent = new https.Agent({ ...base, ca });
    trust = { kind: 'ca', ca: [ca] };
  } else if (t.insecure === true) {
    options.logger.warn(
      `TLS verification is OFF for ${options.endpoint} (insecure: true); anyone on the path can read the credentials`,
      { endpoint: options.endpoint },
    );
    agent = new https.Agent({ ...base, rejectUnauthorized: false });
    trust = { kind: 'insecure' };
  } else {
    const ca = systemCAs();
    agent = new https.Agent({ ...base, ca });
    trust = { kind: 'ca', ca };
  }
  trusts.set(agent, trust);
  return agent;
}

/**
 * @internal How an agent checks its endpoint, as plain data, so a worker thread that opens its own
 * connections (./download-thread.mjs) applies exactly the same check: the same pin (compared before
 * anything is written), the same CAs, or none when the client was created `insecure`. `ca` undefined
 * means Node's default CAs.
 */
export type Trust =
  | { readonly kind: 'thumbprint'; readonly thumbprint: string }
  | { readonly kind: 'ca'; readonly ca: string[] | undefined }
  | { readonly kind: 'insecure' };

const trusts = new WeakMap<https.Agent, Trust>();

/** @internal The trust of an agent made by `createAgent`; undefined for any other agent. */
export function agentTrust(agent: https.Agent): Trust | undefined {
  return trusts.get(agent);
}

// Node's default store is its bundled Mozilla list; Node >= 22.15 can also hand out the OS store,
// which is where an enterprise's own CA usually lives. On older Node the bundled list applies.
function systemCAs(): string[] | undefined {
  const get = (tls as unknown as { getCACertificates?: (kind: string) => string[] }).getCACertificates;
  if (typeof get !== 'function') return undefined;
  return [...get('default'), ...get('system')];
}

class PinnedAgent extends https.Agent {
  readonly #endpoint: string;
  readonly #expected: string;

  constructor(base: https.AgentOptions, endpoint: string, expected: string) {
    super(base);
    this.#endpoint = endpoint;
    this.#expected = expected;
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    // Chain verification is replaced by the pin below, which runs before the socket is released.
    const socket = tls.connect({ ...(options as tls.ConnectionOptions), rejectUnauthorized: false });
    const fail = (err: Error) => {
      socket.destroy();
      callback?.(err, socket);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      socket.removeListener('error', fail);
      const cert = socket.getPeerX509Certificate();
      const actual = cert?.fingerprint256;
      if (actual !== this.#expected) {
        const context = { endpoint: this.#endpoint, method: 'TLS handshake' };
        fail(
          actual === undefined
            ? new ConnectionError(context, 'endpoint presented no certificate', undefined)
            : new ThumbprintMismatchError(context, this.#expected, actual),
        );
        return;
      }
      callback?.(null, socket);
    });
    // Returning nothing makes the agent wait for the callback before writing the request.
    return undefined;
  }
}
