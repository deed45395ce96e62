import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MigrationObjects, PrivilegeScope } from '../../src/planner/privileges';
import {
  noObjects,
  privilegeFindings,
  privilegeNeeds,
  ROLES,
  rolePrivileges,
  rolesFor,
} from '../../src/planner/privileges';

/** The roles docs/privileges.md defines with `govc role.create NAME PRIVILEGE...` (continuations joined). */
function documentedRoles(): Map<string, string[]> {
  const page = readFileSync(join(__dirname, '..', '..', 'docs', 'privileges.md'), 'utf8');
  const block = /## Roles[\s\S]*?```sh\n([\s\S]*?)```/.exec(page)?.[1] ?? '';
  const joined = block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').replace(/^\s*#.*$/, ''))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const roles = new Map<string, string[]>();
  for (const line of joined.split('\n')) {
    const m = /govc role\.create\s+(\S+)\s+(.*)$/.exec(line.trim());
    if (m) roles.set(m[1] as string, (m[2] as string).split(/\s+/).filter(Boolean));
  }
  return roles;
}

const ref = (value: string) => ({ type: 'X', value });
function objects(): { source: MigrationObjects; target: MigrationObjects } {
  const source = noObjects();
  const target = noObjects();
  source.vm.push({ ref: ref('vm-1'), label: 'VM app01 (vm-1)' });
  source.vmFolder.push({ ref: ref('group-v1'), label: 'folder vm (group-v1)' });
  source.sourceDatastores.push({ ref: ref('ds-1'), label: 'datastore datastore1 (ds-1)' });
  source.irHosts.push({ ref: ref('host-1'), label: 'host esx-a.lab (host-1)' });
  target.targetFolder.push({ ref: ref('group-v2'), label: 'folder vm (group-v2)' });
  target.targetPool.push({ ref: ref('pool-2'), label: 'resource pool Resources (pool-2)' });
  target.targetDatastores.push({ ref: ref('ds-2'), label: 'datastore datastore1 (ds-2)' });
  return { source, target };
}

const quick: PrivilegeScope = {
  method: 'quick-migration',
  sourceDelete: false,
  finalizeInstantRecovery: false,
  upgradeHardware: false,
};

describe('privilege table', () => {
  it('docs/privileges.md defines exactly the roles of src/planner/privileges.ts', () => {
    const documented = documentedRoles();
    expect([...documented.keys()].sort()).toEqual(Object.keys(ROLES).sort());
    for (const [role, privileges] of documented)
      expect([...privileges].sort()).toEqual(rolePrivileges(role).sort());
  });

  it('every privilege of the "Privileges by call" table is in a role, and every role privilege in the table', () => {
    const page = readFileSync(join(__dirname, '..', '..', 'docs', 'privileges.md'), 'utf8');
    const table = /## Privileges by call([\s\S]*?)\n## /.exec(page)?.[1] ?? '';
    const inTable = new Set(
      [...table.matchAll(/`([A-Z][A-Za-z]+(?:\.[A-Za-z]+)+)`/g)]
        .map((m) => m[1] as string)
        .filter((p) => !p.includes('_')),
    );
    const inRoles = new Set(Object.keys(ROLES).flatMap(rolePrivileges));
    for (const p of inRoles) expect(inTable, `${p} in the table`).toContain(p);
    for (const p of inTable)
      if (
        !p.startsWith('VirtualDiskManager') &&
        !p.startsWith('FileManager') &&
        !p.startsWith('HostDatastoreSystem')
      )
        expect(inRoles, `${p} in a role`).toContain(p);
  });

  it('a Quick Migration asks for the source and target roles, options add theirs', () => {
    expect(rolesFor(quick)).toEqual({ source: ['quickmig-qm-source'], target: ['quickmig-qm-target'] });
    expect(
      rolesFor({ ...quick, sourceDelete: true, finalizeInstantRecovery: true, upgradeHardware: true }),
    ).toEqual({
      source: ['quickmig-qm-source', 'quickmig-delete-source', 'quickmig-ir-finalize'],
      target: ['quickmig-qm-target', 'quickmig-upgrade-hw'],
    });
    expect(rolesFor({ ...quick, method: 'vmotion' })).toEqual({ source: ['quickmig-vmotion'], target: [] });
    // A test snapshots its test VM; on a network it moves the test VM's adapters onto it.
    expect(rolesFor({ ...quick, test: true }).target).toEqual(['quickmig-qm-target', 'quickmig-test']);
    expect(rolesFor({ ...quick, test: true, testNetwork: true }).target).toEqual([
      'quickmig-qm-target',
      'quickmig-test',
      'quickmig-test-network',
    ]);
  });

  it('a test on a network asks for Network.Assign on that network and EditDevice where the test VM lands', () => {
    const objs = objects();
    objs.target.targetNetwork.push({
      ref: { type: 'Network', value: 'network-7' },
      label: "network 'test-isolated' (network-7)",
    });
    const needs = privilegeNeeds({ ...quick, test: true, testNetwork: true }, objs);
    const on = (p: string) =>
      needs.filter((n) => n.privilege === p && n.side === 'target').map((n) => n.object.ref.value);
    expect(on('Network.Assign')).toEqual(['network-7']);
    expect(on('VirtualMachine.Config.EditDevice')).toEqual(['group-v2']);
    expect(on('VirtualMachine.State.CreateSnapshot')).toEqual(['group-v2']);
  });

  it('each privilege is asked for on the object vSphere checks it on', () => {
    const needs = privilegeNeeds(quick, objects());
    const on = (p: string, side: 'source' | 'target') =>
      needs.filter((n) => n.privilege === p && n.side === side).map((n) => n.object.ref.value);
    expect(on('VirtualMachine.Interact.Suspend', 'source')).toEqual(['vm-1']);
    expect(on('VirtualMachine.Inventory.Unregister', 'source')).toEqual(['vm-1', 'group-v1']);
    expect(on('Datastore.Browse', 'source')).toEqual(['ds-1']);
    expect(on('VirtualMachine.Inventory.Register', 'target')).toEqual(['group-v2']);
    expect(on('Resource.AssignVMToPool', 'target')).toEqual(['pool-2']);
    expect(on('Datastore.FileManagement', 'target')).toEqual(['ds-2']);
    expect(on('Host.Config.Storage', 'source')).toEqual([]);
  });

  it('removing any one privilege names exactly it and its object', () => {
    const needs = privilegeNeeds(quick, objects());
    for (const missing of needs) {
      const findings = privilegeFindings(needs, (n) => n !== missing, { source: 'esx-a', target: 'esx-b' });
      expect(findings).toHaveLength(1);
      expect(findings[0]?.code).toBe('missing-privilege');
      expect(findings[0]?.field).toBe(missing.side);
      expect(findings[0]?.message).toContain(`lacks ${missing.privilege} on ${missing.object.label}`);
    }
    expect(privilegeFindings(needs, () => true, { source: 'esx-a', target: 'esx-b' })).toEqual([]);
  });
});
