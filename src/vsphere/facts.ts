/**
 * The facts a migration planner needs, one RetrievePropertiesEx per object kind (several objects
 * of a kind may share the call).
 */
import type { Raw } from './convert';
import { at, bool, boxed, date, list, num, obj, ref, str, xsiType } from './convert';
import { NotFoundError } from './errors';
import type { Inventory } from './inventory';
import type { ObjectProps } from './property-collector';
import { retrieveObjects } from './property-collector';
import type { CallOptions, Session } from './session';
import type {
  CpuFeature,
  DatacenterInfo,
  DatastoreFacts,
  DatastoreMount,
  DiskBacking,
  EndpointFacts,
  HeartbeatStatus,
  HostFacts,
  LicenseInfo,
  MoRef,
  PowerState,
  VmDisk,
  VmFacts,
  VmFile,
  VmSnapshot,
} from './types';

const VM_PATHS = [
  'name',
  'parent',
  'resourcePool',
  'datastore',
  'network',
  'runtime.powerState',
  'runtime.connectionState',
  'runtime.host',
  'runtime.featureRequirement',
  'runtime.consolidationNeeded',
  'config.template',
  'config.changeTrackingEnabled',
  'config.uuid',
  'config.instanceUuid',
  'config.version',
  'config.guestId',
  'config.files.vmPathName',
  'config.hardware.memoryMB',
  'config.hardware.numCPU',
  'config.hardware.device',
  'layoutEx',
  'snapshot',
  'summary.quickStats.guestHeartbeatStatus',
];

const HOST_PATHS = [
  'name',
  'parent',
  'datastore',
  'network',
  'runtime.connectionState',
  'runtime.powerState',
  'runtime.inMaintenanceMode',
  'hardware.cpuPkg',
  'summary.hardware.cpuModel',
  'summary.hardware.numCpuCores',
  'summary.hardware.memorySize',
  'summary.config.vmotionEnabled',
  'config.featureCapability',
  'config.product.version',
  'config.product.build',
  'capability.vmotionSupported',
  'capability.storageVMotionSupported',
  'configManager.datastoreSystem',
];

const DATASTORE_PATHS = ['name', 'parent', 'summary', 'host', 'vm', 'browser'];

/** Facts readers. */
export class Facts {
  readonly #session: Session;
  readonly #inventory: Inventory;
  #datacenters: Promise<DatacenterInfo[]> | undefined;

  /** @internal */
  constructor(session: Session, inventory: Inventory) {
    this.#session = session;
    this.#inventory = inventory;
  }

  /** Facts of the endpoint itself: product, vCenter or standalone host, licence features. */
  async endpoint(options: CallOptions = {}): Promise<EndpointFacts> {
    const s = this.#session;
    const licenses: LicenseInfo[] = [];
    if (s.refs.licenseManager !== undefined) {
      const [o] = await retrieveObjects(s, 'LicenseManager', [s.refs.licenseManager], ['licenses'], options);
      for (const l of boxed(o?.props.get('licenses'))) {
        const features = list(at(l, 'properties'))
          .filter((p) => str(at(p, 'key')) === 'feature')
          .flatMap((p) => str(at(p, 'value.key')) ?? []);
        licenses.push({
          name: str(at(l, 'name')) ?? '',
          editionKey: str(at(l, 'editionKey')) ?? '',
          features,
        });
      }
    }
    return {
      about: s.about,
      isVCenter: s.about.apiType === 'VirtualCenter',
      apiVersion: s.apiVersion,
      licenses,
      licenseFeatures: [...new Set(licenses.flatMap((l) => l.features))].sort(),
    };
  }

  /** Facts of one VM. Throws NotFoundError when it does not exist. */
  async vm(vm: MoRef, options: CallOptions = {}): Promise<VmFacts> {
    return only(this.#session, vm, await this.vms([vm], options));
  }

  /** Facts of several VMs in one call. */
  async vms(vms: readonly MoRef[], options: CallOptions = {}): Promise<VmFacts[]> {
    return (await retrieveObjects(this.#session, 'VirtualMachine', vms, VM_PATHS, options)).map(toVmFacts);
  }

  /** Facts of one host. Throws NotFoundError when it does not exist. */
  async host(host: MoRef, options: CallOptions = {}): Promise<HostFacts> {
    return only(this.#session, host, await this.hosts([host], options));
  }

  /** Facts of several hosts in one call. */
  async hosts(hosts: readonly MoRef[], options: CallOptions = {}): Promise<HostFacts[]> {
    return (await retrieveObjects(this.#session, 'HostSystem', hosts, HOST_PATHS, options)).map(toHostFacts);
  }

  /** Facts of one datastore. Throws NotFoundError when it does not exist. */
  async datastore(datastore: MoRef, options: CallOptions = {}): Promise<DatastoreFacts> {
    return only(this.#session, datastore, await this.datastores([datastore], options));
  }

  /** Facts of several datastores in one call (plus one datacenter listing per client, cached). */
  async datastores(datastores: readonly MoRef[], options: CallOptions = {}): Promise<DatastoreFacts[]> {
    const objects = await retrieveObjects(this.#session, 'Datastore', datastores, DATASTORE_PATHS, options);
    const dcs = await this.#datacenterList(options);
    return objects.map((o) => toDatastoreFacts(o, dcs));
  }

  #datacenterList(options: CallOptions): Promise<DatacenterInfo[]> {
    // Datacenters rarely change during a client's life; a failed read is not cached.
    this.#datacenters ??= this.#inventory.listDatacenters(options).catch((err: unknown) => {
      this.#datacenters = undefined;
      throw err;
    });
    return this.#datacenters;
  }
}

/** The facts of the one object `r` asked for; NotFoundError when the server returned none. */
function only<T>(session: Session, r: MoRef, found: readonly T[]): T {
  const [facts] = found;
  if (facts === undefined) throw notFound(session, r);
  return facts;
}

function notFound(session: Session, r: MoRef): NotFoundError {
  return new NotFoundError(
    { endpoint: session.endpoint, method: 'RetrievePropertiesEx', object: `${r.type}:${r.value}` },
    { type: 'ManagedObjectNotFound', message: 'object not found', detail: {} },
  );
}

function cpuFeatures(v: Raw): CpuFeature[] {
  return boxed(v).map((f) => ({
    key: str(at(f, 'key')) ?? '',
    featureName: str(at(f, 'featureName')) ?? '',
    value: str(at(f, 'value')) ?? '',
  }));
}

function toVmFacts(o: ObjectProps): VmFacts {
  const p = (path: string) => o.props.get(path);
  const layout = p('layoutEx');
  const files: VmFile[] = list(at(layout, 'file')).map((f) => ({
    key: num(at(f, 'key')) ?? -1,
    name: str(at(f, 'name')) ?? '',
    type: str(at(f, 'type')) ?? '',
    size: num(at(f, 'size')) ?? 0,
    uniqueSize: num(at(f, 'uniqueSize')),
    accessible: bool(at(f, 'accessible')),
  }));
  const fileName = new Map(files.map((f) => [f.key, f.name]));
  const layoutDisks = new Map(
    list(at(layout, 'disk')).map((d) => [
      num(at(d, 'key')),
      list(at(d, 'chain')).map((c) =>
        list(at(c, 'fileKey')).flatMap((k) => fileName.get(num(k) ?? -1) ?? []),
      ),
    ]),
  );
  const devices = boxed(p('config.hardware.device'));
  // A disk's SCSI controller carries the bus sharing (clustered VMs); only SCSI controllers have sharedBus.
  const sharedBus = new Map(devices.map((d) => [num(at(d, 'key')), str(at(d, 'sharedBus'))]));
  const disks: VmDisk[] = devices
    .filter((d) => xsiType(d) === 'VirtualDisk')
    .map((d) => {
      const key = num(at(d, 'key')) ?? -1;
      const bytes = num(at(d, 'capacityInBytes')) ?? (num(at(d, 'capacityInKB')) ?? 0) * 1024;
      return {
        key,
        label: str(at(d, 'deviceInfo.label')),
        controllerKey: num(at(d, 'controllerKey')),
        busSharing: sharedBus.get(num(at(d, 'controllerKey'))),
        sharing: str(at(d, 'backing.sharing')),
        unitNumber: num(at(d, 'unitNumber')),
        capacityBytes: bytes,
        chain: backingChain(at(d, 'backing')),
        layoutFiles: layoutDisks.get(key) ?? [],
      };
    });
  // Network adapters are the devices with a MAC address (VirtualEthernetCard and its subtypes).
  const nics = devices
    .filter((d) => str(at(d, 'macAddress')) !== undefined)
    .map((d) => ({
      key: num(at(d, 'key')) ?? -1,
      type: xsiType(d) ?? 'VirtualEthernetCard',
      label: str(at(d, 'deviceInfo.label')),
      controllerKey: num(at(d, 'controllerKey')),
      unitNumber: num(at(d, 'unitNumber')),
      network: str(at(d, 'backing.deviceName')),
      portgroupKey: str(at(d, 'backing.port.portgroupKey')),
      macAddress: str(at(d, 'macAddress')) ?? '',
      addressType: str(at(d, 'addressType')),
      startConnected: bool(at(d, 'connectable.startConnected')),
      connected: bool(at(d, 'connectable.connected')),
    }));
  const snapshotInfo = p('snapshot');
  const heartbeat = str(p('summary.quickStats.guestHeartbeatStatus'));
  return {
    ref: o.ref,
    name: str(p('name')) ?? '',
    parent: ref(p('parent')),
    powerState: (str(p('runtime.powerState')) ?? 'poweredOff') as PowerState,
    connectionState: str(p('runtime.connectionState')),
    template: bool(p('config.template')) ?? false,
    uuid: str(p('config.uuid')),
    instanceUuid: str(p('config.instanceUuid')),
    memoryMB: num(p('config.hardware.memoryMB')) ?? 0,
    numCpu: num(p('config.hardware.numCPU')) ?? 0,
    hardwareVersion: str(p('config.version')),
    guestId: str(p('config.guestId')),
    vmxPath: str(p('config.files.vmPathName')),
    host: ref(p('runtime.host')),
    resourcePool: ref(p('resourcePool')),
    datastores: boxed(p('datastore')).flatMap((d) => ref(d) ?? []),
    networks: boxed(p('network')).flatMap((n) => ref(n) ?? []),
    files,
    disks,
    snapshots: list(at(snapshotInfo, 'rootSnapshotList')).flatMap(toSnapshot),
    currentSnapshot: ref(at(snapshotInfo, 'currentSnapshot')),
    cpuRequirements: cpuFeatures(p('runtime.featureRequirement')),
    guestHeartbeat: heartbeat as HeartbeatStatus | undefined,
    nics,
    consolidationNeeded: bool(p('runtime.consolidationNeeded')) ?? false,
    changeTracking: bool(p('config.changeTrackingEnabled')) ?? false,
  };
}

function backingChain(backing: Raw): DiskBacking[] {
  const chain: DiskBacking[] = [];
  // Each delta's backing names its parent; a guard stops a malformed (cyclic) answer.
  for (let b = backing; obj(b) !== undefined && chain.length < 256; b = at(b, 'parent')) {
    chain.push({
      fileName: str(at(b, 'fileName')) ?? '',
      datastore: ref(at(b, 'datastore')),
      backingType: xsiType(b),
      diskMode: str(at(b, 'diskMode')),
      thinProvisioned: bool(at(b, 'thinProvisioned')),
      uuid: str(at(b, 'uuid')),
      changeId: str(at(b, 'changeId')),
    });
  }
  return chain;
}

function toSnapshot(tree: Raw): VmSnapshot[] {
  const r = ref(at(tree, 'snapshot'));
  if (r === undefined) return [];
  return [
    {
      ref: r,
      name: str(at(tree, 'name')) ?? '',
      description: str(at(tree, 'description')),
      id: num(at(tree, 'id')),
      createTime: date(at(tree, 'createTime')),
      state: str(at(tree, 'state')),
      children: list(at(tree, 'childSnapshotList')).flatMap(toSnapshot),
    },
  ];
}

function toHostFacts(o: ObjectProps): HostFacts {
  const p = (path: string) => o.props.get(path);
  const [pkg] = boxed(p('hardware.cpuPkg'));
  return {
    ref: o.ref,
    name: str(p('name')) ?? '',
    parent: ref(p('parent')),
    connectionState: str(p('runtime.connectionState')),
    powerState: str(p('runtime.powerState')),
    inMaintenanceMode: bool(p('runtime.inMaintenanceMode')) ?? false,
    cpuVendor: str(at(pkg, 'vendor')),
    cpuModel: str(p('summary.hardware.cpuModel')),
    numCpuCores: num(p('summary.hardware.numCpuCores')),
    memoryBytes: num(p('summary.hardware.memorySize')),
    cpuFeatures: cpuFeatures(p('config.featureCapability')),
    vmotionSupported: bool(p('capability.vmotionSupported')) ?? false,
    storageVMotionSupported: bool(p('capability.storageVMotionSupported')) ?? false,
    vmotionEnabled: bool(p('summary.config.vmotionEnabled')) ?? false,
    productVersion: str(p('config.product.version')),
    productBuild: str(p('config.product.build')),
    datastores: boxed(p('datastore')).flatMap((d) => ref(d) ?? []),
    networks: boxed(p('network')).flatMap((n) => ref(n) ?? []),
    datastoreSystem: ref(p('configManager.datastoreSystem')),
  };
}

function toDatastoreFacts(o: ObjectProps, datacenters: readonly DatacenterInfo[]): DatastoreFacts {
  const p = (path: string) => o.props.get(path);
  const summary = p('summary');
  const hosts: DatastoreMount[] = boxed(p('host')).flatMap((m) => {
    const host = ref(at(m, 'key'));
    if (host === undefined) return [];
    return [
      {
        host,
        mounted: bool(at(m, 'mountInfo.mounted')) ?? true,
        accessible: bool(at(m, 'mountInfo.accessible')) ?? false,
        accessMode: str(at(m, 'mountInfo.accessMode')),
      },
    ];
  });
  return {
    ref: o.ref,
    name: str(p('name')) ?? '',
    parent: ref(p('parent')),
    type: str(at(summary, 'type')),
    url: str(at(summary, 'url')),
    capacityBytes: num(at(summary, 'capacity')) ?? 0,
    freeBytes: num(at(summary, 'freeSpace')) ?? 0,
    accessible: bool(at(summary, 'accessible')) ?? false,
    maintenanceMode: str(at(summary, 'maintenanceMode')),
    multipleHostAccess: bool(at(summary, 'multipleHostAccess')) ?? false,
    hosts,
    vms: boxed(p('vm')).flatMap((v) => ref(v) ?? []),
    browser: ref(p('browser')),
    datacenter: datacenters.find((d) =>
      d.datastores.some((r) => r.type === o.ref.type && r.value === o.ref.value),
    ),
  };
}
