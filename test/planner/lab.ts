// The lab of the examples as planner facts: what the preflight activity would gather for a request.
// Tests start from these and change one fact at a time with `variant`.

import type {
  MigrationFacts,
  PlannerDatastore,
  PlannerDisk,
  PlannerEndpoint,
  PlannerHost,
  PlannerVm,
} from '../../src/planner/facts';
import type { MigrationRequest, MigrationRequestInput } from '../../src/request/request';
import { normalizeRequest } from '../../src/request/request';

export const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const INTEL_FEATURES: Record<string, string> = {
  'cpuid.SSE3': '1',
  'cpuid.AES': '1',
  'cpuid.AVX': '1',
  'cpuid.AVX2': '1',
  'cpuid.Intel': '1',
};

const ENDPOINTS: Record<string, PlannerEndpoint> = {
  vcenter: {
    name: 'vcenter',
    kind: 'vcenter',
    instanceUuid: 'vc-1111',
    licenseFeatures: ['vmotion', 'storagevmotion'],
  },
  'esx-a': { name: 'esx-a', kind: 'esx', instanceUuid: 'esx-aaaa', licenseFeatures: [] },
  'esx-b': { name: 'esx-b', kind: 'esx', instanceUuid: 'esx-bbbb', licenseFeatures: [] },
};

function host(name: string): PlannerHost {
  return {
    name,
    connectionState: 'connected',
    inMaintenanceMode: false,
    cpuVendor: 'intel',
    features: { ...INTEL_FEATURES },
    vmotion: true,
    storageVMotion: true,
  };
}

/** Hosts per endpoint; the first is the default target of a standalone endpoint. */
const HOSTS: Record<string, string[]> = {
  vcenter: ['esx01.lab', 'esx02.lab'],
  'esx-a': ['esx-a.lab'],
  'esx-b': ['esx-b.lab'],
};

/** Datastores per endpoint with the hosts that mount them and their free space. */
const DATASTORES: Record<string, { name: string; type: string; free: number; hosts: string[] }[]> = {
  vcenter: [
    { name: 'shared-ds', type: 'VMFS', free: 500 * GiB, hosts: ['esx01.lab', 'esx02.lab'] },
    { name: 'local-esx01', type: 'VMFS', free: 100 * GiB, hosts: ['esx01.lab'] },
    { name: 'local-esx02', type: 'VMFS', free: 100 * GiB, hosts: ['esx02.lab'] },
    { name: 'IR-NFS', type: 'NFS', free: 1000 * GiB, hosts: ['esx01.lab', 'esx02.lab'] },
  ],
  'esx-a': [
    { name: 'datastore1', type: 'VMFS', free: 200 * GiB, hosts: ['esx-a.lab'] },
    { name: 'IR-NFS', type: 'NFS', free: 1000 * GiB, hosts: ['esx-a.lab'] },
  ],
  'esx-b': [{ name: 'datastore1', type: 'VMFS', free: 200 * GiB, hosts: ['esx-b.lab'] }],
};

function disk(
  key: number,
  n: number,
  vm: string,
  datastore: string,
  capacityGiB: number,
  usedGiB: number,
): PlannerDisk {
  return {
    key,
    label: `Hard disk ${n}`,
    capacityBytes: capacityGiB * GiB,
    committedBytes: usedGiB * GiB,
    datastore,
    fileName: `[${datastore}] ${vm}/${vm}${n === 1 ? '' : `_${n - 1}`}.vmdk`,
    diskMode: 'persistent',
    sharing: 'sharingNone',
    busSharing: 'noSharing',
  };
}

function vm(
  name: string,
  host: string,
  datastore: string,
  memoryMiB: number,
  powerState: PlannerVm['powerState'],
  disks: PlannerDisk[],
): PlannerVm {
  const dir = `[${datastore}] ${name}`;
  const files = [
    { name: `${dir}/${name}.vmx`, size: 4096, type: 'config' },
    { name: `${dir}/${name}.nvram`, size: 270_840, type: 'nvram' },
    { name: `${dir}/vmware.log`, size: MiB, type: 'log' },
    ...disks.flatMap((d) => [
      { name: d.fileName, size: 600, type: 'diskDescriptor' },
      { name: d.fileName.replace('.vmdk', '-flat.vmdk'), size: d.committedBytes, type: 'diskExtent' },
    ]),
    ...(powerState === 'poweredOn'
      ? [{ name: `${dir}/${name}.vswp`, size: memoryMiB * MiB, type: 'swap' }]
      : []),
    ...(powerState === 'suspended'
      ? [{ name: `${dir}/${name}.vmss`, size: memoryMiB * MiB, type: 'suspend' }]
      : []),
  ];
  return {
    name,
    moref: `vm-${name}`,
    powerState,
    connectionState: 'connected',
    memoryMiB,
    cpus: 2,
    featureRequirement: powerState === 'poweredOff' ? [] : ['cpuid.SSE3', 'cpuid.AES', 'cpuid.AVX'],
    guestHeartbeat: powerState === 'poweredOn',
    disks,
    files,
    snapshotCount: 0,
    consolidationNeeded: false,
    host,
    configDatastore: datastore,
    datastores: [...new Set([datastore, ...disks.map((d) => d.datastore)])],
  };
}

/** The lab's VMs by endpoint. */
const VMS: Record<string, PlannerVm[]> = {
  vcenter: [
    vm('web01', 'esx01.lab', 'shared-ds', 4096, 'poweredOn', [disk(2000, 1, 'web01', 'shared-ds', 40, 10)]),
    // As lab/topology.json has it: home and first disk on esx02's local datastore, second disk on shared-ds.
    vm('db01', 'esx02.lab', 'local-esx02', 8192, 'poweredOn', [
      disk(2000, 1, 'db01', 'local-esx02', 40, 12),
      disk(2001, 2, 'db01', 'shared-ds', 60, 30),
    ]),
    vm('ir-vc01', 'esx02.lab', 'IR-NFS', 2048, 'poweredOn', [disk(2000, 1, 'ir-vc01', 'IR-NFS', 20, 5)]),
  ],
  'esx-a': [
    vm('ir-app01', 'esx-a.lab', 'IR-NFS', 2048, 'poweredOn', [disk(2000, 1, 'ir-app01', 'IR-NFS', 20, 6)]),
    vm('big01', 'esx-a.lab', 'datastore1', 12 * 1024, 'poweredOn', [
      disk(2000, 1, 'big01', 'datastore1', 50, 20),
    ]),
    vm('off01', 'esx-a.lab', 'datastore1', 2048, 'poweredOff', [disk(2000, 1, 'off01', 'datastore1', 16, 4)]),
    vm('susp01', 'esx-a.lab', 'datastore1', 2048, 'suspended', [
      disk(2000, 1, 'susp01', 'datastore1', 16, 4),
    ]),
  ],
  'esx-b': [],
};

function lookup<T>(table: Record<string, T>, key: string, what: string): T {
  const value = table[key];
  if (value === undefined) throw new Error(`lab has no ${what} '${key}'`);
  return value;
}

function findVm(request: MigrationRequest): PlannerVm {
  const { source } = request;
  const vms = lookup(VMS, source.endpoint, 'endpoint');
  const found = vms.find(
    (v) =>
      v.name === source.name ||
      v.moref === source.moref ||
      source.inventoryPath?.endsWith(`/${v.name}`) === true,
  );
  if (!found) throw new Error(`lab has no VM for ${JSON.stringify(source)}`);
  return structuredClone(found);
}

/** What preflight would gather in the lab for this request (a tiny, honest stand-in for the activity). */
export function labFacts(request: MigrationRequest): MigrationFacts {
  const source = lookup(ENDPOINTS, request.source.endpoint, 'endpoint');
  const target = lookup(ENDPOINTS, request.target.endpoint, 'endpoint');
  const v = findVm(request);
  const targetHosts = lookup(HOSTS, target.name, 'endpoint');
  // A cluster target lands on the VM's current host when it is in the cluster, else the first host.
  const targetHostName =
    request.target.host ??
    (targetHosts.includes(v.host) && target.name === source.name ? v.host : targetHosts[0]);
  if (!targetHostName || !targetHosts.includes(targetHostName)) throw new Error(`no host ${targetHostName}`);
  const datastores: PlannerDatastore[] = lookup(DATASTORES, target.name, 'endpoint').map((d) => ({
    name: d.name,
    freeBytes: d.free,
    capacityBytes: 2 * d.free,
    accessible: true,
    type: d.type,
    mountedOnTargetHost: d.hosts.includes(targetHostName),
  }));
  const onIr = v.configDatastore === 'IR-NFS';
  return {
    source,
    target,
    sameVCenter: source.kind === 'vcenter' && source.instanceUuid === target.instanceUuid,
    vm: v,
    sourceHost: host(v.host),
    targetHost: host(targetHostName),
    ...(request.target.cluster ? { targetCluster: { name: request.target.cluster } } : {}),
    targetDatastores: datastores,
    targetVmNames: lookup(VMS, target.name, 'endpoint')
      .map((x) => x.name)
      .filter((n) => n !== v.name || target.name !== source.name),
    instantRecovery: onIr
      ? {
          datastore: 'IR-NFS',
          remote: 'vbr01.lab:/VeeamBackup_vbr01',
          looksLikeVPowerNfs: true,
          flagged: false,
          otherVms: [],
        }
      : null,
  };
}

/** A request written as a person would, normalized with the real defaults. */
export function request(input: MigrationRequestInput): MigrationRequest {
  return normalizeRequest(input);
}

/** A copy of `facts` with one change; the original is untouched so tables stay independent. */
export function variant(facts: MigrationFacts, change: (f: MigrationFacts) => void): MigrationFacts {
  const copy = structuredClone(facts);
  change(copy);
  return copy;
}
