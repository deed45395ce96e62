/**
 * A client of a lab endpoint's control API (lab/vcsim/README.md): fault injection, the log of mutating
 * vSphere calls, guest writes. Used by the tests and by `quickmig lab fault|calls`.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { LabError } from './errors';
import type { LabEndpoint } from './lab';
import type { EffectiveProfile } from './topology';

/** A mutating vSphere call the simulator received. */
export interface LabCall {
  seq: number;
  time: string;
  method: string;
  object: string;
  ok: boolean;
  fault: string | null;
}

/** A fault rule (see lab/vcsim/README.md for every field). */
export type FaultRule =
  | {
      kind: 'soap';
      method: string;
      object?: string;
      fault: string;
      message?: string;
      count?: number;
      probability?: number;
      seed?: number;
    }
  | { kind: 'http-reset'; path?: string; method?: string; afterBytes: number; count?: number }
  | { kind: 'http-status'; path?: string; method?: string; status: number; count?: number }
  | { kind: 'latency'; method?: string; path?: string; ms: number; count?: number }
  /** Responses (e.g. `/folder` GETs) sent no faster than `bytesPerSec`, each request on its own. */
  | { kind: 'bandwidth'; method?: string; path?: string; bytesPerSec: number; count?: number }
  /** The VM's next power-on/resume blocks on this question (choice keys "0", "1", … in order). */
  | {
      kind: 'question';
      vm?: string;
      method?: string;
      messageId: string;
      text?: string;
      choices: string[];
      count?: number;
    };

/** Control API of one lab endpoint. */
export class LabControl {
  readonly #token: string;
  readonly #ca: Buffer;

  constructor(readonly endpoint: LabEndpoint) {
    this.#token = readFileSync(endpoint.control.tokenFile, 'utf8').trim();
    this.#ca = readFileSync(endpoint.certFile);
  }

  /** Sends one request; resolves with the parsed JSON answer. */
  call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.endpoint.control.url}${path}`;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          ca: this.#ca,
          agent: false,
          headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => {
            if ((res.statusCode ?? 500) >= 300) {
              reject(
                new LabError(
                  `${this.endpoint.name} control ${method} ${path}: HTTP ${res.statusCode} ${text.trim()}`,
                ),
              );
            } else {
              resolve((text.trim() ? JSON.parse(text) : undefined) as T);
            }
          });
        },
      );
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  /** The times and rates the endpoint runs with (its effective lab profile). */
  profile(): Promise<EffectiveProfile> {
    return this.call('GET', '/profile');
  }

  /** Mutating calls received after `since` (a sequence number). */
  async calls(since = 0): Promise<LabCall[]> {
    return (await this.call<{ calls: LabCall[] }>('GET', `/calls?since=${since}`)).calls;
  }

  /** Forgets the calls received so far. */
  clearCalls(): Promise<void> {
    return this.call('DELETE', '/calls');
  }

  /** Adds a fault rule. */
  addFault(rule: FaultRule): Promise<unknown> {
    return this.call('POST', '/faults', rule);
  }

  /** The fault rules in force. */
  faults(): Promise<unknown> {
    return this.call('GET', '/faults');
  }

  /** Removes every fault rule. */
  clearFaults(): Promise<void> {
    return this.call('DELETE', '/faults');
  }

  /** One guest write into the current writable file of a running VM's disk. */
  guestWrite(vm: string, disk: number, offset: number, data: Buffer): Promise<void> {
    return this.call('POST', '/guest/write', { vm, disk, offset, dataBase64: data.toString('base64') });
  }

  /**
   * Sets the idle timeout of API sessions (`config.vmacore.soap.sessionTimeout`, a Go duration such as
   * "5s") for the sessions logged in from now on; an expired session is refused by the API and `/folder`.
   */
  setSessionTimeout(timeout: string): Promise<void> {
    return this.call('POST', '/sessions/timeout', { timeout });
  }

  /** Logins the endpoint accepted and `/folder` requests it refused for an expired or unknown session. */
  sessions(): Promise<{ timeout: string; logins: number; refusedFolderRequests: number }> {
    return this.call('GET', '/sessions');
  }

  /** Another writer takes up to `bytes` of a datastore (stops where it is full); the bytes it wrote and the free bytes after. */
  fillDatastore(
    datastore: string,
    bytes: number,
  ): Promise<{ path: string; bytes: number; freeBytes: number }> {
    return this.call('POST', '/datastores/fill', { datastore, bytes });
  }

  /** Removes the other writers' files from every datastore. */
  clearFill(): Promise<void> {
    return this.call('DELETE', '/datastores/fill');
  }

  /** Body bytes every PUT of each file wrote, by datastore path (`[ds] folder/file`), since the endpoint started. */
  putBytes(): Promise<Record<string, number>> {
    return this.call('GET', '/puts');
  }

  /** Free bytes of every datastore of the endpoint, now. */
  datastoreFree(): Promise<Record<string, number>> {
    return this.call('GET', '/datastores/free');
  }

  /**
   * Takes the endpoint's vSphere service (SOAP and `/folder`) away for `seconds`: every connection is
   * reset, sessions and VMs stay as they are, the control API stays reachable (lab/vcsim/README.md,
   * "Control API"). With `when`, the outage is armed and starts with the first request matching it.
   */
  outage(seconds: number, when?: { method?: string; path?: string }): Promise<unknown> {
    return this.call('POST', '/outage', { seconds, ...(when ? { when } : {}) });
  }

  /** Ends an outage now (and disarms one not started yet). */
  endOutage(): Promise<void> {
    return this.call('DELETE', '/outage');
  }

  /**
   * What the VM's guest OS does on its next ShutdownGuest: `halt` (powers off, the default), `ignore`
   * (never stops), `restart` (reboots instead: the VM stays poweredOn), `hang` (Tools stop responding half
   * way through and the VM stays on). See lab/vcsim/README.md "Control API".
   */
  setShutdownAction(vm: string, action: 'halt' | 'ignore' | 'restart' | 'hang'): Promise<void> {
    return this.call('POST', '/guest/shutdown-action', { vm, action });
  }

  /**
   * Runs a task of another client on the VM for `seconds` (a backup job's snapshot, say): meanwhile every
   * other mutating task on the VM fails with TaskInProgress. Resolves with the task's moref.
   */
  async holdTask(vm: string, seconds: number, name?: string): Promise<string> {
    return (await this.call<{ task: string }>('POST', '/tasks/hold', { vm, seconds, name })).task;
  }

  /**
   * The `/folder` streams each host holds now (waiting for a slot or moving bytes) and the most at once
   * since the start or the last resetStreams(): the demand clients put on the host (lab/vcsim/streams.go).
   */
  streams(): Promise<Record<string, { now: number; max: number }>> {
    return this.call('GET', '/streams');
  }

  /** Starts each host's stream maximum again from the streams in flight now. */
  resetStreams(): Promise<void> {
    return this.call('DELETE', '/streams');
  }

  /** Sets a VM's background guest write rate. */
  setGuestRate(vm: string, bytesPerSec: number): Promise<void> {
    return this.call('POST', '/guest/rate', { vm, bytesPerSec });
  }
}
