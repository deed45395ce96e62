/**
 * Discovery: what an endpoint holds (VMs, hosts, datastores, networks) with sizes and states, read on the
 * worker (which alone holds the credentials) for `quickmig inventory`. Reads only.
 */

import type { MoRef, VSphereClient } from '../vsphere';
import type { EndpointPool } from './endpoints';

/** What `inventory` lists. */
export type InventoryKind = 'vms' | 'hosts' | 'datastores' | 'networks';

/** The kinds, in the order the CLI offers them. */
export const INVENTORY_KINDS: readonly InventoryKind[] = ['vms', 'hosts', 'datastores', 'networks'];

/** What to list, and the filters (all optional, combined with AND). */
export interface InventoryQuery {
  /** One endpoint; default every endpoint of the worker. */
  endpoint?: string;
  /** Default `vms`. */
  kind?: InventoryKind;
  /** A glob on the name: `*` any run of characters, `?` one character; case-sensitive. */
  name?: string;
  /** VMs only: `poweredOn`, `poweredOff` or `suspended` (`on`, `off` are accepted). */
  power?: string;
  /** VMs with a file on this datastore; hosts that mount it. */
  datastore?: string;
  /** VMs registered on this host; datastores it mounts. */
  host?: string;
}

/** One virtual disk: logical size and what its files take on the datastore. */
export interface InventoryDisk {
  label: string;
  /** The disk's size as the guest sees it. */
  capacityBytes: number;
  /** What its files (every snapshot level) occupy on the datastore. */
  allocatedBytes: number;
  /** Datastore of the disk's current file. */
  datastore: string;
  /** Thin provisioned; null when vSphere does not say. */
  thin: boolean | null;
}

/** A VM as `inventory vms` lists it. */
export interface InventoryVm {
  endpoint: string;
  name: string;
  powerState: 'poweredOn' | 'poweredOff' | 'suspended';
  memoryMiB: number;
  cpus: number;
  /** The host it is registered on; null for an orphaned VM. */
  host: string | null;
  datastores: string[];
  disks: InventoryDisk[];
  /** Sum of the disks' logical sizes. */
  capacityBytes: number;
  /** Sum of every file of the VM (disks, configuration, logs, swap, snapshots). */
  allocatedBytes: number;
  snapshots: number;
  template: boolean;
  guestId: string | null;
}

/** A host as `inventory hosts` lists it. */
export interface InventoryHost {
  endpoint: string;
  name: string;
  connectionState: string | null;
  powerState: string | null;
  inMaintenanceMode: boolean;
  cpuModel: string | null;
  cpuVendor: string | null;
  cpuCores: number | null;
  memoryBytes: number | null;
  version: string | null;
  /** capability.vmotionSupported, as the planner reads it. */
  vmotion: boolean;
  datastores: string[];
}

/** A datastore as `inventory datastores` lists it. */
export interface InventoryDatastore {
  endpoint: string;
  name: string;
  /** VMFS, NFS, NFS41, vsan, VVOL. */
  type: string | null;
  capacityBytes: number;
  freeBytes: number;
  accessible: boolean;
  hosts: string[];
  vms: number;
}

/** A network as `inventory networks` lists it. */
export interface InventoryNetwork {
  endpoint: string;
  name: string;
  /** `Network` (a standard port group) or `DistributedVirtualPortgroup`. */
  type: string;
  hosts: string[];
  vms: number;
}

/** The answer: the kind and its rows, plus the endpoints that could not be read (with why). */
export type InventoryListing = {
  /** Endpoints that failed, e.g. a login refused; the others are listed. */
  failed: { endpoint: string; error: string }[];
} & (
  | { kind: 'vms'; rows: InventoryVm[] }
  | { kind: 'hosts'; rows: InventoryHost[] }
  | { kind: 'datastores'; rows: InventoryDatastore[] }
  | { kind: 'networks'; rows: InventoryNetwork[] }
);

/** A glob (`*`, `?`) as an anchored regular expression. */
export function globRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

const POWER: Record<string, InventoryVm['powerState']> = {
  on: 'poweredOn',
  poweredon: 'poweredOn',
  off: 'poweredOff',
  poweredoff: 'poweredOff',
  suspended: 'suspended',
};

/** The power state a filter names; undefined for a word that names none. */
export function powerStateOf(word: string): InventoryVm['powerState'] | undefined {
  return POWER[word.toLowerCase()];
}

/** The names of `refs`, sorted (vSphere lists them in no promised order). */
const names = (refs: readonly MoRef[], byRef: ReadonlyMap<string, string>) =>
  refs.flatMap((r) => byRef.get(r.value) ?? []).sort();

async function nameMap(list: Promise<readonly { ref: MoRef; name: string }[]>) {
  return new Map((await list).map((i) => [i.ref.value, i.name]));
}

async function listVms(endpoint: string, client: VSphereClient, q: InventoryQuery): Promise<InventoryVm[]> {
  const [items, hosts, datastores] = await Promise.all([
    client.inventory.listVms(),
    nameMap(client.inventory.listHosts()),
    nameMap(client.inventory.listDatastores()),
  ]);
  const match = q.name ? globRegExp(q.name) : undefined;
  const wanted = items.filter((v) => !match || match.test(v.name));
  const facts = await client.facts.vms(wanted.map((v) => v.ref));
  const count = (tree: readonly { children: readonly unknown[] }[]): number =>
    tree.reduce((n, s) => n + 1 + count(s.children as { children: readonly unknown[] }[]), 0);
  return facts.map((vm) => {
    const sizes = new Map(vm.files.map((f) => [f.name, f.size]));
    const disks = vm.disks.map((d) => {
      const top = d.chain[0];
      return {
        label: d.label ?? `disk ${d.key}`,
        capacityBytes: d.capacityBytes,
        allocatedBytes: d.layoutFiles.flat().reduce((sum, f) => sum + (sizes.get(f) ?? 0), 0),
        datastore: top?.datastore ? (datastores.get(top.datastore.value) ?? '') : '',
        thin: d.chain[d.chain.length - 1]?.thinProvisioned ?? null,
      };
    });
    return {
      endpoint,
      name: vm.name,
      powerState: vm.powerState,
      memoryMiB: vm.memoryMB,
      cpus: vm.numCpu,
      host: vm.host ? (hosts.get(vm.host.value) ?? null) : null,
      datastores: names(vm.datastores, datastores),
      disks,
      capacityBytes: disks.reduce((sum, d) => sum + d.capacityBytes, 0),
      allocatedBytes: vm.files.reduce((sum, f) => sum + f.size, 0),
      snapshots: count(vm.snapshots),
      template: vm.template,
      guestId: vm.guestId ?? null,
    };
  });
}

async function listHosts(endpoint: string, client: VSphereClient): Promise<InventoryHost[]> {
  const [items, datastores] = await Promise.all([
    client.inventory.listHosts(),
    nameMap(client.inventory.listDatastores()),
  ]);
  return (await client.facts.hosts(items.map((h) => h.ref))).map((h) => ({
    endpoint,
    name: h.name,
    connectionState: h.connectionState ?? null,
    powerState: h.powerState ?? null,
    inMaintenanceMode: h.inMaintenanceMode,
    cpuModel: h.cpuModel ?? null,
    cpuVendor: h.cpuVendor ?? null,
    cpuCores: h.numCpuCores ?? null,
    memoryBytes: h.memoryBytes ?? null,
    version: h.productVersion ?? null,
    vmotion: h.vmotionSupported,
    datastores: names(h.datastores, datastores),
  }));
}

async function listDatastores(endpoint: string, client: VSphereClient): Promise<InventoryDatastore[]> {
  const [items, hosts] = await Promise.all([
    client.inventory.listDatastores(),
    nameMap(client.inventory.listHosts()),
  ]);
  return (await client.facts.datastores(items.map((d) => d.ref))).map((d) => ({
    endpoint,
    name: d.name,
    type: d.type ?? null,
    capacityBytes: d.capacityBytes,
    freeBytes: d.freeBytes,
    accessible: d.accessible,
    hosts: names(
      d.hosts.filter((m) => m.mounted).map((m) => m.host),
      hosts,
    ),
    vms: d.vms.length,
  }));
}

async function listNetworks(endpoint: string, client: VSphereClient): Promise<InventoryNetwork[]> {
  const [items, hosts] = await Promise.all([
    client.inventory.listNetworks(),
    nameMap(client.inventory.listHosts()),
  ]);
  return items.map((n) => ({
    endpoint,
    name: n.name,
    type: n.ref.type,
    hosts: names(n.hosts, hosts),
    vms: n.vms.length,
  }));
}

/** Applies the filters that need the rows (the name glob is applied before the facts are read, for VMs). */
function filterRows<T extends { name: string }>(kind: InventoryKind, rows: T[], q: InventoryQuery): T[] {
  const match = q.name ? globRegExp(q.name) : undefined;
  const power = q.power ? powerStateOf(q.power) : undefined;
  return rows.filter((row) => {
    if (match && !match.test(row.name)) return false;
    if (kind === 'vms') {
      const vm = row as unknown as InventoryVm;
      if (power && vm.powerState !== power) return false;
      if (q.datastore && !vm.datastores.includes(q.datastore)) return false;
      if (q.host && vm.host !== q.host) return false;
    }
    if (
      kind === 'hosts' &&
      q.datastore &&
      !(row as unknown as InventoryHost).datastores.includes(q.datastore)
    )
      return false;
    if (kind === 'datastores' && q.host && !(row as unknown as InventoryDatastore).hosts.includes(q.host))
      return false;
    return true;
  });
}

/** Builds the inventory activity over the endpoint pool. */
export function createInventoryActivities(pool: EndpointPool) {
  return {
    /**
     * Lists one kind of object on one endpoint (or on every endpoint), with sizes and states, filtered.
     * An unknown endpoint throws UnknownEndpointError; an endpoint that fails (login refused, down) is
     * reported in `failed` when listing every endpoint, and thrown when it was the one asked for.
     */
    async listInventory(query: InventoryQuery): Promise<InventoryListing> {
      const kind = query.kind ?? 'vms';
      const endpoints = query.endpoint ? [query.endpoint] : pool.names();
      const failed: { endpoint: string; error: string }[] = [];
      const rows: { endpoint: string; name: string }[] = [];
      for (const endpoint of endpoints) {
        let client: VSphereClient;
        try {
          client = await pool.clientFor(endpoint);
        } catch (error) {
          if (query.endpoint) throw error;
          failed.push({ endpoint, error: (error as Error).message });
          continue;
        }
        const found: { endpoint: string; name: string }[] =
          kind === 'vms'
            ? await listVms(endpoint, client, query)
            : kind === 'hosts'
              ? await listHosts(endpoint, client)
              : kind === 'datastores'
                ? await listDatastores(endpoint, client)
                : await listNetworks(endpoint, client);
        rows.push(...filterRows(kind, found, query));
      }
      rows.sort((a, b) => a.endpoint.localeCompare(b.endpoint) || a.name.localeCompare(b.name));
      return { kind, rows, failed } as InventoryListing;
    },
  };
}
