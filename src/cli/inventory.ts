/** `quickmig inventory`: what an endpoint holds, with sizes and states, read on the worker. */
import type {
  InventoryDatastore,
  InventoryHost,
  InventoryKind,
  InventoryListing,
  InventoryNetwork,
  InventoryQuery,
  InventoryVm,
} from '../activities/inventory';
import { INVENTORY_KINDS, powerStateOf } from '../activities/inventory';
import { CONNECTION_ARGS } from './args';
import { command, outputOf } from './command';
import { withClient } from './connect';
import { CliError, ExitCode } from './errors';
import { formatBytes } from './render';
import type { Column, TableFormat } from './table';
import { FORMAT_ARG, renderTable, tableFormatOf } from './table';

const POWER_SHORT = { poweredOn: 'on', poweredOff: 'off', suspended: 'suspended' } as const;
const list = (items: readonly string[]) => items.join(' ') || '-';

const VM_COLUMNS: Column<InventoryVm>[] = [
  { header: 'ENDPOINT', cell: (v) => v.endpoint },
  { header: 'NAME', cell: (v) => v.name },
  { header: 'POWER', cell: (v) => POWER_SHORT[v.powerState] },
  { header: 'CPUS', cell: (v) => String(v.cpus), right: true },
  { header: 'MEMORY', cell: (v) => formatBytes(v.memoryMiB * 2 ** 20), right: true },
  { header: 'DISKS', cell: (v) => String(v.disks.length), right: true },
  { header: 'CAPACITY', cell: (v) => formatBytes(v.capacityBytes), right: true },
  { header: 'ALLOCATED', cell: (v) => formatBytes(v.allocatedBytes), right: true },
  { header: 'HOST', cell: (v) => v.host ?? '-' },
  { header: 'DATASTORES', cell: (v) => list(v.datastores) },
];

const HOST_COLUMNS: Column<InventoryHost>[] = [
  { header: 'ENDPOINT', cell: (h) => h.endpoint },
  { header: 'NAME', cell: (h) => h.name },
  {
    header: 'CONNECTION',
    cell: (h) => `${h.connectionState ?? '-'}${h.inMaintenanceMode ? ' (maintenance)' : ''}`,
  },
  { header: 'CPU', cell: (h) => [h.cpuVendor, h.cpuModel].filter(Boolean).join(' ') || '-' },
  { header: 'CORES', cell: (h) => (h.cpuCores === null ? '-' : String(h.cpuCores)), right: true },
  { header: 'MEMORY', cell: (h) => (h.memoryBytes === null ? '-' : formatBytes(h.memoryBytes)), right: true },
  { header: 'VERSION', cell: (h) => h.version ?? '-' },
  { header: 'VMOTION', cell: (h) => (h.vmotion ? 'yes' : 'no') },
  { header: 'DATASTORES', cell: (h) => list(h.datastores) },
];

const DATASTORE_COLUMNS: Column<InventoryDatastore>[] = [
  { header: 'ENDPOINT', cell: (d) => d.endpoint },
  { header: 'NAME', cell: (d) => d.name },
  { header: 'TYPE', cell: (d) => d.type ?? '-' },
  { header: 'CAPACITY', cell: (d) => formatBytes(d.capacityBytes), right: true },
  { header: 'FREE', cell: (d) => formatBytes(d.freeBytes), right: true },
  {
    header: 'FREE %',
    cell: (d) => (d.capacityBytes > 0 ? `${Math.round((d.freeBytes / d.capacityBytes) * 100)}%` : '-'),
    right: true,
  },
  { header: 'ACCESSIBLE', cell: (d) => (d.accessible ? 'yes' : 'no') },
  { header: 'VMS', cell: (d) => String(d.vms), right: true },
  { header: 'HOSTS', cell: (d) => list(d.hosts) },
];

const NETWORK_COLUMNS: Column<InventoryNetwork>[] = [
  { header: 'ENDPOINT', cell: (n) => n.endpoint },
  { header: 'NAME', cell: (n) => n.name },
  { header: 'TYPE', cell: (n) => n.type },
  { header: 'VMS', cell: (n) => String(n.vms), right: true },
  { header: 'HOSTS', cell: (n) => list(n.hosts) },
];

/** The listing as table lines. */
export function inventoryLines(listing: InventoryListing, format: TableFormat): string[] {
  switch (listing.kind) {
    case 'vms':
      return renderTable(listing.rows, VM_COLUMNS, format);
    case 'hosts':
      return renderTable(listing.rows, HOST_COLUMNS, format);
    case 'datastores':
      return renderTable(listing.rows, DATASTORE_COLUMNS, format);
    case 'networks':
      return renderTable(listing.rows, NETWORK_COLUMNS, format);
  }
}

/**
 * The query of a command line: `[ENDPOINT] [KIND]`, where a lone word that is a kind is the kind (every
 * endpoint), and the filters. CliError (exit 2) for a kind or power state that is none.
 */
export function inventoryQueryOf(
  positionals: readonly string[],
  flags: {
    name?: string | undefined;
    power?: string | undefined;
    datastore?: string | undefined;
    host?: string | undefined;
  },
): InventoryQuery {
  const isKind = (w: string | undefined): w is InventoryKind => INVENTORY_KINDS.includes(w as InventoryKind);
  let [endpoint, kind] = positionals;
  if (positionals.length > 2)
    throw new CliError('give at most an endpoint and a kind', ExitCode.usage, { showUsage: true });
  if (positionals.length === 1 && isKind(endpoint)) [endpoint, kind] = [undefined, endpoint];
  if (kind !== undefined && !isKind(kind))
    throw new CliError(`unknown kind '${kind}': use ${INVENTORY_KINDS.join(', ')}`, ExitCode.usage, {
      showUsage: true,
    });
  if (flags.power !== undefined && !powerStateOf(flags.power))
    throw new CliError(
      `--power: use on, off or suspended (or poweredOn, poweredOff) (got ${JSON.stringify(flags.power)})`,
      ExitCode.usage,
    );
  if (flags.power !== undefined && kind !== undefined && kind !== 'vms')
    throw new CliError('--power filters VMs only', ExitCode.usage);
  return {
    ...(endpoint ? { endpoint } : {}),
    kind: kind ?? 'vms',
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.power ? { power: flags.power } : {}),
    ...(flags.datastore ? { datastore: flags.datastore } : {}),
    ...(flags.host ? { host: flags.host } : {}),
  };
}

/** `quickmig inventory [ENDPOINT] [vms|hosts|datastores|networks] [filters]`. */
export const inventoryCommand = command({
  meta: {
    name: 'inventory',
    description: 'List VMs, hosts, datastores or networks of an endpoint, with sizes and states',
  },
  args: {
    endpoint: {
      type: 'positional',
      required: false,
      valueHint: 'ENDPOINT',
      description: 'The endpoint (default: every endpoint of the worker)',
    },
    kind: {
      type: 'positional',
      required: false,
      valueHint: 'vms|hosts|datastores|networks',
      description: 'What to list (default vms); a lone kind lists it on every endpoint',
    },
    name: {
      type: 'string',
      valueHint: 'GLOB',
      description: "Names matching GLOB ('*' and '?'), e.g. 'ir-*'",
    },
    power: { type: 'string', valueHint: 'on|off|suspended', description: 'VMs in this power state' },
    datastore: {
      type: 'string',
      valueHint: 'NAME',
      description: 'VMs with files on this datastore; hosts that mount it',
    },
    host: { type: 'string', valueHint: 'NAME', description: 'VMs on this host; datastores it mounts' },
    ...FORMAT_ARG,
    ...CONNECTION_ARGS,
  },
  notes: `Runs on the worker, which alone holds the credentials (a worker must run). Sizes: CAPACITY is
what the guest sees (the disks' logical size), ALLOCATED what the VM's files take on the datastores
(disks with their snapshots, configuration, logs, swap). --json gives every field, the disks of each VM
with their logical and allocated sizes included.

  e.g. quickmig inventory esx-a vms --json
       quickmig inventory datastores --format csv
       quickmig inventory vcenter vms --power on --datastore shared-ds`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const format = tableFormatOf(args.format);
    const query = inventoryQueryOf(args._, args);
    const listing = await withClient(args, (client) => client.inventory(query));
    if (args.json) out.json(listing);
    else for (const line of inventoryLines(listing, format)) out.text(line);
    for (const f of listing.failed) out.progress(`${f.endpoint} was not listed: ${f.error}`);
  },
});
