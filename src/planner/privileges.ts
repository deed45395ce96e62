/**
 * The vSphere privileges quickmig needs, declared once: the roles of docs/privileges.md (a test keeps
 * the page and this table equal) and, per role, the object each privilege is checked on. Preflight asks
 * the endpoint which of them the account holds (HasPrivilegeOnEntities) and refuses, naming the missing
 * privilege and the object, before any change. Pure: the workflow bundle includes the planner.
 */
import type { Finding, MigrationPlan } from './model';

/** The objects a migration touches, as preflight resolved them. */
export type PrivilegeObject =
  | 'vm'
  | 'vmFolder'
  | 'sourceDatastores'
  | 'irHosts'
  | 'targetFolder'
  | 'targetPool'
  | 'targetDatastores'
  | 'targetNetwork';

/** Roles by name: each privilege with the objects it is checked on (docs/privileges.md "Roles"). */
export const ROLES: Readonly<Record<string, Readonly<Record<string, readonly PrivilegeObject[]>>>> = {
  'quickmig-vmotion': {
    'Resource.ColdMigrate': ['vm'],
    'Resource.HotMigrate': ['vm'],
    'Resource.AssignVMToPool': ['targetPool'],
    'Datastore.AllocateSpace': ['targetDatastores'],
    'VirtualMachine.Inventory.Move': ['vm', 'targetFolder'],
  },
  'quickmig-qm-source': {
    'VirtualMachine.Config.ChangeTracking': ['vm'],
    'VirtualMachine.Config.Rename': ['vm'],
    'VirtualMachine.State.CreateSnapshot': ['vm'],
    'VirtualMachine.State.RemoveSnapshot': ['vm'],
    'VirtualMachine.Provisioning.DiskRandomRead': ['vm'],
    'VirtualMachine.Interact.Suspend': ['vm'],
    'VirtualMachine.Interact.PowerOff': ['vm'],
    'VirtualMachine.Interact.PowerOn': ['vm'],
    'VirtualMachine.Inventory.Unregister': ['vm', 'vmFolder'],
    'Datastore.Browse': ['sourceDatastores'],
  },
  // The VM it registers does not exist yet: it inherits the target folder's privileges.
  'quickmig-qm-target': {
    'VirtualMachine.Inventory.Register': ['targetFolder'],
    'VirtualMachine.Inventory.Unregister': ['targetFolder'],
    'VirtualMachine.Inventory.Delete': ['targetFolder'],
    'VirtualMachine.Config.Rename': ['targetFolder'],
    'VirtualMachine.State.RemoveSnapshot': ['targetFolder'],
    'VirtualMachine.Interact.PowerOn': ['targetFolder'],
    'VirtualMachine.Interact.PowerOff': ['targetFolder'],
    'VirtualMachine.Interact.AnswerQuestion': ['targetFolder'],
    'Resource.AssignVMToPool': ['targetPool'],
    'Datastore.Browse': ['targetDatastores'],
    'Datastore.FileManagement': ['targetDatastores'],
    'Datastore.AllocateSpace': ['targetDatastores'],
  },
  'quickmig-ir-finalize': { 'Host.Config.Storage': ['irHosts'] },
  'quickmig-delete-source': {
    'VirtualMachine.Inventory.Delete': ['vm', 'vmFolder'],
    'Datastore.FileManagement': ['sourceDatastores'],
  },
  'quickmig-upgrade-hw': { 'VirtualMachine.Config.UpgradeVirtualHardware': ['targetFolder'] },
  // A test migration snapshots its test VM before the boot, so that the copied disks stay as copied.
  'quickmig-test': { 'VirtualMachine.State.CreateSnapshot': ['targetFolder'] },
  // options.test.network: the test VM's adapters moved onto that port group (Broadcom KB 324539).
  'quickmig-test-network': {
    'VirtualMachine.Config.EditDevice': ['targetFolder'],
    'Network.Assign': ['targetNetwork'],
  },
};

/** The privilege ids of a role, in the table's order. */
export function rolePrivileges(role: string): string[] {
  return Object.keys(ROLES[role] ?? {});
}

/** What a migration is: the method and the options that add roles. */
export interface PrivilegeScope {
  method: MigrationPlan['method'];
  sourceDelete: boolean;
  finalizeInstantRecovery: boolean;
  upgradeHardware: boolean;
  /** A test migration (options.test); absent: a real one. */
  test?: boolean;
  /** A test migration on a network (options.test.network). */
  testNetwork?: boolean;
}

/** The roles a migration needs on each side (the source and target of one vCenter are the same account). */
export function rolesFor(scope: PrivilegeScope): { source: string[]; target: string[] } {
  if (scope.method !== 'quick-migration') return { source: ['quickmig-vmotion'], target: [] };
  const source = ['quickmig-qm-source'];
  if (scope.sourceDelete) source.push('quickmig-delete-source');
  if (scope.finalizeInstantRecovery) source.push('quickmig-ir-finalize');
  const target = ['quickmig-qm-target'];
  if (scope.upgradeHardware) target.push('quickmig-upgrade-hw');
  if (scope.test) target.push('quickmig-test');
  if (scope.test && scope.testNetwork) target.push('quickmig-test-network');
  return { source, target };
}

/** An object with the label a finding shows: its kind, name and moref. */
export interface LabelledObject {
  ref: { type: string; value: string };
  label: string;
}

/** The objects of one migration, by kind (an empty list: that kind is not touched). */
export type MigrationObjects = Record<PrivilegeObject, LabelledObject[]>;

/** One privilege to hold on one object of one endpoint. */
export interface PrivilegeNeed {
  side: 'source' | 'target';
  privilege: string;
  object: LabelledObject;
  roles: string[];
}

/** Every privilege the roles of a migration ask for, on the objects where vSphere checks it; no duplicates. */
export function privilegeNeeds(
  scope: PrivilegeScope,
  objects: { source: MigrationObjects; target: MigrationObjects },
): PrivilegeNeed[] {
  const needs = new Map<string, PrivilegeNeed>();
  const roles = rolesFor(scope);
  for (const side of ['source', 'target'] as const) {
    for (const role of roles[side]) {
      for (const [privilege, kinds] of Object.entries(ROLES[role] ?? {})) {
        for (const kind of kinds) {
          // vMotion runs on one endpoint: its target objects are on the source side's endpoint.
          for (const object of (kind.startsWith('target') ? objects.target : objects.source)[kind]) {
            const key = `${side} ${privilege} ${object.ref.value}`;
            const found = needs.get(key);
            if (found) {
              if (!found.roles.includes(role)) found.roles.push(role);
            } else needs.set(key, { side, privilege, object, roles: [role] });
          }
        }
      }
    }
  }
  return [...needs.values()];
}

/**
 * Findings for the needs the account lacks: one per object, naming every missing privilege, the object
 * and the role to grant. `granted(need)` answers from the endpoint.
 */
export function privilegeFindings(
  needs: readonly PrivilegeNeed[],
  granted: (need: PrivilegeNeed) => boolean,
  endpoints: { source: string; target: string },
): Finding[] {
  const byObject = new Map<string, PrivilegeNeed[]>();
  for (const need of needs) {
    if (granted(need)) continue;
    const key = `${need.side} ${need.object.ref.value}`;
    byObject.set(key, [...(byObject.get(key) ?? []), need]);
  }
  return [...byObject.values()].map((missing) => {
    const first = missing[0] as PrivilegeNeed;
    const privileges = missing.map((n) => n.privilege);
    const roles = [...new Set(missing.flatMap((n) => n.roles))];
    const endpoint = endpoints[first.side];
    return {
      severity: 'error',
      code: 'missing-privilege',
      field: first.side,
      message: `the account of endpoint ${endpoint} lacks ${privileges.join(', ')} on ${first.object.label}; grant ${roles.length > 1 ? 'the roles' : 'the role'} ${roles.join(', ')} (docs/privileges.md) on it or a parent with propagation`,
    } satisfies Finding;
  });
}

/** Empty object lists: fill the kinds a migration touches. */
export function noObjects(): MigrationObjects {
  return {
    vm: [],
    vmFolder: [],
    sourceDatastores: [],
    irHosts: [],
    targetFolder: [],
    targetPool: [],
    targetDatastores: [],
    targetNetwork: [],
  };
}
