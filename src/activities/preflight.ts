/**
 * Preflight: validate the request, resolve every object it names on both endpoints, gather the facts
 * and plan. Reads only; bad input fails here, before anything is changed.
 */

import type { TestNetworkFacts } from '../planner/facts';
import type { DiskChain, VmFileRef } from '../planner/files';
import { layoutOf, targetPathOf } from '../planner/files';
import type { MigrationPlan } from '../planner/plan';
import { decidePlan } from '../planner/plan';
import { noObjects } from '../planner/privileges';
import type { TestCopyMarker } from '../planner/test-copy';
import { testCopyOf } from '../planner/test-copy';
import type { MigrationRequest } from '../request/request';
import { normalizeRequest } from '../request/request';
import type { DatastoreFacts, HostFacts, MoRef, TestNetwork, VmFacts, VSphereClient } from '../vsphere';
import { latestCopy } from './copy-rates';
import { folderState } from './datastore';
import type { EndpointPool } from './endpoints';
import { PreflightBlockedError } from './errors';
import { isVPowerLike, migrationFacts } from './migration-facts';
import { checkPrivileges, labelled } from './privileges';
import { chooseTargetHost, findNamed, findSourceVm, refuse } from './resolve';
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
    /** config.instanceUuid, what a kept test copy's marker names (absent in older histories). */
    instanceUuid?: string;
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
    /** options.test.network resolved on the target host: the port group the test VM's adapters go onto. */
    testNetwork?: TestNetwork;
  };
  /**
   * The copy a test migration of this VM kept in the target folders (options.test.keepDisks), which this
   * migration adopts and builds on; absent when there is none (and in older histories).
   */
  testCopy?: TestCopyMarker;
}

/** Builds the preflight activity over the endpoint pool. */
export function createPreflightActivities(pool: EndpointPool) {
  return {
    /**
     * Validates the request, resolves the VM, hosts, pool, folder and datastores, gathers the facts,
     * and plans. Throws RequestValidationError, UnknownEndpointError or PreflightBlockedError (all
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
 * RequestValidationError, UnknownEndpointError or PreflightBlockedError (all permanent).
 */
async function prepare(pool: EndpointPool, input: unknown, migrationId: string): Promise<PreparedMigration> {
  const request = normalizeRequest(input);
  const sameEndpoint = request.source.endpoint === request.target.endpoint;
  const source = await connectTo(pool, request.source.endpoint);
  const target = await connectTo(pool, request.target.endpoint);

  const vmRef = await findSourceVm(source, request);
  const vm = await source.facts.vm(vmRef);
  if (!vm.host) refuse('source', 'the VM is orphaned; register it on a host first');
  const [sourceHost, sourceEndpoint, targetEndpoint] = await Promise.all([
    source.facts.host(vm.host),
    source.facts.endpoint(),
    target.facts.endpoint(),
  ]);
  const targetScope = { client: target, endpoint: request.target.endpoint };
  const targetHost = await chooseTargetHost(
    targetScope,
    request,
    sameEndpoint,
    vm.host,
    request.target.datastore,
  );

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
    ? await findNamed(targetScope, pools, request.target.resourcePool, 'resource pool', 'target.resourcePool')
    : (pools.find((p) => p.owner?.value === targetHost.parent?.value) ?? pools[0]);
  const folders = (await target.inventory.listFolders()).filter((f) =>
    f.childTypes.includes('VirtualMachine'),
  );
  const folderInfo = request.target.folder
    ? await findNamed(targetScope, folders, request.target.folder, 'VM folder', 'target.folder')
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

  const facts = migrationFacts({
    request,
    sameEndpoint,
    sourceEndpoint,
    targetEndpoint,
    vm,
    sourceHost,
    sourceDatastores,
    configDatastore: configDs,
    targetHost,
    targetDatastores,
    targetVms,
    instantRecovery: irDatastore ? { datastore: irDatastore, otherVms: otherVmsOnIr } : undefined,
  });
  // What the switchover's projection and stop need: the source home's kind (where a suspend writes),
  // whether Tools run (a guest shutdown needs them), and this worker's latest copy between the endpoints.
  const guest = await source.guest.state(vm.ref);
  const measured = latestCopy(request.source.endpoint, request.target.endpoint);
  facts.switchover = {
    sourceHomeType: configDs?.type ?? 'VMFS',
    toolsRunning: guest.toolsRunning,
    toolsInstalled: guest.toolsInstalled,
    ...(measured ? { measuredCopy: measured } : {}),
  };
  // The folders a Quick Migration would make: one that holds another VM's files would fail make-folders.
  const folderName = request.target.name ?? vm.name;
  facts.targetFolders = {
    migrationId,
    // Listing needs Datastore.Browse, which vMotion's role lacks: a refused listing is left out (the
    // privilege check below names it when the method needs it).
    folders: (
      await Promise.all(
        wantedDatastores
          .filter((name) => targetDatastores.some((d) => d.name === name))
          .map((name) =>
            folderState(target, `[${name}] ${folderName}`).catch((error: unknown) => {
              if (error instanceof Error && error.name === 'PermissionDeniedError') return undefined;
              throw error;
            }),
          ),
      )
    ).filter((f) => f !== undefined),
  };
  const testNetwork = await testNetworkOf(request, { source, target, sameEndpoint }, vm, targetHost);
  if (testNetwork) facts.testNetwork = testNetwork.facts;
  const plan = decidePlan(request, facts);
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
  // Every host that mounts the instant-recovery datastore unmounts it once no VM uses it.
  const irHosts = irDatastore
    ? await source.facts.hosts(irDatastore.hosts.filter((m) => m.mounted).map((m) => m.host))
    : [];
  if (poolInfo && folderInfo) {
    // The account's privileges on every object the migration touches (docs/privileges.md), before any change.
    const src = noObjects();
    const tgt = noObjects();
    src.vm.push(labelled('VM', vm.name, vm.ref));
    const parent = vm.parent
      ? (await source.inventory.listFolders()).find((f) => f.ref.value === vm.parent?.value)
      : undefined;
    if (parent) src.vmFolder.push(labelled('folder', parent.name, parent.ref));
    src.sourceDatastores.push(...sourceDatastores.map((d) => labelled('datastore', d.name, d.ref)));
    if (plan.steps.includes('finalize-ir'))
      src.irHosts.push(...irHosts.map((h) => labelled('host', h.name, h.ref)));
    tgt.targetFolder.push(labelled('folder', folderInfo.name, folderInfo.ref));
    tgt.targetPool.push(labelled('resource pool', poolInfo.name, poolInfo.ref));
    tgt.targetDatastores.push(
      ...targetDatastores
        .filter((d) => wantedDatastores.includes(d.name))
        .map((d) => labelled('datastore', d.name, d.ref)),
    );
    if (testNetwork?.network)
      tgt.targetNetwork.push(labelled('network', testNetwork.facts.name, testNetwork.network.ref));
    const found = await checkPrivileges(
      { source, target },
      { source: request.source.endpoint, target: request.target.endpoint },
      {
        method: plan.method,
        sourceDelete: request.options.source === 'delete',
        finalizeInstantRecovery: plan.steps.includes('finalize-ir'),
        upgradeHardware: request.options.targetVm.upgradeHardware,
        test: request.options.test !== undefined,
        testNetwork: testNetwork !== undefined,
      },
      { source: src, target: tgt },
    );
    plan.findings.push(...found);
    if (found.some((f) => f.severity === 'error')) plan.blocked = true;
  }
  if (plan.blocked) throw new PreflightBlockedError(plan);
  if (!poolInfo || !folderInfo)
    refuse(
      'target',
      'the target has no resource pool or VM folder; name target.resourcePool and target.folder',
    );

  const configTarget = targetDatastores.find((d) => d.name === request.target.datastore) as DatastoreFacts;
  const diskDatastores = plan.disks
    .filter((d) => d.to !== plan.configDatastore)
    .map((d) => {
      const ds = targetDatastores.find((t) => t.name === d.to) as DatastoreFacts;
      return { diskKey: d.key, datastore: ds.ref, name: ds.name };
    });
  // A test migration of this VM kept its disks in the target folders: a Quick Migration builds on them.
  const testCopy = plan.method === 'quick-migration' ? testCopyOf(facts, request.source.endpoint) : undefined;
  const irSystems = irHosts.flatMap((h) => (h.datastoreSystem ? [h.datastoreSystem] : []));
  return {
    request,
    plan,
    source: {
      endpoint: request.source.endpoint,
      vm: vm.ref,
      name: vm.name,
      ...(vm.instanceUuid ? { instanceUuid: vm.instanceUuid } : {}),
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
      ...(testNetwork?.network ? { testNetwork: testNetwork.network } : {}),
    },
    ...(testCopy ? { testCopy } : {}),
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

/**
 * options.test.network on the target host, and the networks of the source VM's adapters it must not be:
 * undefined when the request asks for none.
 */
async function testNetworkOf(
  request: MigrationRequest,
  sides: { source: VSphereClient; target: VSphereClient; sameEndpoint: boolean },
  vm: VmFacts,
  targetHost: HostFacts,
): Promise<{ facts: TestNetworkFacts; network: TestNetwork | undefined } | undefined> {
  const name = request.options.test?.network;
  if (name === undefined) return undefined;
  const targetNets = await sides.target.inventory.listNetworks();
  const sourceNets = sides.sameEndpoint ? targetNets : await sides.source.inventory.listNetworks();
  const onHost = targetNets.filter((n) => targetHost.networks.some((r) => r.value === n.ref.value));
  const found = onHost.find((n) => n.name === name);
  const distributed =
    found && found.ref.type !== 'Network'
      ? await sides.target.inventory.distributedPortgroup(found.ref)
      : undefined;
  return {
    facts: {
      name,
      kind: found === undefined ? null : found.ref.type === 'Network' ? 'standard' : 'distributed',
      targetHostNetworks: onHost.map((n) => n.name),
      sourceNetworks: sourceNets
        .filter((n) => vm.networks.some((r) => r.value === n.ref.value))
        .map((n) => n.name),
    },
    network: found ? { name, ref: found.ref, ...(distributed ? { distributed } : {}) } : undefined,
  };
}

function snapshotNames(tree: VmFacts['snapshots']): string[] {
  return tree.flatMap((s) => [s.name, ...snapshotNames(s.children)]);
}
