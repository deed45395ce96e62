/**
 * Preflight: validate the request, resolve every object it names on both endpoints, gather the facts
 * and plan. Reads only; bad input fails here, before anything is changed.
 */

import type {
  MigrationFacts,
  DatastoreFacts as PlanDatastoreFacts,
  HostFacts as PlanHostFacts,
} from '../planner/facts';
import type { DiskChain, VmFileRef } from '../planner/files';
import { layoutOf, targetPathOf } from '../planner/files';
import type { MigrationPlan } from '../planner/plan';
import { planMigration } from '../planner/plan';
import { RequestValidationError } from '../request/errors';
import type { MigrationRequest } from '../request/request';
import { normalizeRequest } from '../request/request';
import type { DatastoreFacts, HostFacts, MoRef, VmFacts, VSphereClient } from '../vsphere';
import { NotFoundError } from '../vsphere';
import { latestCopy } from './copy-rates';
import type { EndpointPool } from './endpoints';
import { InvalidRequestError, PreflightBlockedError } from './errors';
import { filesOf } from './vm';

/** Everything later steps need, resolved once: plain data, so it travels through workflow history. */
export interface PreparedMigration {
  request: MigrationRequest;
  plan: MigrationPlan;
  source: {
    endpoint: string;
    vm: MoRef;
    name: string;
    host: MoRef;
    powerState: 'poweredOn' | 'poweredOff' | 'suspended';
    /** Configured memory; a SmartSwitch copies a suspend state about this large. */
    memoryMiB: number;
    vmxPath: string;
    files: VmFileRef[];
    disks: DiskChain[];
    /** The datastore the VM runs from when it is an instant-recovery one. */
    /** The instant-recovery datastore the VM runs from, with the datastore system of every host mounting it. */
    instantRecoveryDatastore: { ref: MoRef; name: string; datastoreSystems: MoRef[] } | null;
    /**
     * The source's datastores as a .vmx may name them (name and `/vmfs/volumes/<id>`): ISO images on
     * them are disconnected on the target (options.targetVm.disconnectMedia). Absent in older histories.
     */
    mediaDatastores?: string[];
  };
  target: {
    endpoint: string;
    host: MoRef;
    hostName: string;
    pool: MoRef;
    folder: MoRef;
    /** `ds:///vmfs/volumes/<id>/` URLs by datastore name, for rewriting absolute paths. */
    datastoreUrls: Record<string, string>;
    /** Datastore path of the target's .vmx. */
    vmxPath: string;
    /** Inventory name while the migration runs. */
    temporaryName: string;
    finalName: string;
    datastore: MoRef;
    diskDatastores: { diskKey: number; datastore: MoRef; name: string }[];
  };
}

const isVPowerLike = (ds: DatastoreFacts) => /vpower|veeam/i.test(`${ds.name} ${ds.url ?? ''}`);

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

/**
 * Finds the object a request names, by name or by inventory path (`/DC1/host/Prod/Resources`). A name
 * that several objects share is refused with the paths to choose from.
 */
async function findNamed<T extends { name: string; ref: MoRef }>(
  list: Promise<readonly T[]>,
  value: string,
  what: string,
  field: string,
  endpoint: string,
  client?: VSphereClient,
): Promise<T> {
  const items = await list;
  const refuse = (message: string): never => {
    throw new InvalidRequestError(`${field}: ${message}`, [{ path: field, message }]);
  };
  if (value.startsWith('/') && client) {
    let ref: MoRef | undefined;
    try {
      ref = await client.inventory.findByInventoryPath(value.slice(1));
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    const found = ref && items.find((i) => i.ref.value === ref.value);
    return found ?? refuse(`no ${what} at inventory path '${value}' on ${endpoint}`);
  }
  const matches = items.filter((i) => i.name === value);
  if (matches.length > 1)
    refuse(`${matches.length} ${what}s on ${endpoint} are named '${value}'; give its inventory path instead`);
  return (
    matches[0] ??
    refuse(
      `no ${what} '${value}' on ${endpoint}; known: ${[...new Set(items.map((i) => i.name))].join(', ') || 'none'}`,
    )
  );
}

/** The request's VM locator in the client's terms. */
function locatorOf(request: MigrationRequest) {
  const s = request.source;
  if (s.name !== undefined) return { name: s.name };
  if (s.inventoryPath !== undefined) return { inventoryPath: s.inventoryPath };
  if (s.moref !== undefined) return { ref: { type: 'VirtualMachine', value: s.moref } };
  return { instanceUuid: s.instanceUuid as string };
}

async function chooseTargetHost(
  client: VSphereClient,
  request: MigrationRequest,
  sameEndpoint: boolean,
  sourceHost: MoRef,
  datastoreName: string,
): Promise<HostFacts> {
  const { target } = request;
  if (target.host) {
    const host = await findNamed(
      client.inventory.listHosts(),
      target.host,
      'host',
      'target.host',
      target.endpoint,
      client,
    );
    return client.facts.host(host.ref);
  }
  if (target.cluster) {
    const cluster = await findNamed(
      client.inventory.listClusters(),
      target.cluster,
      'cluster',
      'target.cluster',
      target.endpoint,
      client,
    );
    const hosts = await client.facts.hosts(cluster.hosts);
    // The first usable host that mounts the target datastore; ties go to inventory order.
    const ds = (await client.inventory.listDatastores()).find((d) => d.name === datastoreName);
    const usable = hosts.filter((h) => h.connectionState === 'connected' && !h.inMaintenanceMode);
    const mounting = usable.filter((h) => !ds || h.datastores.some((r) => r.value === ds.ref.value));
    const chosen = mounting[0] ?? usable[0] ?? hosts[0];
    if (!chosen)
      throw new InvalidRequestError(`target.cluster: ${target.cluster} has no hosts`, [
        { path: 'target.cluster', message: 'the cluster has no hosts; choose another cluster or a host' },
      ]);
    return chosen;
  }
  if (sameEndpoint) return client.facts.host(sourceHost);
  const hosts = await client.inventory.listHosts();
  if (hosts.length !== 1 || !hosts[0]) {
    throw new InvalidRequestError('target.host: the target endpoint has several hosts', [
      {
        path: 'target.host',
        message: `name the target host or cluster; ${target.endpoint} has ${hosts.map((h) => h.name).join(', ')}`,
      },
    ]);
  }
  return client.facts.host(hosts[0].ref);
}

/** Builds the preflight activity over the endpoint pool. */
export function createPreflightActivities(pool: EndpointPool) {
  return {
    /**
     * Validates the request, resolves the VM, hosts, pool, folder and datastores, gathers the facts,
     * and plans. Throws InvalidRequestError, UnknownEndpointError or PreflightBlockedError (all
     * permanent) before anything is changed.
     */
    async preflight(input: unknown, migrationId: string): Promise<PreparedMigration> {
      return prepare(pool, input, migrationId);
    },

    /** The plan of a request, blocking findings included: a dry run that changes nothing. */
    async planOnly(input: unknown): Promise<MigrationPlan> {
      try {
        return (await prepare(pool, input, 'plan-only')).plan;
      } catch (error) {
        if (error instanceof PreflightBlockedError) return error.plan;
        throw error;
      }
    },
  };
}

/**
 * Validates the request, resolves every object it names, gathers the facts and plans. Throws
 * InvalidRequestError, UnknownEndpointError or PreflightBlockedError (all permanent).
 */
async function prepare(pool: EndpointPool, input: unknown, migrationId: string): Promise<PreparedMigration> {
  let request: MigrationRequest;
  try {
    request = normalizeRequest(input);
  } catch (error) {
    if (error instanceof RequestValidationError) throw new InvalidRequestError(error.message, error.problems);
    throw error;
  }
  const sameEndpoint = request.source.endpoint === request.target.endpoint;
  const source = await connectTo(pool, request.source.endpoint);
  const target = await connectTo(pool, request.target.endpoint);

  let vmRef: MoRef;
  try {
    vmRef = (await source.inventory.findVm(locatorOf(request))).ref;
  } catch (error) {
    if (error instanceof NotFoundError) {
      const field = `source.${Object.keys(locatorOf(request))[0] === 'ref' ? 'moref' : Object.keys(locatorOf(request))[0]}`;
      throw new InvalidRequestError(`${field}: ${error.message}; check the name or identifier`, [
        {
          path: field,
          message: `no such VM on ${request.source.endpoint}; check the name or identifier`,
        },
      ]);
    }
    throw error;
  }
  const vm = await source.facts.vm(vmRef);
  if (!vm.host)
    throw new InvalidRequestError(`${vm.name} is not on a host`, [
      { path: 'source', message: 'the VM is orphaned; register it on a host first' },
    ]);
  const [sourceHost, sourceEndpoint, targetEndpoint] = await Promise.all([
    source.facts.host(vm.host),
    source.facts.endpoint(),
    target.facts.endpoint(),
  ]);
  const targetHost = await chooseTargetHost(target, request, sameEndpoint, vm.host, request.target.datastore);

  const wantedDatastores = [
    ...new Set([request.target.datastore, ...request.target.disks.map((d) => d.datastore)]),
  ];
  // The named datastores, and every one the target host mounts (the alternatives a finding offers).
  const mountedOnTarget = new Set(targetHost.datastores.map((r) => r.value));
  const targetDsItems = (await target.inventory.listDatastores()).filter(
    (d) => wantedDatastores.includes(d.name) || mountedOnTarget.has(d.ref.value),
  );
  const targetDatastores = await target.facts.datastores(targetDsItems.map((d) => d.ref));
  const sourceDatastores = await source.facts.datastores(vm.datastores);
  const configDs = sourceDatastores.find((d) => vm.vmxPath?.startsWith(`[${d.name}]`));

  const pools = await target.inventory.listResourcePools();
  const poolInfo = request.target.resourcePool
    ? await findNamed(
        Promise.resolve(pools),
        request.target.resourcePool,
        'resource pool',
        'target.resourcePool',
        request.target.endpoint,
        target,
      )
    : (pools.find((p) => p.owner?.value === targetHost.parent?.value) ?? pools[0]);
  const folders = (await target.inventory.listFolders()).filter((f) =>
    f.childTypes.includes('VirtualMachine'),
  );
  const folderInfo = request.target.folder
    ? await findNamed(
        Promise.resolve(folders),
        request.target.folder,
        'VM folder',
        'target.folder',
        request.target.endpoint,
        target,
      )
    : ((sameEndpoint && vm.parent ? folders.find((f) => f.ref.value === vm.parent?.value) : undefined) ??
      folders[0]);

  const targetVms = await target.inventory.listVms();
  const { files, disks } = filesOf(vm);
  const irDatastore =
    configDs &&
    /nfs/i.test(configDs.type ?? '') &&
    (request.options.finalizeInstantRecovery || isVPowerLike(configDs))
      ? configDs
      : undefined;
  const otherVmsOnIr = irDatastore
    ? await source.facts.vms(irDatastore.vms.filter((r) => r.value !== vm.ref.value))
    : [];

  const guest = await source.guest.state(vm.ref);
  const measured = latestCopy(request.source.endpoint, request.target.endpoint);
  const facts: MigrationFacts = {
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
      powerState: vm.powerState,
      connectionState: (vm.connectionState ?? 'connected') as MigrationFacts['vm']['connectionState'],
      memoryMiB: vm.memoryMB,
      cpus: vm.numCpu,
      featureRequirement: vm.cpuRequirements.map((f) => f.key),
      guestHeartbeat: vm.guestHeartbeat === 'green',
      disks: vm.disks.map((d) => {
        const top = d.chain[0];
        const dsName = top ? (/^\[([^\]]+)\]/.exec(top.fileName)?.[1] ?? '') : '';
        const sizes = new Map(vm.files.map((f) => [f.name, f.size]));
        return {
          key: d.key,
          label: d.label ?? `disk ${d.key}`,
          capacityBytes: d.capacityBytes,
          committedBytes: d.layoutFiles.flat().reduce((sum, f) => sum + (sizes.get(f) ?? 0), 0),
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
      configDatastore: configDs?.name ?? '',
      datastores: sourceDatastores.map((d) => d.name),
    },
    sourceHost: toPlanHost(sourceHost),
    targetHost: toPlanHost(targetHost),
    ...(request.target.cluster ? { targetCluster: { name: request.target.cluster } } : {}),
    targetDatastores: targetDatastores.map((d) => toPlanDatastore(d, targetHost.ref)),
    targetVmNames: targetVms
      .filter((v) => !(sameEndpoint && v.ref.value === vm.ref.value))
      .map((v) => v.name),
    instantRecovery: irDatastore
      ? {
          datastore: irDatastore.name,
          remote: irDatastore.url ?? '',
          looksLikeVPowerNfs: isVPowerLike(irDatastore),
          flagged: request.options.finalizeInstantRecovery,
          otherVms: otherVmsOnIr.map((v) => v.name),
        }
      : null,
    switchover: {
      sourceHomeType: configDs?.type ?? 'VMFS',
      toolsRunning: guest.toolsRunning,
      ...(measured ? { measuredCopy: measured } : {}),
    },
  };
  const plan = planMigration(request, facts);
  // Another migration of this VM holds its snapshot: it runs (started under another id, e.g. with the
  // temporal CLI) or it was stopped without its rollback. Two migrations of one VM must never interleave.
  const foreign = snapshotNames(vm.snapshots).filter(
    (n) => n.startsWith('quickmig-') && n !== `quickmig-${migrationId}`,
  );
  if (foreign.length > 0) {
    plan.findings.push({
      severity: 'error',
      code: 'migration-in-progress',
      field: 'source',
      message: `${vm.name} carries the snapshot '${foreign.join("', '")}' of another migration (${foreign.map((n) => n.slice('quickmig-'.length)).join(', ')}): it is still running or was stopped without its rollback; wait for it or cancel it ('quickmig cancel ID'), or, if no such migration runs any more, remove that snapshot in vSphere`,
    });
    plan.blocked = true;
  }
  if (plan.blocked) throw new PreflightBlockedError(plan);
  if (!poolInfo || !folderInfo)
    throw new InvalidRequestError('target: no resource pool or VM folder', [
      {
        path: 'target',
        message: 'the target has no resource pool or VM folder; name target.resourcePool and target.folder',
      },
    ]);

  const configTarget = targetDatastores.find((d) => d.name === request.target.datastore) as DatastoreFacts;
  const diskDatastores = plan.disks
    .filter((d) => d.to !== plan.configDatastore)
    .map((d) => {
      const ds = targetDatastores.find((t) => t.name === d.to) as DatastoreFacts;
      return { diskKey: d.key, datastore: ds.ref, name: ds.name };
    });
  // Every host that mounts the instant-recovery datastore unmounts it once no VM uses it.
  const irHosts = irDatastore
    ? await source.facts.hosts(irDatastore.hosts.filter((m) => m.mounted).map((m) => m.host))
    : [];
  const irSystems = irHosts.flatMap((h) => (h.datastoreSystem ? [h.datastoreSystem] : []));
  return {
    request,
    plan,
    source: {
      endpoint: request.source.endpoint,
      vm: vm.ref,
      name: vm.name,
      host: vm.host,
      powerState: vm.powerState,
      memoryMiB: vm.memoryMB,
      vmxPath: vm.vmxPath ?? '',
      files,
      disks,
      instantRecoveryDatastore:
        irDatastore && irSystems.length > 0
          ? { ref: irDatastore.ref, name: irDatastore.name, datastoreSystems: irSystems }
          : null,
      mediaDatastores: sourceDatastores
        // On the same endpoint, a datastore the target uses stays reachable: its ISOs may stay.
        .filter(
          (d) => d === irDatastore || !(sameEndpoint && targetDatastores.some((t) => t.name === d.name)),
        )
        .flatMap((d) => {
          const volume = /^ds:\/\/(\/vmfs\/volumes\/[^/]+)/.exec(d.url ?? '')?.[1];
          return volume ? [d.name, volume] : [d.name];
        }),
    },
    target: {
      endpoint: request.target.endpoint,
      host: targetHost.ref,
      hostName: targetHost.name,
      pool: poolInfo.ref,
      folder: folderInfo.ref,
      datastoreUrls: Object.fromEntries(
        [...sourceDatastores, ...targetDatastores].filter((d) => d.url).map((d) => [d.name, d.url as string]),
      ),
      vmxPath: targetPathOf(
        vm.vmxPath ?? `[${plan.configDatastore}] ${plan.targetName}/${plan.targetName}.vmx`,
        disks,
        layoutOf(plan),
      ),
      temporaryName: `${plan.targetName}-quickmig-${migrationId.slice(-8)}`,
      finalName: plan.targetName,
      datastore: configTarget.ref,
      diskDatastores,
    },
  };
}

/**
 * The endpoint's client; a refused login or TLS pin says which endpoint and what to fix in the worker
 * configuration (the error keeps its class name, so it stays permanent).
 */
async function connectTo(pool: EndpointPool, endpoint: string): Promise<VSphereClient> {
  try {
    return await pool.clientFor(endpoint);
  } catch (error) {
    if (error instanceof Error && error.name === 'AuthenticationError')
      error.message = `endpoint ${endpoint}: ${error.message}; fix endpoints.${endpoint}.username and its password (password, passwordFile or passwordEnv) in the worker configuration`;
    if (error instanceof Error && error.name === 'ThumbprintMismatchError')
      error.message = `endpoint ${endpoint}: ${error.message}; the certificate is not the pinned one: verify the endpoint's certificate, then fix endpoints.${endpoint}.tls.thumbprint in the worker configuration`;
    throw error;
  }
}

function snapshotNames(tree: VmFacts['snapshots']): string[] {
  return tree.flatMap((s) => [s.name, ...snapshotNames(s.children)]);
}

function countSnapshots(tree: VmFacts['snapshots']): number {
  return tree.reduce((n, s) => n + 1 + countSnapshots(s.children), 0);
}
