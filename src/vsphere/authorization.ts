/** The session's own privileges on entities (AuthorizationManager.HasPrivilegeOnEntities). */
import type { Raw } from './convert';
import { bool, list, obj, ref, str, toSoapRef } from './convert';
import { ProtocolError } from './errors';
import type { Session } from './session';
import type { MoRef } from './types';

/** Per entity (by moref value), per privilege id: whether this session holds it. */
export type PrivilegeGrants = Map<string, Map<string, boolean>>;

export class Authorization {
  readonly #session: Session;

  constructor(session: Session) {
    this.#session = session;
  }

  /** The inventory root (the root folder), where an administrator usually grants roles. */
  get rootFolder(): MoRef {
    return this.#session.refs.rootFolder;
  }

  /**
   * Which of `privileges` this session holds on each entity (HasPrivilegeOnEntities with the session's
   * own key; needs only System.View on the entities, which every role holds). Entities the answer omits
   * hold nothing.
   */
  async hasPrivileges(entities: readonly MoRef[], privileges: readonly string[]): Promise<PrivilegeGrants> {
    const out: PrivilegeGrants = new Map();
    if (entities.length === 0 || privileges.length === 0) return out;
    const manager = this.#session.refs.authorizationManager;
    const context = { endpoint: this.#session.endpoint, method: 'HasPrivilegeOnEntities' };
    if (!manager) throw new ProtocolError(context, 'the service content has no authorizationManager');
    // The key is read at call time: after a re-login (session expired) it is the new session's.
    const result: Raw = await this.#session.call('HasPrivilegeOnEntities', manager, {
      entity: entities.map(toSoapRef),
      sessionId: this.#session.sessionKey ?? '',
      privId: [...privileges],
    });
    for (const item of list(result)) {
      const e = obj(item);
      const entity = ref(e?.entity);
      if (!entity) continue;
      const grants = new Map<string, boolean>();
      for (const a of list(e?.privAvailability)) {
        const id = str(obj(a)?.privId);
        if (id) grants.set(id, bool(obj(a)?.isGranted) ?? false);
      }
      out.set(entity.value, grants);
    }
    return out;
  }
}
