/** Plain typed objects returned by the vSphere client. No class instances, so they serialize as JSON. */

/** A managed object reference. Unique per endpoint only: two hosts may both have `ha-host`. */
export interface MoRef {
  /** Managed object type, e.g. `VirtualMachine`. */
  readonly type: string;
  /** The moref value, e.g. `vm-42`. */
  readonly value: string;
}

/** VM power state as vSphere names it. */
export type PowerState = 'poweredOn' | 'poweredOff' | 'suspended';

/** Guest heartbeat as vSphere names it: gray = no VMware Tools heartbeat known. */
export type HeartbeatStatus = 'gray' | 'red' | 'yellow' | 'green';

/** What the endpoint says about itself (ServiceContent.about). */
export interface AboutInfo {
  readonly name: string;
  readonly fullName: string;
  readonly version: string;
  readonly build: string;
  /** `VirtualCenter` for a vCenter, `HostAgent` for a standalone ESXi. */
  readonly apiType: string;
  readonly apiVersion: string;
  readonly instanceUuid: string | undefined;
}

/** Facts about the endpoint as a whole. */
export interface EndpointFacts {
  readonly about: AboutInfo;
  /** True when about.apiType is `VirtualCenter`. */
  readonly isVCenter: boolean;
  /** The vim25 version negotiated and sent as SOAPAction. */
  readonly apiVersion: string;
  /** Licences installed on the endpoint, with their feature keys. */
  readonly licenses: readonly LicenseInfo[];
  /** Union of every licence's feature keys (`vmotion`, `storageVMotion`...), lower-cased as vSphere keys them. */
  readonly licenseFeatures: readonly string[];
}

/** One installed licence. */
export interface LicenseInfo {
  readonly name: string;
  readonly editionKey: string;
  /** Feature keys this licence carries, e.g. `vmotion`. */
  readonly features: readonly string[];
}

/** A named inventory object. */
export interface InventoryItem {
  readonly ref: MoRef;
  readonly name: string;
  /** The parent folder / compute resource / pool, when it has one. */
  readonly parent: MoRef | undefined;
}

/** A datacenter and its inventory path (what the datastore file API calls `dcPath`). */
export interface DatacenterInfo extends InventoryItem {
  /** Inventory path from the root folder, e.g. `DC0` or `Europe/DC0`. */
  readonly path: string;
  readonly vmFolder: MoRef | undefined;
  readonly hostFolder: MoRef | undefined;
  readonly datastores: readonly MoRef[];
}

/** A cluster. */
export interface ClusterInfo extends InventoryItem {
  readonly hosts: readonly MoRef[];
  readonly resourcePool: MoRef | undefined;
  /** Current EVC mode key, when EVC is on. */
  readonly evcModeKey: string | undefined;
}

/** A network (a standard port group, type `Network`, or a `DistributedVirtualPortgroup`). */
export interface NetworkInfo extends InventoryItem {
  readonly hosts: readonly MoRef[];
  readonly vms: readonly MoRef[];
}

/** A resource pool. */
export interface ResourcePoolInfo extends InventoryItem {
  /** The cluster or standalone compute resource that owns the pool. */
  readonly owner: MoRef | undefined;
}

/** A folder and the child types it may hold. */
export interface FolderInfo extends InventoryItem {
  readonly childTypes: readonly string[];
}

/** A CPU feature (capability of a host, or requirement of a running VM), e.g. `cpuid.SSE42` = `1`. */
export interface CpuFeature {
  readonly key: string;
  readonly featureName: string;
  readonly value: string;
}

/** What a migration planner needs to know about a host, read in one call. */
export interface HostFacts extends InventoryItem {
  readonly connectionState: string | undefined;
  readonly powerState: string | undefined;
  readonly inMaintenanceMode: boolean;
  /** CPU vendor of the first package, e.g. `intel` or `amd`. */
  readonly cpuVendor: string | undefined;
  readonly cpuModel: string | undefined;
  readonly numCpuCores: number | undefined;
  readonly memoryBytes: number | undefined;
  /** config.featureCapability: what the host's CPU offers to VMs. */
  readonly cpuFeatures: readonly CpuFeature[];
  readonly vmotionSupported: boolean;
  readonly storageVMotionSupported: boolean;
  /** summary.config.vmotionEnabled: a vMotion vmknic is configured. */
  readonly vmotionEnabled: boolean;
  readonly productVersion: string | undefined;
  readonly productBuild: string | undefined;
  readonly datastores: readonly MoRef[];
  /** HostSystem.network: the networks (standard and distributed port groups) available on the host. */
  readonly networks: readonly MoRef[];
  /** configManager.datastoreSystem, the object RemoveDatastore runs on. */
  readonly datastoreSystem: MoRef | undefined;
}

/** A host's mount of a datastore. */
export interface DatastoreMount {
  readonly host: MoRef;
  readonly mounted: boolean;
  readonly accessible: boolean;
  readonly accessMode: string | undefined;
}

/** What a migration planner needs to know about a datastore, read in one call. */
export interface DatastoreFacts extends InventoryItem {
  readonly type: string | undefined;
  readonly url: string | undefined;
  readonly capacityBytes: number;
  readonly freeBytes: number;
  readonly accessible: boolean;
  readonly maintenanceMode: string | undefined;
  readonly multipleHostAccess: boolean;
  readonly hosts: readonly DatastoreMount[];
  readonly vms: readonly MoRef[];
  /** HostDatastoreBrowser of this datastore, the object SearchDatastore_Task runs on. */
  readonly browser: MoRef | undefined;
  /** The datacenter that holds the datastore (needed by the file API and FileManager). */
  readonly datacenter: DatacenterInfo | undefined;
}

/** One file of a VM as layoutEx lists it. */
export interface VmFile {
  readonly key: number;
  /** Datastore path, `[ds] folder/file.vmdk`. */
  readonly name: string;
  /** layoutEx type: config, nvram, snapshotData, snapshotMemory, suspend, diskDescriptor, diskExtent, log... */
  readonly type: string;
  readonly size: number;
  readonly uniqueSize: number | undefined;
  readonly accessible: boolean | undefined;
}

/** One element of a disk's backing chain, from the running delta up to the base disk. */
export interface DiskBacking {
  /** Datastore path of the descriptor. */
  readonly fileName: string;
  readonly datastore: MoRef | undefined;
  /** Backing type, e.g. `VirtualDiskFlatVer2BackingInfo`. */
  readonly backingType: string | undefined;
  readonly diskMode: string | undefined;
  readonly thinProvisioned: boolean | undefined;
  readonly uuid: string | undefined;
  readonly changeId: string | undefined;
}

/** A virtual disk and its backing chain. */
export interface VmDisk {
  readonly key: number;
  readonly label: string | undefined;
  readonly controllerKey: number | undefined;
  /** Bus sharing of the disk's SCSI controller: noSharing, virtualSharing or physicalSharing (undefined for other controllers). */
  readonly busSharing: string | undefined;
  /** Backing sharing of the disk: sharingNone or sharingMultiWriter (undefined when not reported). */
  readonly sharing: string | undefined;
  readonly unitNumber: number | undefined;
  readonly capacityBytes: number;
  /** chain[0] is the file the VM writes to now; the last element is the base disk. */
  readonly chain: readonly DiskBacking[];
  /** Files of this disk from layoutEx, per chain level from base to top, when layoutEx has them. */
  readonly layoutFiles: readonly (readonly string[])[];
}

/** A snapshot in the VM's snapshot tree. */
export interface VmSnapshot {
  readonly ref: MoRef;
  readonly name: string;
  readonly description: string | undefined;
  readonly id: number | undefined;
  readonly createTime: Date | undefined;
  /** VM power state when the snapshot was taken. */
  readonly state: string | undefined;
  readonly children: readonly VmSnapshot[];
}

/** What a migration planner needs to know about a VM, read in one call. */
export interface VmFacts extends InventoryItem {
  readonly powerState: PowerState;
  readonly connectionState: string | undefined;
  readonly template: boolean;
  /** BIOS UUID (config.uuid). */
  readonly uuid: string | undefined;
  /** vCenter instance UUID (config.instanceUuid). */
  readonly instanceUuid: string | undefined;
  readonly memoryMB: number;
  readonly numCpu: number;
  readonly hardwareVersion: string | undefined;
  readonly guestId: string | undefined;
  /** config.files.vmPathName, `[ds] folder/vm.vmx`. */
  readonly vmxPath: string | undefined;
  readonly host: MoRef | undefined;
  readonly resourcePool: MoRef | undefined;
  readonly datastores: readonly MoRef[];
  /** VirtualMachine.network: the networks its adapters are on. */
  readonly networks: readonly MoRef[];
  readonly files: readonly VmFile[];
  readonly disks: readonly VmDisk[];
  readonly snapshots: readonly VmSnapshot[];
  readonly currentSnapshot: MoRef | undefined;
  /** runtime.featureRequirement: CPU features the running VM uses (empty when powered off). */
  readonly cpuRequirements: readonly CpuFeature[];
  readonly guestHeartbeat: HeartbeatStatus | undefined;
  readonly consolidationNeeded: boolean;
  /** Network adapters with their MAC addresses: with the BIOS UUID, the VM's identity on the network. */
  readonly nics: readonly VmNic[];
  /** config.changeTrackingEnabled: changed block tracking is on (effective from the next snapshot). */
  readonly changeTracking: boolean;
}

/**
 * A network an adapter can be moved onto: a standard port group (by name; `Network`), or a distributed
 * one (`DistributedVirtualPortgroup`, by its key on its switch).
 */
export interface TestNetwork {
  readonly name: string;
  readonly ref: MoRef;
  readonly distributed?: { readonly portgroupKey: string; readonly switchUuid: string };
}

/** A network adapter of a VM. */
export interface VmNic {
  readonly key: number;
  /** Its device type (xsi:type), e.g. `VirtualVmxnet3`, `VirtualE1000e`. */
  readonly type: string;
  /** E.g. `Network adapter 1`. */
  readonly label: string | undefined;
  readonly controllerKey: number | undefined;
  readonly unitNumber: number | undefined;
  /** backing.deviceName: the standard port group it is on; undefined for another backing (distributed). */
  readonly network: string | undefined;
  /** backing.port.portgroupKey: the distributed port group it is on; undefined for another backing. */
  readonly portgroupKey: string | undefined;
  readonly macAddress: string;
  /** generated, manual or assigned. */
  readonly addressType: string | undefined;
  /**
   * connectable.startConnected (connect when the VM powers on) and connectable.connected (connected
   * now; valid only while the VM runs); undefined when the device reports no connect info.
   */
  readonly startConnected?: boolean | undefined;
  readonly connected?: boolean | undefined;
}

/** Task state as vSphere names it. */
export type TaskState = 'queued' | 'running' | 'success' | 'error';

/** A task's progress report. */
export interface TaskProgress {
  readonly task: MoRef;
  readonly state: TaskState;
  /** Percent done, when the task reports it. */
  readonly progress: number | undefined;
}

/** A datastore file or folder as SearchDatastore_Task reports it. */
export interface DatastoreFileInfo {
  /** Datastore path, `[ds] folder/name`. */
  readonly path: string;
  /** Name inside its folder. */
  readonly name: string;
  /** `folder` for FolderFileInfo, `file` otherwise (VMDKs, logs, plain files). */
  readonly kind: 'file' | 'folder';
  /** The FileInfo subtype vSphere reported, e.g. `VmDiskFileInfo`. */
  readonly fileType: string | undefined;
  readonly size: number | undefined;
  readonly modified: Date | undefined;
}
