/**
 * Users of a lab endpoint besides the administrator, and the permissions they hold (lab/vcsim enforces
 * them: a call whose privilege the session's user lacks on the object fails with NoPermission).
 */

/** A permission in the topology: a role and/or privileges granted on an entity by inventory path. */
export interface TopologyPermission {
  /** Inventory path: `/` (root folder), `/DC1/vm`, `/ha-datacenter/datastore/datastore1`, `/DC1/vm/web01`. */
  entity: string;
  /** A name from the topology's `roles`. */
  role?: string;
  /** Privileges granted besides the role's. */
  privileges?: string[];
  /** Applies to the entity's descendants too; default true. */
  propagate?: boolean;
}

/** A user of an endpoint. */
export interface TopologyUser {
  name: string;
  /** Default: generated at `lab up`. */
  password?: string;
  permissions: TopologyPermission[];
}

/** What the launcher reads for a user: every permission with its privilege list resolved. */
export interface SpecUser {
  name: string;
  password: string;
  permissions: { entity: string; role?: string; privileges: string[]; propagate: boolean }[];
}

/** Problems of the users of an endpoint: duplicates, unknown roles, the administrator's name taken. */
export function checkUsers(
  at: string,
  users: TopologyUser[],
  roles: Record<string, string[]>,
  admin: string,
): string[] {
  const problems: string[] = [];
  users.forEach((u, j) => {
    if (u.name === admin) problems.push(`${at}.users.${j}.name: '${u.name}' is the administrator's name`);
    if (users.findIndex((o) => o.name === u.name) !== j)
      problems.push(`${at}.users.${j}.name: '${u.name}' twice`);
    u.permissions.forEach((p, k) => {
      if (p.role !== undefined && !roles[p.role])
        problems.push(
          `${at}.users.${j}.permissions.${k}.role: no role '${p.role}' in roles (known: ${Object.keys(roles).join(', ') || 'none'})`,
        );
      if (p.role === undefined && (p.privileges ?? []).length === 0)
        problems.push(`${at}.users.${j}.permissions.${k}: give a role or privileges`);
    });
  });
  return problems;
}

/** The users as the launcher reads them; `password` gives each user's password (generated when unset). */
export function specUsers(
  users: TopologyUser[],
  roles: Record<string, string[]>,
  password: (user: string) => string,
): SpecUser[] {
  return users.map((u) => ({
    name: u.name,
    password: u.password ?? password(u.name),
    permissions: u.permissions.map((p) => ({
      entity: p.entity,
      ...(p.role !== undefined ? { role: p.role } : {}),
      privileges: [
        ...new Set([...(p.role !== undefined ? (roles[p.role] ?? []) : []), ...(p.privileges ?? [])]),
      ],
      propagate: p.propagate ?? true,
    })),
  }));
}
