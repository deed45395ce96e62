/**
 * Preflight's facts for the planner: what vSphere reported about the VM, its host and datastores and the
 * target, turned into the planner's plain MigrationFacts (src/planner/facts.ts).
 */
import type {
  MigrationFacts,
  PlannerDatastore as PlanDatastoreFacts,
  PlannerHost as PlanHostFacts,
} from '../planner/facts';
import { parseDatastorePath } from '../request/datastore-path';
import type { MigrationRequest } from '../request/request';
import type { DatastoreFacts, EndpointFacts, HostFacts, InventoryItem, MoRef, VmFacts } from '../vsphere';

/** What preflight gathered, as the planner's facts are built from it. */
export interface GatheredFacts {
  readonly request: MigrationRequest;
  readonly sameEndpoint: boolean;
  readonly sourceEndpoint: EndpointFacts;
  readonly targetEndpoint: EndpointFacts;
  readonly vm: VmFacts;
  readonly sourceHost: HostFacts;
  readonly sourceDatastores: readonly DatastoreFacts[];
  /** The datastore of the VM's .vmx, when it is among the source datastores. */
  readonly configDatastore: DatastoreFacts | undefined;
  readonly targetHost: HostFacts;
  /** The named target datastores and every one the target host mounts. */
  readonly targetDatastores: readonly DatastoreFacts[];
  /** Every VM of the target endpoint (name collisions). */
  readonly targetVms: readonly InventoryItem[];
  /** The instant-recovery datastore the VM runs from, and the other VMs on it; undefined when none. */
  readonly instantRecovery: { datastore: DatastoreFacts; otherVms: readonly InventoryItem[] } | undefined;
}

/** The planner's facts of a request from what preflight gathered. */
export function migrationFacts(gathered: GatheredFacts): MigrationFacts {
  const { request, vm, sourceHost, targetHost, sameEndpoint } = gathered;
  const { sourceEndpoint, targetEndpoint, configDatastore } = gathered;
  const ir = gathered.instantRecovery;
  return {
    source: {
      name: request.source.endpoint,
      kind: sourceEndpoint.isVCenter ? 'vcenter' : 'esx',
      instanceUuid: sourceEndpoint.about.instanceUuid ?? '',
      licenseFeatures: [...sourceEndpoint.licenseFeatures],
    },
    target: {
      name: request.target.endpoint,
      kind: targetEndpoint.isVCenter ? 'vcenter' : 'esx',
      instanceUuid: targetEndpoint.about.instanceUuid ?? '',
      licenseFeatures: [...targetEndpoint.licenseFeatures],
    },
    sameVCenter: sameEndpoint && sourceEndpoint.isVCenter,
    now: Date.now(),
    vm: {
      name: vm.name,
      moref: vm.ref.value,
      ...(vm.instanceUuid ? { instanceUuid: vm.instanceUuid } : {}),
      powerState: vm.powerState,
      connectionState: (vm.connectionState ?? 'connected') as MigrationFacts['vm']['connectionState'],
      template: vm.template,
      memoryMiB: vm.memoryMB,
      cpus: vm.numCpu,
      featureRequirement: vm.cpuRequirements.map((f) => f.key),
      guestHeartbeat: vm.guestHeartbeat === 'green',
      disks: vm.disks.map((d) => {
        const top = d.chain[0];
        const dsName = top ? datastoreOf(top.fileName) : '';
        const sizes = new Map(vm.files.map((f) => [f.name, f.size]));
        return {
          key: d.key,
          label: d.label ?? `disk ${d.key}`,
          capacityBytes: d.capacityBytes,
          committedBytes: d.layoutFiles.flat().reduce((sum, f) => sum + (sizes.get(f) ?? 0), 0),
          thin: d.chain.at(-1)?.thinProvisioned === true,
          datastore: dsName,
          fileName: top?.fileName ?? '',
          diskMode: (d.chain[d.chain.length - 1]?.diskMode ??
            'persistent') as MigrationFacts['vm']['disks'][number]['diskMode'],
          sharing: d.sharing === 'sharingMultiWriter' ? 'sharingMultiWriter' : 'sharingNone',
          busSharing: (d.busSharing ?? 'noSharing') as MigrationFacts['vm']['disks'][number]['busSharing'],
        };
      }),
      files: vm.files.map((f) => ({ name: f.name, size: f.size, type: f.type })),
      snapshotCount: countSnapshots(vm.snapshots),
      consolidationNeeded: vm.consolidationNeeded,
      host: sourceHost.name,
      configDatastore: configDatastore?.name ?? '',
      datastores: gathered.sourceDatastores.map((d) => d.name),
    },
    sourceHost: toPlanHost(sourceHost),
    targetHost: toPlanHost(targetHost),
    ...(request.target.cluster ? { targetCluster: { name: request.target.cluster } } : {}),
    targetDatastores: gathered.targetDatastores.map((d) => toPlanDatastore(d, targetHost.ref)),
    targetVmNames: gathered.targetVms
      .filter((v) => !(sameEndpoint && v.ref.value === vm.ref.value))
      .map((v) => v.name),
    instantRecovery: ir
      ? {
          datastore: ir.datastore.name,
          remote: ir.datastore.url ?? '',
          looksLikeVPowerNfs: isVPowerLike(ir.datastore),
          flagged: request.options.finalizeInstantRecovery,
          otherVms: ir.otherVms.map((v) => v.name),
        }
      : null,
  };
}

/** True when a datastore's name or URL says it is a Veeam vPower NFS export (an instant recovery). */
export const isVPowerLike = (ds: DatastoreFacts): boolean =>
  /vpower|veeam/i.test(`${ds.name} ${ds.url ?? ''}`);

function toPlanHost(h: HostFacts): PlanHostFacts {
  return {
    name: h.name,
    connectionState: (h.connectionState ?? 'connected') as PlanHostFacts['connectionState'],
    inMaintenanceMode: h.inMaintenanceMode,
    cpuVendor: h.cpuVendor ?? 'unknown',
    features: Object.fromEntries(h.cpuFeatures.map((f) => [f.key, f.value])),
    vmotion: h.vmotionSupported,
    storageVMotion: h.storageVMotionSupported,
  };
}

function toPlanDatastore(ds: DatastoreFacts, host: MoRef): PlanDatastoreFacts {
  return {
    name: ds.name,
    freeBytes: ds.freeBytes,
    capacityBytes: ds.capacityBytes,
    accessible: ds.accessible,
    type: ds.type ?? 'VMFS',
    mountedOnTargetHost: ds.hosts.some((m) => m.host.value === host.value && m.mounted),
  };
}

/** The datastore of a datastore path; '' for a path vSphere did not write as one. */
function datastoreOf(path: string): string {
  try {
    return parseDatastorePath(path).datastore;
  } catch {
    return '';
  }
}

function countSnapshots(tree: VmFacts['snapshots']): number {
  return tree.reduce((n, s) => n + 1 + countSnapshots(s.children), 0);
}
