/**
 * Preflight's privilege check: asks each endpoint which privileges of the migration's roles the
 * account holds on the objects it will touch (HasPrivilegeOnEntities, a read), and turns what is
 * missing into findings (src/planner/privileges.ts) before anything changes.
 */
import type { Finding } from '../planner/model';
import type { MigrationObjects, PrivilegeNeed, PrivilegeScope } from '../planner/privileges';
import { privilegeFindings, privilegeNeeds } from '../planner/privileges';
import type { MoRef, VSphereClient } from '../vsphere';

/** An object with the label findings show: kind, name and moref. */
export function labelled(kind: string, name: string, ref: MoRef): { ref: MoRef; label: string } {
  return { ref, label: `${kind} ${name} (${ref.value})` };
}

/** The privileges one endpoint's account holds among `needs`, as `side privilege moref` keys. */
async function grantsOf(client: VSphereClient, needs: readonly PrivilegeNeed[]): Promise<Set<string>> {
  const entities = [...new Map(needs.map((n) => [n.object.ref.value, n.object.ref as MoRef])).values()];
  const privileges = [...new Set(needs.map((n) => n.privilege))];
  const answer = await client.authorization.hasPrivileges(entities, privileges);
  const out = new Set<string>();
  for (const n of needs)
    if (answer.get(n.object.ref.value)?.get(n.privilege) === true)
      out.add(`${n.privilege} ${n.object.ref.value}`);
  return out;
}

/**
 * Findings for what the account lacks on each side: `missing-privilege` errors naming the privileges
 * and the object; a `privileges-not-checked` warning when an endpoint cannot answer.
 */
export async function checkPrivileges(
  clients: { source: VSphereClient; target: VSphereClient },
  endpoints: { source: string; target: string },
  scope: PrivilegeScope,
  objects: { source: MigrationObjects; target: MigrationObjects },
): Promise<Finding[]> {
  const needs = privilegeNeeds(scope, objects);
  const findings: Finding[] = [];
  const granted = new Map<'source' | 'target', Set<string>>();
  for (const side of ['source', 'target'] as const) {
    const mine = needs.filter((n) => n.side === side);
    if (mine.length === 0) continue;
    try {
      granted.set(side, await grantsOf(clients[side], mine));
    } catch (error) {
      findings.push({
        severity: 'warning',
        code: 'privileges-not-checked',
        field: side,
        message: `the privileges of endpoint ${endpoints[side]}'s account could not be checked (${(error as Error).message}); a missing one will fail the step that needs it (docs/privileges.md)`,
      });
      granted.set(side, new Set(mine.map((n) => `${n.privilege} ${n.object.ref.value}`)));
    }
  }
  return [
    ...findings,
    ...privilegeFindings(
      needs,
      (n) => granted.get(n.side)?.has(`${n.privilege} ${n.object.ref.value}`) ?? false,
      endpoints,
    ),
  ];
}
