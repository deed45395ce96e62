import { describe, expect, it } from 'vitest';
import { LabError } from '../../src/lab/errors';
import type { Topology } from '../../src/lab/topology';
import { effectiveProfile, endpointSpec, loadTopology, validateTopology } from '../../src/lab/topology';

/** The first element, or a failed test. */
function first<T>(items: T[] | undefined): T {
  const item = items?.[0];
  if (item === undefined) throw new Error('expected an element');
  return item;
}

const runtime = { port: 40000, password: 'pw', controlToken: 'tok' };

function minimal(): Topology {
  return {
    cpuModels: { c: { vendor: 'intel', features: ['cpuid.AVX'] } },
    endpoints: [
      {
        name: 'esx-a',
        kind: 'esx',
        datastores: [{ name: 'datastore1', type: 'vmfs', capacityGiB: 10 }],
        hosts: [{ name: 'h1', cpu: 'c', datastores: ['datastore1'] }],
        vms: [{ name: 'vm1', host: 'h1', datastore: 'datastore1', disks: [{ sizeMiB: 4 }] }],
      },
    ],
  };
}

function problemsOf(t: unknown): string {
  try {
    validateTopology(t);
  } catch (error) {
    expect(error).toBeInstanceOf(LabError);
    return (error as Error).message;
  }
  throw new Error('expected the topology to be refused');
}

describe('lab topology', () => {
  it('accepts the default topology: a vCenter with a two-host cluster and two standalone hosts', () => {
    const t = loadTopology();
    const vcenter = t.endpoints.find((e) => e.kind === 'vcenter');
    expect(vcenter?.hosts.filter((h) => h.cluster === 'Prod')).toHaveLength(2);
    expect(vcenter?.licenseFeatures).toEqual(expect.arrayContaining(['vmotion', 'storagevmotion']));
    expect(t.endpoints.filter((e) => e.kind === 'esx').map((e) => e.name)).toEqual(['esx-a', 'esx-b']);
    const esxA = t.endpoints.find((e) => e.name === 'esx-a');
    expect(esxA?.datastores.map((d) => d.type)).toContain('nfs');
    // a VM whose second disk lives on another datastore
    expect(
      vcenter?.vms?.some((vm) => vm.disks.some((d) => d.datastore && d.datastore !== vm.datastore)),
    ).toBe(true);
  });

  it('names the field of every schema problem', () => {
    const t = minimal() as unknown as { endpoints: Record<string, unknown>[] };
    (t.endpoints[0] as Record<string, unknown>).kind = 'hyperv';
    (t.endpoints[0] as Record<string, unknown>).colour = 'blue';
    const message = problemsOf(t);
    expect(message).toContain('endpoints[0].kind: must be one of vcenter, esx (got "hyperv")');
    expect(message).toContain("endpoints[0].colour: unknown property 'colour'; allowed: name, kind,");
  });

  it('checks cross-references: hosts, datastores, clusters, CPU models, exports', () => {
    const t = minimal();
    const ep = first(t.endpoints);
    ep.hosts.push({ name: 'h2', cpu: 'nope', cluster: 'C', datastores: ['missing'] });
    ep.vms?.push({ name: 'vm2', host: 'h9', datastore: 'datastore1', disks: [{ sizeMiB: 1 }] });
    ep.datastores.push({ name: 'nfs1', type: 'nfs', export: 'x', capacityGiB: 1 });
    const message = problemsOf(t);
    expect(message).toContain('endpoints.0 (esx-a).hosts: a standalone ESXi endpoint has exactly one host');
    expect(message).toContain("endpoints.0 (esx-a).hosts.1.cpu: no cpuModels entry 'nope'");
    expect(message).toContain("endpoints.0 (esx-a).hosts.1.cluster: no cluster 'C'");
    expect(message).toContain("endpoints.0 (esx-a).hosts.1.datastores: no datastore 'missing'");
    expect(message).toContain("endpoints.0 (esx-a).vms.1.host: no host 'h9'");
    expect(message).toContain("endpoints.0 (esx-a).datastores.1.export: no nfsExports entry 'x'");
  });

  it('refuses a VM disk on a datastore its host does not mount', () => {
    const t = minimal();
    const ep = first(t.endpoints);
    ep.datastores.push({ name: 'other', type: 'vmfs', capacityGiB: 1 });
    first(ep.vms).disks.push({ sizeMiB: 1, datastore: 'other' });
    expect(problemsOf(t)).toContain("vms.0.disks.1.datastore: 'other' is not mounted on h1");
  });

  it('gives every endpoint mounting one NFS export the same backing folder, and each local datastore its own', () => {
    const t = loadTopology();
    const specs = t.endpoints.map((ep) => endpointSpec(t, ep, '/lab', runtime));
    const irPaths = specs.flatMap((s) => s.datastores.filter((d) => d.name === 'IR-NFS').map((d) => d.path));
    expect(new Set(irPaths)).toEqual(new Set(['/lab/nfs/vpower-nfs']));
    const esxA = specs.find((s) => s.name === 'esx-a');
    const esxB = specs.find((s) => s.name === 'esx-b');
    expect(esxA?.datastores.find((d) => d.name === 'datastore1')?.path).toBe(
      '/lab/datastores/esx-a/datastore1',
    );
    expect(esxB?.datastores.find((d) => d.name === 'datastore1')?.path).toBe(
      '/lab/datastores/esx-b/datastore1',
    );
  });

  it('fills in the documented defaults and resolves named CPU models', () => {
    const t = minimal();
    const spec = endpointSpec(t, first(t.endpoints), '/lab', runtime);
    expect(spec).toMatchObject({
      listen: '127.0.0.1:40000',
      username: 'root',
      profile: 'realistic',
      guest: {},
      hosts: [
        {
          name: 'h1',
          cpu: { vendor: 'intel', features: ['cpuid.AVX'], cores: 16 },
          vmotion: true,
          memoryMiB: 131072,
        },
      ],
      vms: [
        {
          name: 'vm1',
          memoryMiB: 1024,
          cpus: 1,
          power: 'poweredOn',
          guestWriteBytesPerSec: 0,
          tools: 'running',
          ignoreShutdown: false,
          uuidQuestion: 'default',
          template: false,
          disks: [{ sizeMiB: 4, fill: 'pattern' }],
        },
      ],
    });
    // the content seed is stable for a VM name, so disk bytes are reproducible between runs
    expect(endpointSpec(t, first(t.endpoints), '/x', runtime).vms[0]?.seed).toBe(spec.vms[0]?.seed);
  });

  it("reports the realistic profile by default: a real host's times and rates, IR-NFS at 100 MB/s", () => {
    const t = loadTopology();
    const esxA = t.endpoints.find((ep) => ep.name === 'esx-a');
    if (!esxA) throw new Error('default topology has no esx-a');
    const profile = effectiveProfile(endpointSpec(t, esxA, '/lab', runtime));
    expect(profile).toEqual({
      profile: 'realistic',
      suspendScale: 1,
      bootSec: 40,
      resumeSec: 2,
      shutdownSec: 20,
      datastores: [
        { name: 'datastore1', type: 'vmfs', readMBps: 400, writeMBps: 400 },
        { name: 'IR-NFS', type: 'nfs', readMBps: 100, writeMBps: 100 },
      ],
      hosts: [{ name: 'esx-a.lab', linkGbps: 10, maxFolderStreams: 8 }],
    });
  });

  it('passes per-field overrides through and lets the quick profile fill the rest', () => {
    const t = minimal();
    t.profile = 'quick';
    t.guest = { shutdownSec: 5 };
    t.heartbeatDelaySec = 2;
    const ep = first(t.endpoints);
    first(ep.datastores).writeMBps = 50;
    first(ep.hosts).linkGbps = 1;
    first(ep.vms).tools = 'none';
    first(ep.vms).ignoreShutdown = true;
    const spec = endpointSpec(t, ep, '/lab', runtime);
    expect(spec.guest).toEqual({ shutdownSec: 5, bootSec: 2, resumeSec: 2 });
    expect(spec.vms[0]).toMatchObject({ tools: 'none', ignoreShutdown: true });
    const p = effectiveProfile(spec);
    expect(p).toMatchObject({ profile: 'quick', suspendScale: 1024, bootSec: 2, shutdownSec: 5 });
    expect(p.datastores[0]).toMatchObject({ readMBps: 0, writeMBps: 50 });
    expect(p.hosts[0]).toEqual({ name: 'h1', linkGbps: 1, maxFolderStreams: 8 });
  });

  it('refuses an unknown profile, naming the field', () => {
    const t: Record<string, unknown> = { ...minimal(), profile: 'fast' };
    expect(problemsOf(t)).toContain('profile: must be one of realistic, quick (got "fast")');
  });

  it('resolves users: a role and extra privileges per permission, propagating by default, a password each', () => {
    const t = minimal();
    t.roles = { 'quickmig-qm-target': ['Datastore.Browse', 'VirtualMachine.Inventory.Register'] };
    first(t.endpoints).users = [
      {
        name: 'qm',
        permissions: [
          { entity: '/', role: 'quickmig-qm-target', privileges: ['Datastore.FileManagement'] },
          { entity: '/ha-datacenter/vm', privileges: ['VirtualMachine.Interact.PowerOn'], propagate: false },
        ],
      },
    ];
    const spec = endpointSpec(validateTopology(t), first(t.endpoints), '/lab', {
      ...runtime,
      userPassword: (u) => `secret-of-${u}`,
    });
    expect(spec.users).toEqual([
      {
        name: 'qm',
        password: 'secret-of-qm',
        permissions: [
          {
            entity: '/',
            role: 'quickmig-qm-target',
            privileges: ['Datastore.Browse', 'VirtualMachine.Inventory.Register', 'Datastore.FileManagement'],
            propagate: true,
          },
          { entity: '/ha-datacenter/vm', privileges: ['VirtualMachine.Interact.PowerOn'], propagate: false },
        ],
      },
    ]);
  });

  it("refuses a user with an unknown role, the administrator's name or no privileges, naming the field", () => {
    const t = minimal();
    first(t.endpoints).users = [
      { name: 'root', permissions: [{ entity: '/', role: 'nosuch' }] },
      { name: 'u', permissions: [{ entity: '/' }] },
    ];
    const problems = problemsOf(t);
    expect(problems).toContain("endpoints.0 (esx-a).users.0.name: 'root' is the administrator's name");
    expect(problems).toContain("endpoints.0 (esx-a).users.0.permissions.0.role: no role 'nosuch' in roles");
    expect(problems).toContain('endpoints.0 (esx-a).users.1.permissions.0: give a role or privileges');
    first(t.endpoints).users = [{ name: 'u', permissions: [{ entity: 'DC1/vm', privileges: ['Bad'] }] }];
    expect(problemsOf(t)).toContain(
      'endpoints[0].users[0].permissions[0].entity: must match ^/ (got "DC1/vm")',
    );
  });
});
