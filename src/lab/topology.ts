/**
 * The lab topology file (lab/topology.schema.json) and its translation into one launcher spec per
 * simulated endpoint (the contract of lab/vcsim, documented in lab/vcsim/README.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describeSchemaErrors, unknownPropertyMessage } from '../request/schema-errors';
import { LabError } from './errors';
import { projectRoot } from './tools';
import type { SpecUser, TopologyUser } from './topology-users';
import { checkUsers, specUsers } from './topology-users';

/** The default topology file, relative to the repository root. */
export const DEFAULT_TOPOLOGY = join(projectRoot, 'lab', 'topology.json');
const SCHEMA = join(projectRoot, 'lab', 'topology.schema.json');

/** A CPU as hosts report it. */
export interface CpuModel {
  vendor: 'intel' | 'amd';
  model?: string;
  cores?: number;
  mhz?: number;
  features: string[];
}

/** A VM disk in the topology. */
export interface TopologyDisk {
  sizeMiB: number;
  datastore?: string;
  fill?: 'pattern' | 'sparse' | 'zero' | 'scattered';
  /** Provisioning; default what the fill implies (sparse and scattered thin, the others thick). */
  thin?: boolean;
}

/** A VM in the topology. */
export interface TopologyVm {
  name: string;
  host: string;
  datastore: string;
  memoryMiB?: number;
  cpus?: number;
  guestOS?: string;
  power?: 'poweredOn' | 'poweredOff' | 'suspended';
  guestWriteBytesPerSec?: number;
  seed?: number;
  scsiBusSharing?: 'none' | 'virtual' | 'physical';
  /** VMware Tools in the guest; default `running`. */
  tools?: 'running' | 'none';
  /** The guest ignores ShutdownGuest; default false. */
  ignoreShutdown?: boolean;
  /** `cancelOnly`: the moved-or-copied question offers only Cancel; default `default`. */
  uuidQuestion?: 'default' | 'cancelOnly';
  /** Registered as a template (config.template); must be poweredOff; default false. */
  template?: boolean;
  /** An ISO image (`[ds] path`) in the VM's CD/DVD drive, written by the lab; default none. */
  iso?: string;
  /** Network adapters, each on `VM Network` (ethernet0, ethernet1, ...); default 1. */
  nics?: number;
  disks: TopologyDisk[];
}

/** A host in the topology. */
export interface TopologyHost {
  name: string;
  cluster?: string;
  cpu: string | CpuModel;
  memoryGiB?: number;
  vmotion?: boolean;
  storageVMotion?: boolean;
  licenseFeatures?: string[];
  datastores: string[];
  /** Link rate for /folder traffic in Gb/s; default: the profile's. */
  linkGbps?: number;
  /** Concurrent /folder streams; default: the profile's. */
  maxFolderStreams?: number;
  /** Standard port groups on the host's vSwitch0 besides "VM Network"; default none. */
  portGroups?: string[];
}

/** A datastore in the topology. */
export interface TopologyDatastore {
  name: string;
  type: 'vmfs' | 'nfs';
  export?: string;
  capacityGiB: number;
  /** Read and write rates in MB/s (10^6 bytes); default: the profile's for the type. */
  readMBps?: number;
  writeMBps?: number;
}

/** One simulated vSphere endpoint. */
export interface TopologyEndpoint {
  name: string;
  kind: 'vcenter' | 'esx';
  username?: string;
  datacenter?: string;
  licenseFeatures?: string[];
  datastores: TopologyDatastore[];
  clusters?: { name: string }[];
  hosts: TopologyHost[];
  /** vCenter only: distributed switches, their member hosts and port groups; default none. */
  distributedSwitches?: { name: string; hosts: string[]; portGroups: string[] }[];
  vms?: TopologyVm[];
  /** Accounts besides the administrator, with their permissions (the lab enforces them). */
  users?: TopologyUser[];
}

/** A whole lab topology file. */
export interface Topology {
  description?: string;
  /** The defaults of every time and rate; default `realistic` (lab/vcsim/profiles.json). */
  profile?: LabProfileName;
  suspendScale?: number;
  guest?: GuestTimes;
  /** Deprecated: sets guest.bootSec and guest.resumeSec when `guest` does not. */
  heartbeatDelaySec?: number;
  cpuModels?: Record<string, CpuModel>;
  /** Roles by name: privilege ids, as `govc role.create` takes them. */
  roles?: Record<string, string[]>;
  nfsExports?: { name: string; remoteHost: string; remotePath: string }[];
  endpoints: TopologyEndpoint[];
}

/** The lab profiles (lab/vcsim/profiles.json): `realistic` (a real host's times and rates, the
 * default) and `quick` (nothing paced; for unit-level tests whose behaviour does not depend on time). */
export type LabProfileName = 'realistic' | 'quick';

/** How long guests take, in seconds. */
export interface GuestTimes {
  /** Power-on until the guest heartbeat is green. */
  bootSec?: number;
  /** Resume until the guest heartbeat is green. */
  resumeSec?: number;
  /** ShutdownGuest until the VM is poweredOff. */
  shutdownSec?: number;
}

interface ProfileDefaults {
  suspendScale: number;
  bootSec: number;
  resumeSec: number;
  shutdownSec: number;
  vmfsMBps: number;
  nfsMBps: number;
  linkGbps: number;
  maxFolderStreams: number;
}

/** The one definition of the profiles, shared with the simulator (which embeds the same file). */
const PROFILES = join(projectRoot, 'lab', 'vcsim', 'profiles.json');

function profileDefaults(name: LabProfileName): ProfileDefaults {
  const all = JSON.parse(readFileSync(PROFILES, 'utf8')) as Record<string, ProfileDefaults>;
  const p = all[name];
  if (!p) throw new LabError(`Unknown lab profile '${name}' (known: ${Object.keys(all).join(', ')})`);
  return p;
}

/** Every time and rate an endpoint of the lab runs with, so each figure can name its conditions. */
export interface EffectiveProfile {
  profile: LabProfileName;
  suspendScale: number;
  bootSec: number;
  resumeSec: number;
  shutdownSec: number;
  datastores: { name: string; type: 'vmfs' | 'nfs'; readMBps: number; writeMBps: number }[];
  hosts: { name: string; linkGbps: number; maxFolderStreams: number }[];
}

/** The effective profile of an endpoint spec: its own values, the profile's defaults for the rest. */
export function effectiveProfile(spec: EndpointSpec): EffectiveProfile {
  const d = profileDefaults(spec.profile);
  return {
    profile: spec.profile,
    suspendScale: spec.suspendScale ?? d.suspendScale,
    bootSec: spec.guest.bootSec ?? d.bootSec,
    resumeSec: spec.guest.resumeSec ?? d.resumeSec,
    shutdownSec: spec.guest.shutdownSec ?? d.shutdownSec,
    datastores: spec.datastores.map((ds) => {
      const def = ds.type === 'nfs' ? d.nfsMBps : d.vmfsMBps;
      return { name: ds.name, type: ds.type, readMBps: ds.readMBps ?? def, writeMBps: ds.writeMBps ?? def };
    }),
    hosts: spec.hosts.map((h) => ({
      name: h.name,
      linkGbps: h.linkGbps ?? d.linkGbps,
      maxFolderStreams: h.maxFolderStreams ?? d.maxFolderStreams,
    })),
  };
}

/** What the launcher (lab/vcsim) reads: one endpoint with absolute paths, credentials and port. */
export interface EndpointSpec {
  name: string;
  kind: 'vcenter' | 'esx';
  listen: string;
  username: string;
  password: string;
  stateDir: string;
  controlToken: string;
  profile: LabProfileName;
  /** Unset: the profile's. */
  suspendScale?: number;
  /** Unset fields: the profile's. */
  guest: GuestTimes;
  licenseFeatures: string[];
  datacenter: string;
  datastores: {
    name: string;
    type: 'vmfs' | 'nfs';
    path: string;
    capacityMiB: number;
    remoteHost?: string;
    remotePath?: string;
    readMBps?: number;
    writeMBps?: number;
  }[];
  clusters: { name: string; hosts: string[] }[];
  distributedSwitches?: { name: string; hosts: string[]; portGroups: string[] }[];
  hosts: {
    name: string;
    cluster?: string;
    cpu: Required<CpuModel>;
    memoryMiB: number;
    vmotion: boolean;
    storageVMotion: boolean;
    licenseFeatures: string[];
    datastores: string[];
    linkGbps?: number;
    maxFolderStreams?: number;
    portGroups?: string[];
  }[];
  vms: (Required<Omit<TopologyVm, 'disks' | 'iso' | 'nics'>> &
    Pick<TopologyVm, 'iso' | 'nics'> & {
      disks: (Required<Omit<TopologyDisk, 'datastore' | 'thin'>> &
        Pick<TopologyDisk, 'datastore' | 'thin'>)[];
    })[];
  users: SpecUser[];
}

/** Reads and validates a topology file; every problem is reported with its JSON path. */
export function loadTopology(file: string = DEFAULT_TOPOLOGY): Topology {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new LabError(`Cannot read topology ${file}: ${(error as Error).message}`, { cause: error });
  }
  return validateTopology(data, file);
}

/** Validates a parsed topology against the schema and its cross-references. */
export function validateTopology(data: unknown, source = 'topology'): Topology {
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: false });
  const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));
  if (!validate(data)) {
    const problems = describeSchemaErrors(validate.errors ?? [], {
      root: '(top level)',
      unknownProperty: (_at, name, allowed) => unknownPropertyMessage(name, allowed),
    }).map((p) => `${p.path}: ${p.message}`);
    throw new LabError(`Invalid topology ${source}:\n  ${problems.join('\n  ')}`);
  }
  const topology = data as Topology;
  const problems = crossCheck(topology);
  if (problems.length > 0) throw new LabError(`Invalid topology ${source}:\n  ${problems.join('\n  ')}`);
  return topology;
}

function duplicates(names: string[]): string[] {
  return names.filter((n, i) => names.indexOf(n) !== i);
}

function crossCheck(t: Topology): string[] {
  const problems: string[] = [];
  const exports = new Set((t.nfsExports ?? []).map((e) => e.name));
  for (const dup of duplicates(t.endpoints.map((e) => e.name)))
    problems.push(`endpoints: name '${dup}' is used twice`);
  t.endpoints.forEach((ep, i) => {
    const at = `endpoints.${i} (${ep.name})`;
    const datastores = new Set(ep.datastores.map((d) => d.name));
    const clusters = new Set((ep.clusters ?? []).map((c) => c.name));
    const hosts = new Map(ep.hosts.map((h) => [h.name, h]));
    for (const dup of duplicates(ep.datastores.map((d) => d.name)))
      problems.push(`${at}.datastores: '${dup}' twice`);
    for (const dup of duplicates(ep.hosts.map((h) => h.name))) problems.push(`${at}.hosts: '${dup}' twice`);
    for (const dup of duplicates((ep.vms ?? []).map((v) => v.name)))
      problems.push(`${at}.vms: '${dup}' twice`);
    if (ep.kind === 'esx' && ep.hosts.length !== 1)
      problems.push(`${at}.hosts: a standalone ESXi endpoint has exactly one host`);
    if (ep.kind === 'esx' && (ep.clusters?.length ?? 0) > 0)
      problems.push(`${at}.clusters: a standalone ESXi endpoint has no clusters`);
    ep.datastores.forEach((d, j) => {
      if (d.type === 'nfs' && !d.export)
        problems.push(`${at}.datastores.${j}.export: an nfs datastore names an entry of nfsExports`);
      if (d.export && !exports.has(d.export))
        problems.push(`${at}.datastores.${j}.export: no nfsExports entry '${d.export}'`);
      if (d.type === 'vmfs' && d.export)
        problems.push(`${at}.datastores.${j}.export: only nfs datastores have an export`);
    });
    ep.hosts.forEach((h, j) => {
      if (typeof h.cpu === 'string' && !t.cpuModels?.[h.cpu])
        problems.push(`${at}.hosts.${j}.cpu: no cpuModels entry '${h.cpu}'`);
      if (h.cluster && !clusters.has(h.cluster))
        problems.push(`${at}.hosts.${j}.cluster: no cluster '${h.cluster}'`);
      for (const d of h.datastores)
        if (!datastores.has(d)) problems.push(`${at}.hosts.${j}.datastores: no datastore '${d}'`);
    });
    const admin = ep.username ?? (ep.kind === 'esx' ? 'root' : 'administrator@vsphere.local');
    problems.push(...checkUsers(at, ep.users ?? [], t.roles ?? {}, admin));
    (ep.vms ?? []).forEach((vm, j) => {
      const host = hosts.get(vm.host);
      if (!host) {
        problems.push(`${at}.vms.${j}.host: no host '${vm.host}'`);
        return;
      }
      const mounted = new Set(host.datastores);
      if (!mounted.has(vm.datastore))
        problems.push(`${at}.vms.${j}.datastore: '${vm.datastore}' is not mounted on ${vm.host}`);
      vm.disks.forEach((disk, k) => {
        if (disk.datastore && !mounted.has(disk.datastore)) {
          problems.push(
            `${at}.vms.${j}.disks.${k}.datastore: '${disk.datastore}' is not mounted on ${vm.host}`,
          );
        }
      });
    });
  });
  return problems;
}

function seedOf(endpoint: string, vm: string): number {
  return createHash('sha256').update(`${endpoint}/${vm}`).digest().readUInt32BE(0);
}

/** The topology's guest times; the deprecated heartbeatDelaySec fills boot and resume when unset. */
function guestTimes(t: Topology): GuestTimes {
  const g: GuestTimes = { ...(t.guest ?? {}) };
  if (t.heartbeatDelaySec !== undefined) {
    g.bootSec ??= t.heartbeatDelaySec;
    g.resumeSec ??= t.heartbeatDelaySec;
  }
  return g;
}

/** Per-endpoint secrets and addresses that `lab up` generates. */
export interface EndpointRuntime {
  port: number;
  password: string;
  controlToken: string;
  /** The password of a user whose topology gives none; default a fresh random one each. */
  userPassword?: (user: string) => string;
}

/**
 * Translates an endpoint of the topology into the launcher's spec. Datastores live under
 * `<labDir>/datastores/<endpoint>/<datastore>`; NFS datastores under `<labDir>/nfs/<export>`, shared by
 * every endpoint that mounts the export.
 */
export function endpointSpec(
  t: Topology,
  ep: TopologyEndpoint,
  labDir: string,
  rt: EndpointRuntime,
): EndpointSpec {
  const clusterHosts = (name: string) => ep.hosts.filter((h) => h.cluster === name).map((h) => h.name);
  const exportOf = (name?: string) => (t.nfsExports ?? []).find((e) => e.name === name);
  return {
    name: ep.name,
    kind: ep.kind,
    listen: `127.0.0.1:${rt.port}`,
    username: ep.username ?? (ep.kind === 'esx' ? 'root' : 'administrator@vsphere.local'),
    password: rt.password,
    stateDir: join(labDir, 'endpoints', ep.name),
    controlToken: rt.controlToken,
    profile: t.profile ?? 'realistic',
    ...(t.suspendScale !== undefined ? { suspendScale: t.suspendScale } : {}),
    guest: guestTimes(t),
    licenseFeatures: ep.licenseFeatures ?? [],
    datacenter: ep.datacenter ?? 'DC1',
    datastores: ep.datastores.map((d) => {
      const nfs = exportOf(d.export);
      return {
        name: d.name,
        type: d.type,
        path: nfs ? join(labDir, 'nfs', nfs.name) : join(labDir, 'datastores', ep.name, d.name),
        capacityMiB: Math.round(d.capacityGiB * 1024),
        ...(nfs ? { remoteHost: nfs.remoteHost, remotePath: nfs.remotePath } : {}),
        ...(d.readMBps !== undefined ? { readMBps: d.readMBps } : {}),
        ...(d.writeMBps !== undefined ? { writeMBps: d.writeMBps } : {}),
      };
    }),
    clusters: (ep.clusters ?? []).map((c) => ({ name: c.name, hosts: clusterHosts(c.name) })),
    ...(ep.distributedSwitches?.length ? { distributedSwitches: ep.distributedSwitches } : {}),
    hosts: ep.hosts.map((h) => {
      const cpu = typeof h.cpu === 'string' ? (t.cpuModels?.[h.cpu] as CpuModel) : h.cpu;
      return {
        name: h.name,
        ...(h.cluster ? { cluster: h.cluster } : {}),
        cpu: {
          vendor: cpu.vendor,
          model: cpu.model ?? `${cpu.vendor} CPU`,
          cores: cpu.cores ?? 16,
          mhz: cpu.mhz ?? 2400,
          features: cpu.features,
        },
        memoryMiB: Math.round((h.memoryGiB ?? 128) * 1024),
        vmotion: h.vmotion ?? true,
        storageVMotion: h.storageVMotion ?? true,
        licenseFeatures: h.licenseFeatures ?? [],
        datastores: h.datastores,
        ...(h.linkGbps !== undefined ? { linkGbps: h.linkGbps } : {}),
        ...(h.maxFolderStreams !== undefined ? { maxFolderStreams: h.maxFolderStreams } : {}),
        ...(h.portGroups?.length ? { portGroups: h.portGroups } : {}),
      };
    }),
    vms: (ep.vms ?? []).map((vm) => ({
      name: vm.name,
      host: vm.host,
      datastore: vm.datastore,
      memoryMiB: vm.memoryMiB ?? 1024,
      cpus: vm.cpus ?? 1,
      guestOS: vm.guestOS ?? 'otherLinux64Guest',
      power: vm.power ?? 'poweredOn',
      guestWriteBytesPerSec: vm.guestWriteBytesPerSec ?? 0,
      seed: vm.seed ?? seedOf(ep.name, vm.name),
      scsiBusSharing: vm.scsiBusSharing ?? 'none',
      tools: vm.tools ?? 'running',
      ignoreShutdown: vm.ignoreShutdown ?? false,
      uuidQuestion: vm.uuidQuestion ?? 'default',
      template: vm.template ?? false,
      ...(vm.iso ? { iso: vm.iso } : {}),
      ...(vm.nics !== undefined ? { nics: vm.nics } : {}),
      disks: vm.disks.map((d) => ({
        sizeMiB: d.sizeMiB,
        fill: d.fill ?? 'pattern',
        ...(d.datastore ? { datastore: d.datastore } : {}),
        ...(d.thin !== undefined ? { thin: d.thin } : {}),
      })),
    })),
    users: specUsers(
      ep.users ?? [],
      t.roles ?? {},
      rt.userPassword ?? (() => randomBytes(18).toString('base64url')),
    ),
  };
}
