import type { MeasuredCopy } from './downtime';
import type { TestCopyMarker } from './test-copy';

// The facts the planner decides on. A preflight activity gathers them from vSphere; tests write them
// by hand. Plain data only (no classes, no Dates), so they travel through Temporal and into a memo.

/** A vCenter or standalone ESXi endpoint as the worker sees it. */
export interface PlannerEndpoint {
  /** Configured endpoint name, as in the request. */
  name: string;
  kind: 'vcenter' | 'esx';
  /** about.instanceUuid; equal on both sides means the same vCenter. */
  instanceUuid: string;
  /** Licence feature keys the endpoint carries, e.g. `vmotion`, `storagevmotion` (compared case-insensitively). */
  licenseFeatures: string[];
}

/** One virtual disk of the source VM. */
export interface PlannerDisk {
  /** Device key, unique within the VM. */
  key: number;
  /** Device label, e.g. `Hard disk 1`. */
  label: string;
  capacityBytes: number;
  /** Bytes the disk occupies on its datastore, snapshot deltas included (layoutEx). */
  committedBytes: number;
  /** The base backing is thin provisioned. Absent where unknown (then committedBytes decides). */
  thin?: boolean;
  /** Datastore holding the disk's current (top) file. */
  datastore: string;
  /** `[datastore] dir/file.vmdk`. */
  fileName: string;
  /** Backing disk mode; the `independent_*` modes cannot be snapshotted. */
  diskMode:
    | 'persistent'
    | 'nonpersistent'
    | 'undoable'
    | 'independent_persistent'
    | 'independent_nonpersistent'
    | 'append';
  /** Backing sharing; multi-writer disks are shared with another VM. */
  sharing: 'sharingNone' | 'sharingMultiWriter';
  /** Sharing mode of the SCSI controller the disk hangs off. */
  busSharing: 'noSharing' | 'virtualSharing' | 'physicalSharing';
  /** Raw device mapping compatibility mode; absent for a plain virtual disk. */
  rdm?: 'physical' | 'virtual';
}

/** One file of the VM (layoutEx.file). */
export interface PlannerVmFile {
  /** `[datastore] dir/file`. */
  name: string;
  size: number;
  /** layoutEx file type: config, nvram, extendedConfig, diskDescriptor, diskExtent, snapshotData, log, swap, suspend, ... */
  type: string;
}

/** The VM to migrate. */
export interface PlannerVm {
  name: string;
  moref: string;
  /** config.instanceUuid (absent in facts recorded before it was read): what a kept test copy names. */
  instanceUuid?: string;
  powerState: 'poweredOn' | 'poweredOff' | 'suspended';
  /** runtime.connectionState; anything but `connected` blocks. */
  connectionState: 'connected' | 'disconnected' | 'orphaned' | 'inaccessible' | 'invalid';
  /** config.template: a template is not migrated (absent in facts recorded before it was read). */
  template?: boolean;
  memoryMiB: number;
  cpus: number;
  /** CPU feature keys the running (or suspended) VM depends on (runtime.featureRequirement keys). */
  featureRequirement: string[];
  /** Whether VMware Tools report a guest heartbeat now; `options.source: delete` relies on it. */
  guestHeartbeat: boolean;
  disks: PlannerDisk[];
  files: PlannerVmFile[];
  snapshotCount: number;
  /** runtime.consolidationNeeded. */
  consolidationNeeded: boolean;
  /** Name of the host it runs on (or is registered on). */
  host: string;
  /** Datastore holding the .vmx. */
  configDatastore: string;
  /** Every datastore the VM uses. */
  datastores: string[];
}

/** An ESXi host. */
export interface PlannerHost {
  name: string;
  connectionState: 'connected' | 'disconnected' | 'notResponding';
  inMaintenanceMode: boolean;
  /** hardware.cpuPkg vendor, e.g. `intel`, `amd`. */
  cpuVendor: string;
  /** CPU feature capabilities (config.featureCapability key → value); `0` or missing means absent. */
  features: Record<string, string>;
  /** capability.vmotionSupported (and a vMotion vmknic configured). */
  vmotion: boolean;
  /** capability.storageVMotionSupported. */
  storageVMotion: boolean;
}

/** A datastore on the target endpoint. */
export interface PlannerDatastore {
  name: string;
  freeBytes: number;
  capacityBytes: number;
  accessible: boolean;
  /** summary.type: VMFS, NFS, NFS41, vsan, VVOL. */
  type: string;
  /** Whether the target host mounts it (and can therefore run a VM from it). */
  mountedOnTargetHost: boolean;
}

/** The instant-recovery datastore the VM runs from, when it does. */
export interface PlannerInstantRecovery {
  datastore: string;
  /** NFS server and export, for the reasons text. */
  remote: string;
  /** NFS datastore whose name or export looks like a vPower NFS share. */
  looksLikeVPowerNfs: boolean;
  /** Explicitly flagged as instant recovery (e.g. by a custom attribute or by configuration). */
  flagged: boolean;
  /** Other VMs still using the datastore. */
  otherVms: string[];
}

/** What the switchover's projection and stop need beyond the VM's own facts. */
export interface SwitchoverFacts {
  /** summary.type of the datastore holding the .vmx (where a suspend writes its state): VMFS, NFS, ... */
  sourceHomeType: string;
  /** guest.toolsRunningStatus is guestToolsRunning: a guest shutdown is possible now. */
  toolsRunning: boolean;
  /** VMware Tools are installed (a booting guest's are, before they run); default: as toolsRunning. */
  toolsInstalled?: boolean;
  /** The latest copy this worker measured between the same endpoints, if any. */
  measuredCopy?: MeasuredCopy;
}

/**
 * A folder the migration would create on a target datastore (`[ds] <target name>`), as preflight found
 * it. Quick Migration never writes into a folder it did not make (TargetFolderExistsError at make-folders).
 */
export interface TargetFolderFacts {
  /** `[datastore] folder`. */
  path: string;
  /** Whether it exists. */
  exists: boolean;
  /** Entries in it (0 for an empty folder, which make-folders adopts). */
  entries: number;
  /** The migration id in its `.quickmig-migration` marker, when a migration made it; null otherwise. */
  owner: string | null;
  /** Its `quickmig-test.json`, when a test migration kept its disks there (planner/test-copy.ts). */
  test?: TestCopyMarker;
}

/** The network a test migration puts its test VM on, and what it is checked against. */
export interface TestNetworkFacts {
  /** The name the request gives. */
  name: string;
  /** Its kind on the target host: a standard port group, a distributed one; null when the host has none of that name. */
  kind: 'standard' | 'distributed' | null;
  /** Names of every network the target host has (the alternatives a finding offers). */
  targetHostNetworks: string[];
  /** Names of the networks the source VM's adapters are on. */
  sourceNetworks: string[];
}

/** Everything the planner needs to know, gathered once during preflight. */
export interface MigrationFacts {
  source: PlannerEndpoint;
  target: PlannerEndpoint;
  /** Source and target endpoint are the same vCenter (same instanceUuid, kind vcenter). */
  sameVCenter: boolean;
  /** When the facts were gathered, epoch ms; a switchover window is checked against it. Default: not checked. */
  now?: number;
  vm: PlannerVm;
  sourceHost: PlannerHost;
  /** The host the VM will land on; for a cluster target, the host the worker picked in it. */
  targetHost: PlannerHost;
  /** Set when the request named a cluster. */
  targetCluster?: { name: string };
  /** The target datastores the request names (missing ones are simply absent) and those the target host mounts. */
  targetDatastores: PlannerDatastore[];
  /** Names of VMs on the target (in the target folder, or on a standalone host) other than the source VM. */
  targetVmNames: string[];
  /**
   * A test migration's network (options.test.network), as preflight found it: absent when none is asked
   * (and when the facts come from before this check).
   */
  testNetwork?: TestNetworkFacts;
  /** Set when the VM runs from what looks like, or is flagged as, an instant-recovery datastore. */
  instantRecovery: PlannerInstantRecovery | null;
  /** Default: the source home is VMFS, Tools run when the guest has a heartbeat, no measured copy. */
  switchover?: SwitchoverFacts;
  /**
   * The folders a Quick Migration would create, on every datastore the request names, and the migration
   * id asking (a folder it made itself, on a retry, is no conflict). Default: not checked.
   */
  targetFolders?: { migrationId: string; folders: TargetFolderFacts[] };
}
