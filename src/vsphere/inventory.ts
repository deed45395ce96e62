/** Inventory lookups and listings: VMs, hosts, clusters, datastores, resource pools, folders, datacenters. */
import { boxed, ref, refLabel, str } from './convert';
import type { RequestContext } from './errors';
import { AmbiguousNameError, NotFoundError } from './errors';
import type { ObjectProps } from './property-collector';
import { retrieveAll, retrieveObjects } from './property-collector';
import type { CallOptions, Session } from './session';
import type {
  ClusterInfo,
  DatacenterInfo,
  FolderInfo,
  InventoryItem,
  MoRef,
  NetworkInfo,
  PowerState,
  ResourcePoolInfo,
} from './types';

/** How to identify a VM. Exactly one field. */
export type VmLocator =
  | { readonly name: string }
  | { readonly inventoryPath: string }
  | { readonly ref: MoRef }
  | { readonly instanceUuid: string };

/** A VM found by a lookup. */
export interface VmItem extends InventoryItem {
  readonly powerState: PowerState;
}

/** Lookups and listings. */
export class Inventory {
  readonly #session: Session;

  /** @internal */
  constructor(session: Session) {
    this.#session = session;
  }

  /**
   * Finds one VM by name (must be unique on the endpoint), inventory path (`DC0/vm/folder/name`),
   * moref, or instance UUID. Throws NotFoundError when there is none, AmbiguousNameError when a
   * name matches several.
   */
  async findVm(locator: VmLocator, options: CallOptions = {}): Promise<VmItem> {
    const s = this.#session;
    let vmRef: MoRef | undefined;
    let what: string;
    if ('ref' in locator) {
      vmRef = locator.ref;
      what = refLabel(locator.ref);
    } else if ('inventoryPath' in locator) {
      what = `inventory path "${locator.inventoryPath}"`;
      vmRef = ref(
        await s.call(
          'FindByInventoryPath',
          this.#searchIndex(),
          { inventoryPath: locator.inventoryPath },
          options,
        ),
      );
      if (vmRef !== undefined && vmRef.type !== 'VirtualMachine') vmRef = undefined;
    } else if ('instanceUuid' in locator) {
      what = `instance UUID ${locator.instanceUuid}`;
      vmRef = ref(
        await s.call(
          'FindByUuid',
          this.#searchIndex(),
          { uuid: locator.instanceUuid, vmSearch: true, instanceUuid: true },
          options,
        ),
      );
    } else {
      what = `name "${locator.name}"`;
      const all = await this.listVms(options);
      const matches = all.filter((vm) => vm.name === locator.name);
      if (matches.length > 1) {
        throw new AmbiguousNameError(
          this.#context('findVm', what),
          `VM ${what}`,
          matches.map((m) => refLabel(m.ref)),
        );
      }
      if (matches[0] !== undefined) return matches[0];
    }
    if (vmRef === undefined) throw this.#notFound('findVm', `no VirtualMachine with ${what}`, what);
    try {
      const [o] = await retrieveObjects(s, 'VirtualMachine', [vmRef], VM_PATHS, options);
      if (o !== undefined) return toVm(o);
    } catch (err) {
      if (err instanceof NotFoundError)
        throw this.#notFound('findVm', `no VirtualMachine with ${what}`, what, err);
      throw err;
    }
    throw this.#notFound('findVm', `no VirtualMachine with ${what}`, what);
  }

  /** Every VM (and template) on the endpoint with name and power state. */
  async listVms(options: CallOptions = {}): Promise<VmItem[]> {
    return (await retrieveAll(this.#session, 'VirtualMachine', VM_PATHS, options)).map(toVm);
  }

  /** Every host. */
  async listHosts(options: CallOptions = {}): Promise<InventoryItem[]> {
    return (await retrieveAll(this.#session, 'HostSystem', ['name', 'parent'], options)).map(toItem);
  }

  /** Every datastore. */
  async listDatastores(options: CallOptions = {}): Promise<InventoryItem[]> {
    return (await retrieveAll(this.#session, 'Datastore', ['name', 'parent'], options)).map(toItem);
  }

  /** Every network: standard port groups (`Network`) and distributed ones, with the hosts and VMs on each. */
  async listNetworks(options: CallOptions = {}): Promise<NetworkInfo[]> {
    const objects = await retrieveAll(this.#session, 'Network', ['name', 'parent', 'host', 'vm'], options);
    return objects.map((o) => ({
      ...toItem(o),
      hosts: boxed(o.props.get('host')).flatMap((h) => ref(h) ?? []),
      vms: boxed(o.props.get('vm')).flatMap((v) => ref(v) ?? []),
    }));
  }

  /**
   * What an adapter's backing names a distributed port group by: its key and its switch's UUID
   * (DistributedVirtualSwitchPortConnection.portgroupKey and switchUuid).
   */
  async distributedPortgroup(
    portgroup: MoRef,
    options: CallOptions = {},
  ): Promise<{ portgroupKey: string; switchUuid: string }> {
    const [pg] = await retrieveObjects(
      this.#session,
      'DistributedVirtualPortgroup',
      [portgroup],
      ['key', 'config.distributedVirtualSwitch'],
      options,
    );
    const dvs = ref(pg?.props.get('config.distributedVirtualSwitch'));
    const [sw] = dvs
      ? await retrieveObjects(this.#session, 'DistributedVirtualSwitch', [dvs], ['uuid'], options)
      : [];
    const portgroupKey = str(pg?.props.get('key'));
    const switchUuid = str(sw?.props.get('uuid'));
    if (portgroupKey === undefined || switchUuid === undefined)
      throw this.#notFound(
        'RetrievePropertiesEx',
        'no key, or no switch UUID, for the distributed port group',
        refLabel(portgroup),
      );
    return { portgroupKey, switchUuid };
  }

  /** Every cluster (none on a standalone host). */
  async listClusters(options: CallOptions = {}): Promise<ClusterInfo[]> {
    const objects = await retrieveAll(this.#session, 'ClusterComputeResource', CLUSTER_PATHS, options);
    return objects.map((o) => ({
      ...toItem(o),
      hosts: boxed(o.props.get('host')).flatMap((h) => ref(h) ?? []),
      resourcePool: ref(o.props.get('resourcePool')),
      evcModeKey: str(at1(o.props.get('summary'), 'currentEVCModeKey')),
    }));
  }

  /** Every resource pool, including each compute resource's root pool (`Resources`). */
  async listResourcePools(options: CallOptions = {}): Promise<ResourcePoolInfo[]> {
    const objects = await retrieveAll(this.#session, 'ResourcePool', ['name', 'parent', 'owner'], options);
    return objects.map((o) => ({ ...toItem(o), owner: ref(o.props.get('owner')) }));
  }

  /** Every folder with the child types it may hold (`VirtualMachine`, `HostSystem`, `Datastore`...). */
  async listFolders(options: CallOptions = {}): Promise<FolderInfo[]> {
    const objects = await retrieveAll(this.#session, 'Folder', ['name', 'parent', 'childType'], options);
    return objects.map((o) => ({
      ...toItem(o),
      childTypes: boxed(o.props.get('childType')).flatMap((t) => str(t) ?? []),
    }));
  }

  /** Every datacenter with its inventory path (the file API's dcPath). */
  async listDatacenters(options: CallOptions = {}): Promise<DatacenterInfo[]> {
    const objects = await retrieveAll(this.#session, 'Datacenter', DATACENTER_PATHS, options);
    const folders = objects.some((o) => !sameRef(ref(o.props.get('parent')), this.#session.refs.rootFolder))
      ? await this.listFolders(options)
      : [];
    return objects.map((o) => {
      const item = toItem(o);
      return {
        ...item,
        path: inventoryPath(item, folders, this.#session.refs.rootFolder),
        vmFolder: ref(o.props.get('vmFolder')),
        hostFolder: ref(o.props.get('hostFolder')),
        datastores: boxed(o.props.get('datastore')).flatMap((d) => ref(d) ?? []),
      };
    });
  }

  /** The datacenter that holds `datastore`. Throws NotFoundError when none does. */
  async datacenterOf(datastore: MoRef, options: CallOptions = {}): Promise<DatacenterInfo> {
    const dc = (await this.listDatacenters(options)).find((d) =>
      d.datastores.some((r) => sameRef(r, datastore)),
    );
    if (dc === undefined)
      throw this.#notFound('datacenterOf', `no datacenter holds ${refLabel(datastore)}`, refLabel(datastore));
    return dc;
  }

  /** Finds a datastore by name. Throws NotFoundError when there is none. */
  async findDatastore(name: string, options: CallOptions = {}): Promise<InventoryItem> {
    return this.#findByName('Datastore', name, await this.listDatastores(options));
  }

  /** Finds a host by name. Throws NotFoundError when there is none. */
  async findHost(name: string, options: CallOptions = {}): Promise<InventoryItem> {
    return this.#findByName('HostSystem', name, await this.listHosts(options));
  }

  /** Resolves any inventory path (`DC0/host/DC0_C0`, `DC0/datastore/LocalDS_0`...) to its moref. Throws NotFoundError. */
  async findByInventoryPath(inventoryPath: string, options: CallOptions = {}): Promise<MoRef> {
    const r = ref(
      await this.#session.call('FindByInventoryPath', this.#searchIndex(), { inventoryPath }, options),
    );
    if (r === undefined) {
      throw this.#notFound(
        'FindByInventoryPath',
        `nothing at inventory path "${inventoryPath}"`,
        inventoryPath,
      );
    }
    return r;
  }

  #findByName(type: string, name: string, items: readonly InventoryItem[]): InventoryItem {
    const matches = items.filter((i) => i.name === name);
    if (matches.length > 1) {
      throw new AmbiguousNameError(
        this.#context(`find ${type}`, name),
        `${type} "${name}"`,
        matches.map((m) => refLabel(m.ref)),
      );
    }
    const [match] = matches;
    if (match === undefined) throw this.#notFound(`find ${type}`, `no ${type} named "${name}"`, name);
    return match;
  }

  #searchIndex(): MoRef {
    const si = this.#session.refs.searchIndex;
    if (si === undefined) throw new TypeError('endpoint has no SearchIndex');
    return si;
  }

  #context(method: string, object: string): RequestContext {
    return { endpoint: this.#session.endpoint, method, object };
  }

  #notFound(method: string, message: string, object: string, cause?: unknown): NotFoundError {
    return new NotFoundError(
      this.#context(method, object),
      { type: 'NotFound', message, detail: {} },
      { cause },
    );
  }
}

const CLUSTER_PATHS = ['name', 'parent', 'host', 'resourcePool', 'summary'];
const DATACENTER_PATHS = ['name', 'parent', 'vmFolder', 'hostFolder', 'datastore'];
const VM_PATHS = ['name', 'parent', 'runtime.powerState'];

function toItem(o: ObjectProps): InventoryItem {
  return { ref: o.ref, name: str(o.props.get('name')) ?? '', parent: ref(o.props.get('parent')) };
}

function toVm(o: ObjectProps): VmItem {
  return { ...toItem(o), powerState: (str(o.props.get('runtime.powerState')) ?? 'poweredOff') as PowerState };
}

function at1(v: unknown, key: string): unknown {
  return v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
}

/** True when both refs name the same object. */
export function sameRef(a: MoRef | undefined, b: MoRef | undefined): boolean {
  return a !== undefined && b !== undefined && a.type === b.type && a.value === b.value;
}

function inventoryPath(item: InventoryItem, folders: readonly FolderInfo[], root: MoRef): string {
  const names = [item.name];
  let parent = item.parent;
  for (let guard = 0; parent !== undefined && !sameRef(parent, root) && guard < 64; guard++) {
    const p = parent;
    const folder = folders.find((f) => sameRef(f.ref, p));
    if (folder === undefined) break;
    names.unshift(folder.name);
    parent = folder.parent;
  }
  return names.join('/');
}
