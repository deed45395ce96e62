/**
 * @internal The SOAP session of one endpoint: API version negotiation, node-soap client on the
 * project's WSDL subset, Login/Logout with the session cookie, transparent re-login, and the
 * translation of every failure into an error from ./errors.
 */
import { randomUUID } from 'node:crypto';
import type https from 'node:https';
import { request } from 'node:https';
import type { Client } from 'soap';
import { createClientAsync } from 'soap';
import { packagePath } from '../package-root';
import type { Raw } from './convert';
import { faultDetail, obj, ref, refLabel, str, toSoapRef, xsiType } from './convert';
import type { RequestContext } from './errors';
import {
  ConnectionError,
  faultError,
  HttpStatusError,
  ProtocolError,
  SessionExpiredError,
  ThumbprintMismatchError,
  VSphereError,
} from './errors';
import type { Logger, TlsOptions } from './tls';
import { consoleLogger, createAgent } from './tls';
import type { AboutInfo, MoRef } from './types';

const WSDL_PATH = packagePath('src', 'vsphere', 'wsdl', 'vim25-subset.wsdl');
const SESSION_COOKIE = 'vmware_soap_session';

/** Connection options of one vSphere endpoint. */
export interface SessionOptions {
  /** SDK URL, `https://host[:port]/sdk`. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** Certificate checking. Default: verify against the system CAs and the host name. */
  readonly tls?: TlsOptions | undefined;
  /** Default: warnings to console.warn. */
  readonly logger?: Logger | undefined;
  /** Timeout of one SOAP request (not of a task), in ms. Default: 120000. */
  readonly requestTimeoutMs?: number | undefined;
  /** Objects per RetrievePropertiesEx page; more are fetched with ContinueRetrievePropertiesEx. Default: 500. */
  readonly pageSize?: number | undefined;
  /** vim25 version to speak, skipping negotiation. Default: the newest the endpoint lists in /sdk/vimServiceVersions.xml. */
  readonly apiVersion?: string | undefined;
}

/** Per-call options. */
export interface CallOptions {
  /** Aborts the HTTP request; the call then rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** Overrides the request timeout for this call (long polls). */
  readonly timeoutMs?: number | undefined;
  /** Object label for error messages. Default: the `_this` moref. */
  readonly object?: string | undefined;
}

/** The service-content references the client uses. */
export interface ServiceRefs {
  readonly rootFolder: MoRef;
  readonly propertyCollector: MoRef;
  readonly viewManager: MoRef | undefined;
  readonly sessionManager: MoRef;
  readonly authorizationManager: MoRef | undefined;
  readonly searchIndex: MoRef | undefined;
  readonly fileManager: MoRef | undefined;
  readonly virtualDiskManager: MoRef | undefined;
  readonly licenseManager: MoRef | undefined;
}

type AsyncMethod = (args: unknown, options: unknown, headers: unknown) => Promise<[Raw, ...unknown[]]>;

/** @internal One logged-in SOAP session; shared by all callers of a client. */
export class Session {
  /** The SDK URL. */
  readonly endpoint: string;
  /** The keep-alive agent shared by SOAP and the file API. */
  readonly agent: https.Agent;
  readonly logger: Logger;
  readonly about: AboutInfo;
  readonly apiVersion: string;
  readonly refs: ServiceRefs;
  /** Objects per RetrievePropertiesEx page. */
  readonly pageSize: number;

  readonly #client: Client;
  readonly #options: SessionOptions;
  readonly #timeoutMs: number;
  #cookie: string | undefined;
  #sessionKey: string | undefined;
  #generation = 0;
  #login: Promise<void> | undefined;
  #closed = false;

  private constructor(
    options: SessionOptions,
    agent: https.Agent,
    client: Client,
    apiVersion: string,
    content: Raw,
  ) {
    this.endpoint = options.url;
    this.#options = options;
    this.agent = agent;
    this.logger = options.logger ?? consoleLogger;
    this.#client = client;
    this.#timeoutMs = options.requestTimeoutMs ?? 120_000;
    this.apiVersion = apiVersion;
    this.pageSize = options.pageSize ?? 500;
    const c = obj(content) ?? {};
    const must = (key: string): MoRef => {
      const r = ref(c[key]);
      if (r === undefined) throw new ProtocolError(this.#context('RetrieveServiceContent'), `no ${key}`);
      return r;
    };
    this.refs = {
      rootFolder: must('rootFolder'),
      propertyCollector: must('propertyCollector'),
      sessionManager: must('sessionManager'),
      viewManager: ref(c.viewManager),
      authorizationManager: ref(c.authorizationManager),
      searchIndex: ref(c.searchIndex),
      fileManager: ref(c.fileManager),
      virtualDiskManager: ref(c.virtualDiskManager),
      licenseManager: ref(c.licenseManager),
    };
    const a = obj(c.about) ?? {};
    this.about = {
      name: str(a.name) ?? '',
      fullName: str(a.fullName) ?? '',
      version: str(a.version) ?? '',
      build: str(a.build) ?? '',
      apiType: str(a.apiType) ?? '',
      apiVersion: str(a.apiVersion) ?? '',
      instanceUuid: str(a.instanceUuid),
    };
  }

  /** Negotiates the version, reads the service content and logs in. */
  static async open(options: SessionOptions): Promise<Session> {
    const logger = options.logger ?? consoleLogger;
    const agent = createAgent({ endpoint: options.url, tls: options.tls ?? {}, logger });
    try {
      const apiVersion = options.apiVersion ?? (await negotiateVersion(options.url, agent));
      const client = await createClientAsync(WSDL_PATH, { endpoint: options.url });
      client.setEndpoint(options.url);
      // govmomi and pyvmomi send the version this way; a real endpoint picks the response's shape by it.
      client.setSOAPAction(`urn:vim25/${apiVersion}`);
      const serviceInstance = { type: 'ServiceInstance', value: 'ServiceInstance' };
      const content = await invoke(
        client,
        agent,
        options.url,
        'RetrieveServiceContent',
        serviceInstance,
        {},
        {
          timeoutMs: options.requestTimeoutMs ?? 120_000,
        },
      );
      const session = new Session(options, agent, client, apiVersion, content);
      await session.login();
      return session;
    } catch (err) {
      agent.destroy();
      throw err;
    }
  }

  /** The `Cookie` header value of the current session, for the datastore file API. */
  get cookie(): string | undefined {
    return this.#cookie;
  }

  /** The key of the current session (UserSession.key), which HasPrivilegeOnEntities takes. */
  get sessionKey(): string | undefined {
    return this.#sessionKey;
  }

  /** Increases on every successful login; lets a caller tell whether a re-login already happened. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Calls a vim25 method and returns its `returnval` (undefined for void methods). A
   * NotAuthenticated fault (session expired, endpoint restarted) triggers one re-login, shared by
   * every caller that saw it, and one retry of the call.
   */
  async call(
    method: string,
    thisRef: MoRef,
    args: Record<string, unknown> = {},
    options: CallOptions = {},
  ): Promise<Raw> {
    if (this.#closed) throw new VSphereError(this.#context(method, options.object), 'client is closed');
    if (this.#login !== undefined) await this.#login;
    const generation = this.#generation;
    try {
      return await this.#invoke(method, thisRef, args, options);
    } catch (err) {
      if (!(err instanceof SessionExpiredError)) throw err;
      this.logger.debug?.('session lost; logging in again', { endpoint: this.endpoint, method });
      await this.relogin(generation);
      return await this.#invoke(method, thisRef, args, options);
    }
  }

  /**
   * Logs in again unless that already happened since `staleGeneration`; concurrent callers share
   * one Login request.
   */
  async relogin(staleGeneration: number): Promise<void> {
    if (this.#generation !== staleGeneration) return;
    await this.login();
  }

  /** Logs in (or joins the login in flight). */
  login(): Promise<void> {
    this.#login ??= this.#doLogin().finally(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  /** Logs out (best effort) and closes the connections. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      if (this.#cookie !== undefined)
        await this.#invoke('Logout', this.refs.sessionManager, {}, { timeoutMs: 10_000 });
    } catch (err) {
      this.logger.debug?.('logout failed', { endpoint: this.endpoint, error: String(err) });
    } finally {
      this.#closed = true;
      this.#cookie = undefined;
      this.agent.destroy();
    }
  }

  async #doLogin(): Promise<void> {
    const exchangeId = randomUUID();
    let setCookie: string[] | string | undefined;
    // node-soap keeps no cookies and returns no headers from *Async, so read them off its event.
    const onResponse = (
      _body: unknown,
      response: { headers?: Record<string, unknown> } | null,
      eid: string,
    ) => {
      if (eid === exchangeId) setCookie = response?.headers?.['set-cookie'] as string[] | string | undefined;
    };
    this.#client.on('response', onResponse);
    let userSession: Raw;
    try {
      userSession = await invoke(
        this.#client,
        this.agent,
        this.endpoint,
        'Login',
        this.refs.sessionManager,
        { userName: this.#options.username, password: this.#options.password },
        { timeoutMs: this.#timeoutMs, object: `user ${this.#options.username}`, exchangeId },
      );
    } finally {
      this.#client.removeListener('response', onResponse);
    }
    const cookie = [setCookie ?? []]
      .flat()
      .map((c) => c.split(';')[0]?.trim() ?? '')
      .find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    if (cookie === undefined) {
      throw new ProtocolError(this.#context('Login'), `the Login response set no ${SESSION_COOKIE} cookie`);
    }
    this.#cookie = cookie;
    this.#sessionKey = str(obj(userSession)?.key);
    this.#generation += 1;
    this.logger.debug?.('logged in', { endpoint: this.endpoint, generation: this.#generation });
  }

  #invoke(method: string, thisRef: MoRef, args: Record<string, unknown>, options: CallOptions): Promise<Raw> {
    return invoke(this.#client, this.agent, this.endpoint, method, thisRef, args, {
      ...options,
      timeoutMs: options.timeoutMs ?? this.#timeoutMs,
      cookie: this.#cookie,
    });
  }

  #context(method: string, object?: string): RequestContext {
    return { endpoint: this.endpoint, method, object };
  }
}

interface InvokeOptions extends CallOptions {
  readonly timeoutMs: number;
  readonly cookie?: string | undefined;
  readonly exchangeId?: string | undefined;
}

async function invoke(
  client: Client,
  agent: https.Agent,
  endpoint: string,
  method: string,
  thisRef: MoRef,
  args: Record<string, unknown>,
  options: InvokeOptions,
): Promise<Raw> {
  const context: RequestContext = { endpoint, method, object: options.object ?? refLabel(thisRef) };
  const fn = (client as unknown as Record<string, AsyncMethod | undefined>)[`${method}Async`];
  if (fn === undefined)
    throw new VSphereError(context, `${method} is not in the WSDL subset (src/vsphere/wsdl)`);
  for (let attempt = 0; ; attempt++) {
    try {
      const [result] = await fn.call(
        client,
        { _this: toSoapRef(thisRef), ...args },
        {
          httpsAgent: agent,
          timeout: options.timeoutMs,
          signal: options.signal,
          exchangeId: options.exchangeId ?? randomUUID(),
        },
        options.cookie === undefined ? {} : { Cookie: options.cookie },
      );
      return obj(result)?.returnval;
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (attempt === 0 && isStaleKeepAlive(err)) {
        dropIdleSockets(agent);
        continue;
      }
      throw translate(context, err);
    }
  }
}

/**
 * Closes every idle keep-alive socket of the agent: when one turned out stale, its siblings
 * (opened to the same server process) are stale too, and a retry must not pick one of them.
 */
export function dropIdleSockets(agent: https.Agent): void {
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) socket.destroy();
  }
}

/**
 * True when a request failed because the server had already closed the idle keep-alive socket it
 * was sent on (endpoint restarted, proxy idle timeout). The server never read that request, so
 * sending it once more on a fresh connection is safe even for a mutating method; this is the
 * retry Node's documentation recommends for `reusedSocket`.
 */
export function isStaleKeepAlive(err: unknown): boolean {
  const e = err as {
    code?: string;
    response?: unknown;
    request?: { reusedSocket?: boolean; _currentRequest?: { reusedSocket?: boolean } };
  };
  if (e?.response !== undefined) return false;
  const reused = e?.request?.reusedSocket ?? e?.request?._currentRequest?.reusedSocket;
  return reused === true && (e.code === 'ECONNRESET' || e.code === 'EPIPE');
}

/** Maps anything node-soap/axios threw to an error from ./errors. */
function translate(context: RequestContext, err: unknown): VSphereError {
  if (err instanceof VSphereError) return err;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ThumbprintMismatchError)
      return new ThumbprintMismatchError(context, e.expected, e.actual);
  }
  const e = err as {
    root?: unknown;
    code?: string;
    message?: string;
    response?: { status?: number; data?: unknown };
    cause?: unknown;
  };
  const fault = obj(obj(obj(obj(e.root)?.Envelope)?.Body)?.Fault);
  if (fault !== undefined) {
    const faultstring = str(fault.faultstring) ?? '';
    const detail = obj(fault.detail) ?? {};
    const [element, body] = Object.entries(detail).find(([k]) => k !== 'attributes') ?? ['', undefined];
    // vim25 names the detail element <Type>Fault and, since 4.0, also sends xsi:type; prefer that.
    const type = xsiType(body) ?? (element.endsWith('Fault') ? element.slice(0, -5) : element);
    return faultError(
      context,
      { type: type || 'UnknownFault', message: faultstring, detail: faultDetail(body) },
      { cause: err },
    );
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  const status = e.response?.status;
  if (status !== undefined && status >= 300) {
    return new HttpStatusError(context, status, typeof e.response?.data === 'string' ? e.response.data : '');
  }
  if (code !== undefined && code !== 'ERR_BAD_RESPONSE') {
    const cause = e.cause instanceof Error ? e.cause : undefined;
    const causeCode = (cause as { code?: string } | undefined)?.code;
    return new ConnectionError(context, cause?.message ?? e.message ?? 'request failed', causeCode ?? code, {
      cause: err,
    });
  }
  return new ProtocolError(context, e.message ?? String(err), { cause: err });
}

/** Reads /sdk/vimServiceVersions.xml and returns the newest urn:vim25 version the endpoint speaks. */
async function negotiateVersion(sdkUrl: string, agent: https.Agent): Promise<string> {
  const url = new URL('/sdk/vimServiceVersions.xml', sdkUrl);
  const context: RequestContext = { endpoint: sdkUrl, method: 'GET /sdk/vimServiceVersions.xml' };
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(url, { agent, method: 'GET', timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        if ((res.statusCode ?? 0) >= 300) reject(new HttpStatusError(context, res.statusCode ?? 0, text));
        else resolve(text);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: Error & { code?: string }) => {
      if (err instanceof ThumbprintMismatchError)
        reject(new ThumbprintMismatchError(context, err.expected, err.actual));
      else if (err instanceof VSphereError) reject(err);
      else reject(new ConnectionError(context, err.message, err.code, { cause: err }));
    });
    req.end();
  });
  for (const ns of body.matchAll(/<namespace>([\s\S]*?)<\/namespace>/g)) {
    const inner = ns[1] ?? '';
    if (!/<name>\s*urn:vim25\s*<\/name>/.test(inner)) continue;
    // The first <version> directly under <namespace> is the current one; <priorVersions> follow it.
    const version = /<version>\s*([^<\s]+)\s*<\/version>/.exec(inner)?.[1];
    if (version !== undefined) return version;
  }
  throw new ProtocolError(context, 'no urn:vim25 version listed');
}
