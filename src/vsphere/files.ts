/**
 * Datastore files: streaming GET/PUT over the HTTP file API
 * (`/folder/<path>?dcPath=<dc>&dsName=<ds>`), listing/stat/mkdir/delete over SOAP.
 * Bytes are never buffered beyond a stream's high-water mark: GET hands out the response stream,
 * PUT pipes the caller's stream into the request with back-pressure and a fixed Content-Length.
 */
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DatastorePath } from './datastore-path';
import {
  datastoreFileUrl,
  datastorePathBase,
  datastorePathDir,
  formatDatastorePath,
  toDatastorePath,
} from './datastore-path';
import type { Datastores } from './datastores';
import type { RequestContext, VSphereError } from './errors';
import { FileNotFoundError, HttpStatusError, SessionExpiredError } from './errors';
import type { Facts } from './facts';
import { LengthGuard, numberHeader, readSmall, toConnectionError, writeThrough } from './http-io';
import type { Inventory } from './inventory';
import type { Session } from './session';
import { dropIdleSockets, isStaleKeepAlive } from './session';
import type { Trust } from './tls';
import { agentTrust } from './tls';
import type { DatastoreFileInfo, MoRef } from './types';

/** A download in progress. */
export interface Download {
  /** The body. Consume or destroy it, or the connection stays busy. */
  readonly stream: Readable;
  /** 200 for the whole file, 206 for a range. */
  readonly status: number;
  /** Bytes this response will carry (Content-Length), when the server says. */
  readonly length: number | undefined;
  /** Size of the whole file (from Content-Range, or Content-Length on a 200), when the server says. */
  readonly totalSize: number | undefined;
}

/** Byte range of a download, inclusive like HTTP's. */
export interface ByteRange {
  readonly start: number;
  /** Last byte, inclusive. Default: end of file. */
  readonly end?: number | undefined;
}

/** Options of `put`. */
export interface PutOptions {
  /** Aborts the upload. Default: none. */
  readonly signal?: AbortSignal | undefined;
  /** Called with the bytes sent so far, at most once per chunk. Default: none. */
  readonly onProgress?: ((bytesSent: number) => void) | undefined;
  /**
   * @internal Called with each chunk of `source` once the socket has taken it (encrypted and handed to
   * the kernel), so the caller may reuse its memory. Default: none.
   */
  readonly onWritten?: ((chunk: Buffer) => void) | undefined;
}

/** @internal What a download running outside this client (./mover) needs to GET a file as its session. */
export interface DownloadTicket {
  readonly url: string;
  /** The session's `Cookie` header value, when logged in. */
  readonly cookie: string | undefined;
  /** The session generation the cookie belongs to (for `failedDownload`). */
  readonly generation: number;
  /** How the endpoint's certificate is checked; undefined when the agent was not made by createAgent. */
  readonly trust: Trust | undefined;
}

interface ResolvedDatastore {
  readonly ref: MoRef;
  readonly browser: MoRef | undefined;
  readonly datacenter: MoRef | undefined;
  readonly datacenterPath: string;
}

/** Datastore file operations by datastore path. */
export class DatastoreFiles {
  readonly #session: Session;
  readonly #inventory: Inventory;
  readonly #facts: Facts;
  readonly #datastores: Datastores;
  readonly #resolved = new Map<string, Promise<ResolvedDatastore>>();

  /** @internal */
  constructor(session: Session, inventory: Inventory, facts: Facts, datastores: Datastores) {
    this.#session = session;
    this.#inventory = inventory;
    this.#facts = facts;
    this.#datastores = datastores;
  }

  /** Lists a folder one level deep. `pattern` default `*`. Throws FileNotFoundError when the folder does not exist. */
  async list(
    folder: DatastorePath | string,
    opts: { readonly pattern?: string } = {},
  ): Promise<DatastoreFileInfo[]> {
    const p = toDatastorePath(folder);
    const ds = await this.#resolve(p.datastore);
    if (ds.browser === undefined) throw new TypeError(`datastore ${p.datastore} has no browser`);
    return this.#datastores.search(ds.browser, p, { matchPattern: [opts.pattern ?? '*'] });
  }

  /** Type, size and modification time of one file or folder. Throws FileNotFoundError when it does not exist. */
  async stat(path: DatastorePath | string): Promise<DatastoreFileInfo> {
    const p = toDatastorePath(path);
    const name = datastorePathBase(p);
    // Glob characters in the name would be read as a pattern: match them with `?` and compare exactly.
    const pattern = name.replace(/[*?[\]\\]/g, '?');
    const found = (await this.list(datastorePathDir(p), { pattern })).find((f) => f.name === name);
    if (found === undefined) {
      throw new FileNotFoundError(this.#context('stat', p), {
        type: 'FileNotFound',
        message: `${formatDatastorePath(p)} does not exist`,
        detail: { file: formatDatastorePath(p) },
      });
    }
    return found;
  }

  /** True when the file or folder exists. */
  async exists(path: DatastorePath | string): Promise<boolean> {
    try {
      await this.stat(path);
      return true;
    } catch (err) {
      if (err instanceof FileNotFoundError) return false;
      throw err;
    }
  }

  /**
   * The datacenter that holds a datastore: FileManager and VirtualDiskManager calls on a vCenter name it
   * (an ESXi host has one and needs none). Undefined when the endpoint reports none.
   */
  async datacenterOf(datastore: string): Promise<MoRef | undefined> {
    return (await this.#resolve(datastore)).datacenter;
  }

  /** Creates a folder and its parents. Throws FileAlreadyExistsError when it exists. */
  async mkdir(path: DatastorePath | string): Promise<void> {
    const p = toDatastorePath(path);
    const ds = await this.#resolve(p.datastore);
    await this.#datastores.makeDirectory(p, { datacenter: ds.datacenter, createParents: true });
  }

  /** Deletes a file, or a folder with everything in it. Throws FileNotFoundError when absent. */
  async delete(path: DatastorePath | string): Promise<void> {
    const p = toDatastorePath(path);
    const ds = await this.#resolve(p.datastore);
    await this.#datastores.deleteFile(p, { datacenter: ds.datacenter });
  }

  /**
   * Starts a download. Resolves once the server answered with the headers; the body streams from
   * `stream`. Throws FileNotFoundError on 404, HttpStatusError on other failures (416 for a range
   * past the end).
   */
  async get(
    path: DatastorePath | string,
    opts: { readonly range?: ByteRange; readonly signal?: AbortSignal } = {},
  ): Promise<Download> {
    const p = toDatastorePath(path);
    const headers: Record<string, string> = {};
    if (opts.range !== undefined) headers.Range = `bytes=${opts.range.start}-${opts.range.end ?? ''}`;
    const res = await this.#send('GET', p, headers, opts.signal);
    const status = res.statusCode ?? 0;
    const length = numberHeader(res.headers['content-length']);
    const totalFromRange = /\/(\d+)\s*$/.exec(String(res.headers['content-range'] ?? ''))?.[1];
    return {
      stream: res,
      status,
      length,
      totalSize: totalFromRange !== undefined ? Number(totalFromRange) : status === 200 ? length : undefined,
    };
  }

  /**
   * A small file's content as text (a descriptor, a marker). Throws FileNotFoundError when it does
   * not exist, ConnectionError when the body breaks off.
   */
  async text(path: DatastorePath | string, opts: { readonly signal?: AbortSignal } = {}): Promise<string> {
    const p = toDatastorePath(path);
    const download = await this.get(p, opts);
    const chunks: Buffer[] = [];
    try {
      for await (const piece of download.stream) chunks.push(piece as Buffer);
    } catch (err) {
      throw toConnectionError(this.#context('GET /folder', p), err);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /**
   * Uploads `length` bytes from `source` to `path`, replacing the file. Streams with back-pressure
   * and Content-Length (no chunked encoding, which ESXi refuses); fails if `source` yields a
   * different number of bytes. Not retried on a lost session (the stream is consumed): the error is
   * SessionExpiredError and the session is renewed for the caller's retry.
   */
  async put(
    path: DatastorePath | string,
    source: Readable,
    length: number,
    opts: PutOptions = {},
  ): Promise<void> {
    const p = toDatastorePath(path);
    const ds = await this.#resolve(p.datastore);
    const url = datastoreFileUrl(this.#session.endpoint, p, ds.datacenterPath);
    const context = this.#context('PUT /folder', p);
    const generation = this.#session.generation;
    const req = request(url, {
      method: 'PUT',
      agent: this.#session.agent,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(length),
        ...this.#cookieHeader(),
      },
    });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      // `on`, not `once`: a request whose connection is reset mid-body can emit 'error' twice (the
      // write's EPIPE, then "socket hang up" when the socket ends), and an 'error' without a listener
      // kills the worker process.
      req.on('error', reject);
    });
    let pipeError: unknown;
    const guard = new LengthGuard(length, opts.onProgress);
    const piped = pipeline(source, guard, opts.onWritten ? writeThrough(req, opts.onWritten) : req, {
      signal: opts.signal,
    }).catch((err: unknown) => {
      pipeError = err;
    });
    let res: IncomingMessage;
    try {
      res = await response;
    } catch (err) {
      await piped;
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw toConnectionError(context, pipeError ?? err);
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      // The server refused before taking the whole body: read its (small) answer first, then tear the
      // upload down from both ends. Destroying only the request could leave the answer and the source
      // waiting for a socket timeout (60 s stalls after a 507).
      const body = await readSmall(res);
      source.destroy();
      req.destroy();
      await piped;
      throw await this.#statusError(context, p, status, body, generation);
    }
    res.resume();
    // The server answers 2xx only after it has read all `length` bytes: the file is complete, and the
    // answer, not the pipeline, ends the upload. Waiting for the pipeline could wait for a socket
    // timeout (60 s): Node may never emit the request's 'finish' when the answer came first, and then
    // keeps the socket (seen in 1 of ~20 migrations); the source, too, may not have signalled its end.
    // Once 'finish' has come, the socket went back to the pool and `req.destroy()` leaves it alone;
    // before, it is this request's alone and is closed instead of waiting.
    if (guard.seen === length) {
      if (!req.writableFinished) {
        source.destroy();
        req.destroy();
      }
      return;
    }
    await piped;
    if (pipeError !== undefined) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw toConnectionError(context, pipeError);
    }
  }

  /** @internal The URL, session cookie and TLS trust with which another thread can GET `path`. */
  async downloadTicket(path: DatastorePath | string): Promise<DownloadTicket> {
    const p = toDatastorePath(path);
    const ds = await this.#resolve(p.datastore);
    return {
      url: datastoreFileUrl(this.#session.endpoint, p, ds.datacenterPath).toString(),
      cookie: this.#session.cookie,
      generation: this.#session.generation,
      trust: agentTrust(this.#session.agent),
    };
  }

  /**
   * @internal The error `get` would throw for a refused GET of `path` (FileNotFoundError on 404,
   * SessionExpiredError on 401/403 after renewing the session, HttpStatusError otherwise).
   */
  failedDownload(path: DatastorePath | string, status: number, body: string, generation: number) {
    const p = toDatastorePath(path);
    return this.#statusError(this.#context('GET /folder', p), p, status, body, generation);
  }

  /** @internal Logs in again unless that happened since `generation` (a GET refused with 401/403). */
  relogin(generation: number): Promise<void> {
    return this.#session.relogin(generation);
  }

  /** Forgets cached datastore → datacenter resolutions (after inventory changes). */
  clearCache(): void {
    this.#resolved.clear();
  }

  async #send(
    method: 'GET',
    p: DatastorePath,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage> {
    const ds = await this.#resolve(p.datastore);
    const url = datastoreFileUrl(this.#session.endpoint, p, ds.datacenterPath);
    const context = this.#context(`${method} /folder`, p);
    for (let attempt = 0; ; attempt++) {
      const generation = this.#session.generation;
      let res: IncomingMessage;
      try {
        res = await new Promise<IncomingMessage>((resolve, reject) => {
          const req = request(url, {
            method,
            agent: this.#session.agent,
            headers: { ...headers, ...this.#cookieHeader() },
            signal,
          });
          req.once('response', resolve);
          req.once('error', (err) => reject(Object.assign(err, { request: req })));
          req.end();
        });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (attempt === 0 && isStaleKeepAlive(err)) {
          dropIdleSockets(this.#session.agent);
          continue;
        }
        throw toConnectionError(context, err);
      }
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return res;
      const body = await readSmall(res);
      // A GET can be repeated safely: after a lost session, log in again once and retry.
      if ((status === 401 || status === 403) && attempt === 0) {
        await this.#session.relogin(generation);
        continue;
      }
      throw await this.#statusError(context, p, status, body, generation);
    }
  }

  async #statusError(
    context: RequestContext,
    p: DatastorePath,
    status: number,
    body: string,
    generation: number,
  ): Promise<VSphereError> {
    if (status === 404) {
      return new FileNotFoundError(context, {
        type: 'FileNotFound',
        message: `${formatDatastorePath(p)} does not exist (HTTP 404)`,
        detail: { file: formatDatastorePath(p) },
      });
    }
    if (status === 401 || status === 403) {
      await this.#session.relogin(generation).catch(() => undefined);
      return new SessionExpiredError(context, {
        type: 'NotAuthenticated',
        message: `HTTP ${status}; the session was renewed, retry the transfer`,
        detail: {},
      });
    }
    return new HttpStatusError(context, status, body);
  }

  #cookieHeader(): Record<string, string> {
    const cookie = this.#session.cookie;
    return cookie === undefined ? {} : { Cookie: cookie };
  }

  #resolve(datastore: string): Promise<ResolvedDatastore> {
    let resolved = this.#resolved.get(datastore);
    if (resolved === undefined) {
      resolved = (async () => {
        const item = await this.#inventory.findDatastore(datastore);
        const facts = await this.#facts.datastore(item.ref);
        return {
          ref: item.ref,
          browser: facts.browser,
          datacenter: facts.datacenter?.ref,
          datacenterPath: facts.datacenter?.path ?? 'ha-datacenter',
        };
      })();
      // A failed resolution is not cached: the datastore may be mounted a moment later.
      resolved.catch(() => this.#resolved.delete(datastore));
      this.#resolved.set(datastore, resolved);
    }
    return resolved;
  }

  #context(method: string, p: DatastorePath): RequestContext {
    return { endpoint: this.#session.endpoint, method, object: formatDatastorePath(p) };
  }
}
