/** The vSphere client: one endpoint (vCenter or standalone ESXi), one shared session. */
import { Authorization } from './authorization';
import { Datastores } from './datastores';
import { VirtualDisks } from './disks';
import { Facts } from './facts';
import { DatastoreFiles } from './files';
import { Guest } from './guest';
import { Inventory } from './inventory';
import type { SessionOptions } from './session';
import { Session } from './session';
import { Tasks } from './tasks';
import type { AboutInfo } from './types';
import { Vms } from './vms';

/** Options of `VSphereClient.connect`. */
export type VSphereClientOptions = SessionOptions;

/**
 * A logged-in client of one vSphere endpoint. All callers share one session: concurrent calls
 * are fine, a lost session is re-established once for everyone, and `close()` logs out.
 *
 * ```ts
 * const client = await VSphereClient.connect({ url, username, password, tls: { thumbprint } });
 * const vm = await client.inventory.findVm({ name: 'web01' });
 * await client.vms.powerOff(vm.ref);
 * await client.close();
 * ```
 */
export class VSphereClient {
  /** Lookups and listings. */
  readonly inventory: Inventory;
  /** Planner facts of VMs, hosts, datastores and the endpoint. */
  readonly facts: Facts;
  /** Task waiting and cancelling. */
  readonly tasks: Tasks;
  /** VM mutations. */
  readonly vms: Vms;
  /** Guest shutdown and heartbeat, the VM's pending question, power-on that answers it. */
  readonly guest: Guest;
  /** SOAP datastore operations (FileManager, browser, datastore system). */
  readonly datastores: Datastores;
  /** Datastore files by path: streaming GET/PUT, list, stat, mkdir, delete. */
  readonly files: DatastoreFiles;
  /** Virtual disks: allocated areas (change tracking) and server-side conversion. */
  readonly disks: VirtualDisks;
  /** The session's privileges on entities. */
  readonly authorization: Authorization;

  readonly #session: Session;

  private constructor(session: Session) {
    this.#session = session;
    this.inventory = new Inventory(session);
    this.facts = new Facts(session, this.inventory);
    this.tasks = new Tasks(session);
    this.vms = new Vms(session, this.tasks);
    this.guest = new Guest(session, this.tasks);
    this.datastores = new Datastores(session, this.tasks);
    this.files = new DatastoreFiles(session, this.inventory, this.facts, this.datastores);
    this.disks = new VirtualDisks(session, this.tasks);
    this.authorization = new Authorization(session);
  }

  /**
   * Negotiates the API version, logs in and returns the client. Throws AuthenticationError for
   * refused credentials, ThumbprintMismatchError for a certificate that fails the pin,
   * ConnectionError when the endpoint cannot be reached.
   */
  static async connect(options: VSphereClientOptions): Promise<VSphereClient> {
    return new VSphereClient(await Session.open(options));
  }

  /** The SDK URL. */
  get endpoint(): string {
    return this.#session.endpoint;
  }

  /** What the endpoint says about itself. */
  get about(): AboutInfo {
    return this.#session.about;
  }

  /** True for a vCenter, false for a standalone ESXi host (about.apiType). */
  get isVCenter(): boolean {
    return this.#session.about.apiType === 'VirtualCenter';
  }

  /** The vim25 version in use (sent as SOAPAction `urn:vim25/<version>`). */
  get apiVersion(): string {
    return this.#session.apiVersion;
  }

  /**
   * For tools (the benchmark's curl baseline): the `Cookie` header value of the current session
   * (`vmware_soap_session=...`), so another HTTP client can use the datastore file API as this
   * session. Undefined before login and after `close()`. Treat it as a credential.
   */
  sessionCookie(): string | undefined {
    return this.#session.cookie;
  }

  /** Logs out and closes connections. Idempotent; the client is unusable afterwards. */
  close(): Promise<void> {
    return this.#session.close();
  }
}
