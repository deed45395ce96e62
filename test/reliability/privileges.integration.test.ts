/**
 * Least privilege: every kind of migration runs as lab users holding exactly the roles of
 * docs/privileges.md (src/planner/privileges.ts), granted on the objects the page names, and the lab
 * refuses any call whose privilege the user lacks (NoPermission), as vCenter and ESXi do. Then, for
 * every privilege of those roles, a user holding the role without it makes preflight name exactly that
 * privilege and its object, with no mutating call on any endpoint.
 *
 * One worker serves every user: its configuration names each user as an endpoint of its own (the same
 * URL and thumbprint, another login), e.g. `a-qm` is esx-a as the user holding quickmig-qm-source.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEndpoint } from '../../src/activities/endpoints';
import { Secret } from '../../src/config/secret';
import type { LabInfo } from '../../src/lab/lab';
import type { Topology } from '../../src/lab/topology';
import { DEFAULT_TOPOLOGY } from '../../src/lab/topology';
import type { TopologyPermission, TopologyUser } from '../../src/lab/topology-users';
import { ROLES, rolePrivileges } from '../../src/planner/privileges';
import type { MigrationRequestInput } from '../../src/request/request';
import type { MoRef } from '../../src/vsphere';
import { PermissionDeniedError, VSphereClient } from '../../src/vsphere';
import { endpoint, startPrivateLab } from '../support/lab';
import type { Clients, Estate, WorkerProcess } from './support';
import { checkCompleted, Matrix, quietAfterSnapshot, smallVm, tearDownRig, workerRig } from './support';

type Endpoint = Topology['endpoints'][number];

/** Where each role is granted (docs/privileges.md "Roles"), by lab endpoint. */
const GRANTS: Record<string, { endpoint: string; entities: string[] }> = {
  'quickmig-vmotion': {
    endpoint: 'vcenter',
    entities: [
      '/DC1/vm',
      '/DC1/host/Prod/Resources',
      '/DC1/datastore/shared-ds',
      '/DC1/datastore/local-esx02',
    ],
  },
  'quickmig-qm-source': {
    endpoint: 'esx-a',
    entities: ['/ha-datacenter/vm', '/ha-datacenter/datastore/datastore1', '/ha-datacenter/datastore/IR-NFS'],
  },
  'quickmig-delete-source': {
    endpoint: 'esx-a',
    entities: ['/ha-datacenter/vm', '/ha-datacenter/datastore/datastore1'],
  },
  'quickmig-ir-finalize': { endpoint: 'esx-a', entities: ['/ha-datacenter/host'] },
  'quickmig-qm-target': {
    endpoint: 'esx-b',
    entities: ['/ha-datacenter/vm', '/ha-datacenter/host', '/ha-datacenter/datastore/datastore1'],
  },
  'quickmig-test': { endpoint: 'esx-b', entities: ['/ha-datacenter/vm'] },
  'quickmig-test-network': {
    endpoint: 'esx-b',
    entities: ['/ha-datacenter/vm', '/ha-datacenter/network/test-isolated'],
  },
};

/** A user holding `roles`, each granted where GRANTS says, optionally without one privilege. */
function user(name: string, roles: string[], without?: string): TopologyUser {
  const permissions: TopologyPermission[] = [];
  // A one-privilege role without its privilege grants nothing.
  for (const role of roles)
    for (const entity of GRANTS[role]?.entities ?? [])
      if (rolePrivileges(role).some((p) => p !== without))
        permissions.push({
          entity,
          privileges: rolePrivileges(role).filter((p) => p !== without),
          propagate: true,
        });
  return { name, permissions };
}

/** The endpoint aliases the worker gets: alias -> lab endpoint and user. */
const ALIASES: Record<string, { endpoint: string; user: TopologyUser }> = {
  'vc-vm': { endpoint: 'vcenter', user: user('vmotion', ['quickmig-vmotion']) },
  'a-qm': { endpoint: 'esx-a', user: user('qm', ['quickmig-qm-source']) },
  'a-del': { endpoint: 'esx-a', user: user('qm-del', ['quickmig-qm-source', 'quickmig-delete-source']) },
  'a-ir': { endpoint: 'esx-a', user: user('qm-ir', ['quickmig-qm-source', 'quickmig-ir-finalize']) },
  'b-qm': { endpoint: 'esx-b', user: user('qm', ['quickmig-qm-target']) },
  'b-test': {
    endpoint: 'esx-b',
    user: user('qm-test', ['quickmig-qm-target', 'quickmig-test', 'quickmig-test-network']),
  },
};

/** The single-privilege removals: per role, the aliases of users lacking one privilege each. */
interface Removal {
  role: string;
  privilege: string;
  /** The request, with aliases for the side whose user lacks the privilege. */
  request: MigrationRequestInput;
}
const REMOVALS: Removal[] = [];
const smartswitch = (src: string, dst: string): MigrationRequestInput => ({
  source: { endpoint: src, name: 'pm-ss' },
  target: { endpoint: dst, datastore: 'datastore1' },
  options: { mode: 'smartswitch' },
});
const CASES: Record<
  string,
  { roles: string[]; side: 'source' | 'target'; request: (alias: string) => MigrationRequestInput }
> = {
  'quickmig-vmotion': {
    roles: ['quickmig-vmotion'],
    side: 'source',
    request: (a) => ({
      source: { endpoint: a, name: 'db01' },
      target: { endpoint: a, host: 'esx01.lab', datastore: 'shared-ds' },
      options: { method: 'vmotion' },
    }),
  },
  'quickmig-qm-source': {
    roles: ['quickmig-qm-source'],
    side: 'source',
    request: (a) => smartswitch(a, 'b-qm'),
  },
  'quickmig-qm-target': {
    roles: ['quickmig-qm-target'],
    side: 'target',
    request: (a) => smartswitch('a-qm', a),
  },
  'quickmig-delete-source': {
    roles: ['quickmig-qm-source', 'quickmig-delete-source'],
    side: 'source',
    request: (a) => ({
      ...smartswitch(a, 'b-qm'),
      source: { endpoint: a, name: 'pm-del' },
      options: { source: 'delete' },
    }),
  },
  'quickmig-test': {
    roles: ['quickmig-qm-target', 'quickmig-test'],
    side: 'target',
    request: (a) => ({
      source: { endpoint: 'a-qm', name: 'pm-test' },
      target: { endpoint: a, datastore: 'datastore1' },
      options: { test: true },
    }),
  },
  'quickmig-test-network': {
    roles: ['quickmig-qm-target', 'quickmig-test', 'quickmig-test-network'],
    side: 'target',
    request: (a) => ({
      source: { endpoint: 'a-qm', name: 'pm-test' },
      target: { endpoint: a, datastore: 'datastore1' },
      options: { test: { network: 'test-isolated' } },
    }),
  },
  'quickmig-ir-finalize': {
    roles: ['quickmig-qm-source', 'quickmig-ir-finalize'],
    side: 'source',
    request: (a) => ({
      source: { endpoint: a, name: 'pm-ir' },
      target: { endpoint: 'b-qm', datastore: 'datastore1' },
      options: { finalizeInstantRecovery: true },
    }),
  },
};
for (const [role, c] of Object.entries(CASES)) {
  rolePrivileges(role).forEach((privilege, i) => {
    const alias = `minus-${role.replace('quickmig-', '')}-${i}`;
    const lab = GRANTS[role]?.endpoint as string;
    ALIASES[alias] = { endpoint: lab, user: user(alias, c.roles, privilege) };
    REMOVALS.push({ role, privilege, request: c.request(alias) });
  });
}

function topology(): string {
  const t = JSON.parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Topology;
  t.profile = 'quick';
  t.roles = Object.fromEntries(Object.keys(ROLES).map((r) => [r, rolePrivileges(r)]));
  const ep = (name: string) => t.endpoints.find((e) => e.name === name) as Endpoint;
  // Tiny VMs; the default ones that are not used go, so that the lab starts fast.
  ep('esx-a').vms = [
    smallVm('pm-ss', { memoryMiB: 64 }),
    smallVm('pm-cold', { memoryMiB: 64 }),
    smallVm('pm-del', { memoryMiB: 64 }),
    smallVm('pm-ir', { memoryMiB: 64, datastore: 'IR-NFS', disks: [{ sizeMiB: 8 }] }),
    smallVm('pm-test', { memoryMiB: 64 }),
  ];
  ep('vcenter').vms = (ep('vcenter').vms ?? []).filter((v) => v.name !== 'ir-vc01');
  ep('esx-b').vms = [];
  for (const { endpoint: name, user: u } of Object.values(ALIASES)) {
    const e = ep(name);
    if (!(e.users ?? []).some((x) => x.name === u.name)) e.users = [...(e.users ?? []), u];
  }
  const file = join(mkdtempSync(join(tmpdir(), 'quickmig-privileges-')), 'topology.json');
  writeFileSync(file, JSON.stringify(t));
  return file;
}

let lab: LabInfo;
let worker: WorkerProcess;
let clients: Clients;
let estate: Estate;
const matrix = new Matrix('privileges');

beforeAll(async () => {
  lab = await startPrivateLab('reliability-privileges', topology());
  const endpoints: Record<string, unknown> = {};
  for (const [alias, { endpoint: name, user: u }] of Object.entries(ALIASES)) {
    const ep = endpoint(lab, name);
    const passwordFile = ep.users?.find((x) => x.name === u.name)?.passwordFile;
    if (!passwordFile) throw new Error(`lab endpoint ${name} has no user ${u.name}`);
    endpoints[alias] = { url: ep.url, username: u.name, passwordFile, tls: { thumbprint: ep.thumbprint } };
  }
  ({ worker, clients, estate } = await workerRig(lab, { endpoints }));
}, 240_000);

afterAll(async () => {
  matrix.write();
  await tearDownRig({ lab, worker, clients, estate });
});

describe('removing one privilege of a role: preflight names exactly it and its object, changing nothing', () => {
  it.each(REMOVALS.map((r) => ({ ...r, name: `${r.role} without ${r.privilege}` })))('$name', async (r) => {
    await matrix.run(
      r.name,
      async () => {
        const marks = await estate.marks();
        const plan = await clients.quickmig.plan(r.request);
        const missing = plan.findings.filter((f) => f.code === 'missing-privilege');
        expect(plan.blocked).toBe(true);
        expect(missing.length, JSON.stringify(plan.findings)).toBeGreaterThan(0);
        for (const f of missing) {
          // "lacks <privileges> on <kind> <name> (<moref>)": exactly the removed privilege, and an object.
          const named = /lacks (.+?) on (.+?) \(([^)]+)\);/.exec(f.message);
          expect(named?.[1], f.message).toBe(r.privilege);
          expect(named?.[3], f.message).toMatch(/^[a-z]+-?[\w-]*$/i);
        }
        const others = plan.findings.filter((f) => f.severity === 'error' && f.code !== 'missing-privilege');
        expect(others, 'no other blocking finding').toEqual([]);
        const calls = await estate.calls(marks);
        for (const [ep, list] of Object.entries(calls)) expect(list, `mutating calls on ${ep}`).toEqual([]);
        return missing.map((f) => f.message).join(' | ');
      },
      (detail) => detail,
    );
  });
});

describe('the lab refuses a call the user lacks the privilege for', () => {
  it('SuspendVM_Task without VirtualMachine.Interact.Suspend: NoPermission naming it and the VM; the VM runs on', async () => {
    await matrix.run('lab: NoPermission on a refused call', async () => {
      const alias = `minus-qm-source-${rolePrivileges('quickmig-qm-source').indexOf('VirtualMachine.Interact.Suspend')}`;
      const a = ALIASES[alias] as { endpoint: string; user: TopologyUser };
      const ep = endpoint(lab, a.endpoint);
      const file = ep.users?.find((u) => u.name === a.user.name)?.passwordFile as string;
      const client = await VSphereClient.connect({
        url: ep.url,
        username: a.user.name,
        password: readFileSync(file, 'utf8').trim(),
        tls: { thumbprint: ep.thumbprint },
      });
      try {
        const vm = (await estate.vm('esx-a', 'pm-ss'))?.ref as MoRef;
        const error = await client.vms.suspend(vm).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(PermissionDeniedError);
        expect((error as PermissionDeniedError).privilegeId).toBe('VirtualMachine.Interact.Suspend');
        expect((error as Error).message).toContain(`on VirtualMachine:${vm.value}`);
        expect((await estate.vm('esx-a', 'pm-ss'))?.powerState).toBe('poweredOn');
      } finally {
        await client.close();
      }
    });
  });
});

describe('every kind of migration runs as users holding exactly the documented roles', () => {
  async function migrate(name: string, request: MigrationRequestInput) {
    const id = `priv-${name}-${Date.now()}`;
    await clients.quickmig.start(request, { id });
    return clients.quickmig.result(id);
  }

  it('vMotion (quickmig-vmotion)', async () => {
    await matrix.run('vMotion as quickmig-vmotion', async () => {
      const result = await migrate('vmotion', {
        source: { endpoint: 'vc-vm', name: 'web01' },
        target: { endpoint: 'vc-vm', host: 'esx02.lab', datastore: 'shared-ds' },
        options: { method: 'vmotion' },
      });
      expect(result.target.powerState).toBe('poweredOn');
      const vm = await estate.vm('vcenter', 'web01');
      const host = vm?.host ? await (await estate.client('vcenter')).facts.host(vm.host) : undefined;
      expect(host?.name).toBe('esx02.lab');
    });
  }, 300_000);

  it('Storage vMotion (quickmig-vmotion)', async () => {
    await matrix.run('Storage vMotion as quickmig-vmotion', async () => {
      await migrate('svmotion', {
        source: { endpoint: 'vc-vm', name: 'web01' },
        target: { endpoint: 'vc-vm', host: 'esx02.lab', datastore: 'local-esx02' },
        options: { method: 'vmotion' },
      });
      const vm = await estate.vm('vcenter', 'web01');
      expect(vm?.vmxPath).toMatch(/^\[local-esx02\]/);
      expect(vm?.powerState).toBe('poweredOn');
    });
  }, 300_000);

  it('Quick Migration SmartSwitch (quickmig-qm-source, quickmig-qm-target)', async () => {
    await matrix.run('SmartSwitch as qm-source/qm-target', async () => {
      const quiet = quietAfterSnapshot(estate, 'pm-ss');
      const result = await migrate('ss', {
        source: { endpoint: 'a-qm', name: 'pm-ss' },
        target: { endpoint: 'b-qm', datastore: 'datastore1' },
        options: { mode: 'smartswitch' },
      });
      await quiet;
      expect(result.mode).toBe('smartswitch');
      expect(await checkCompleted(estate, 'pm-ss', result)).toEqual([]);
    });
  }, 300_000);

  it('Quick Migration Cold (quickmig-qm-source, quickmig-qm-target)', async () => {
    await matrix.run('Cold as qm-source/qm-target', async () => {
      const quiet = quietAfterSnapshot(estate, 'pm-cold');
      const result = await migrate('cold', {
        source: { endpoint: 'a-qm', name: 'pm-cold' },
        target: { endpoint: 'b-qm', datastore: 'datastore1' },
        options: { mode: 'cold' },
      });
      await quiet;
      expect(result.mode).toBe('cold');
      expect(await checkCompleted(estate, 'pm-cold', result)).toEqual([]);
    });
  }, 300_000);

  it('source: delete (quickmig-qm-source, quickmig-delete-source)', async () => {
    await matrix.run('source: delete as qm-source+delete-source', async () => {
      const result = await migrate('del', {
        source: { endpoint: 'a-del', name: 'pm-del' },
        target: { endpoint: 'b-qm', datastore: 'datastore1' },
        options: { source: 'delete' },
      });
      expect(result.target.powerState).toBe('poweredOn');
      expect(await estate.vms('esx-a', 'pm-del')).toEqual([]);
      expect((await estate.vm('esx-b', 'pm-del'))?.powerState).toBe('poweredOn');
    });
  }, 300_000);

  it('test migration on a network (quickmig-qm-source; quickmig-qm-target, -test, -test-network)', async () => {
    await matrix.run('test on a network as qm-source/qm-target+test+test-network', async () => {
      const result = await migrate('test', {
        source: { endpoint: 'a-qm', name: 'pm-test' },
        target: { endpoint: 'b-test', datastore: 'datastore1' },
        options: { test: { network: 'test-isolated' } },
      });
      expect(result.test).toMatchObject({ isolated: 'test-network', network: { name: 'test-isolated' } });
      expect(result.test?.heartbeatAt).not.toBeNull();
      expect((await estate.vm('esx-a', 'pm-test'))?.powerState).toBe('poweredOn');
      expect(await estate.vms('esx-b', 'pm-test-test')).toEqual([]);
    });
  }, 300_000);

  it('Instant Recovery finalize (quickmig-qm-source, quickmig-ir-finalize)', async () => {
    await matrix.run('IR finalize as qm-source+ir-finalize', async () => {
      const result = await migrate('ir', {
        source: { endpoint: 'a-ir', name: 'pm-ir' },
        target: { endpoint: 'b-qm', datastore: 'datastore1' },
        options: { finalizeInstantRecovery: true },
      });
      expect(result.target.powerState).toBe('poweredOn');
      const a = await estate.client('esx-a');
      const names = (await a.inventory.listDatastores()).map((d) => d.name);
      expect(names, 'IR-NFS unmounted from esx-a').not.toContain('IR-NFS');
    });
  }, 300_000);
});

describe('quickmig endpoints: missingPrivileges', () => {
  async function missingOf(alias: string): Promise<string[] | null> {
    const a = ALIASES[alias] as { endpoint: string; user: TopologyUser };
    const ep = endpoint(lab, a.endpoint);
    const file = ep.users?.find((u) => u.name === a.user.name)?.passwordFile as string;
    const state = await checkEndpoint({
      name: alias,
      url: ep.url,
      username: a.user.name,
      password: new Secret(readFileSync(file, 'utf8').trim()),
      tls: { thumbprint: ep.thumbprint },
    });
    return state.missingPrivileges;
  }

  it('lists the role privileges held on no object, and only those', async () => {
    await matrix.run('endpoints: missingPrivileges', async () => {
      // esx-b's user holds the target role: of the source role, what the target role lacks is missing.
      const target = new Set(rolePrivileges('quickmig-qm-target'));
      expect(new Set(await missingOf('b-qm'))).toEqual(
        new Set(rolePrivileges('quickmig-qm-source').filter((p) => !target.has(p))),
      );
      // A user without one source privilege: that one is named too.
      const removed = rolePrivileges('quickmig-qm-source')[0] as string;
      expect(await missingOf('minus-qm-source-0')).toContain(removed);
      expect(await missingOf('a-qm')).not.toContain(removed);
    });
  }, 60_000);
});
