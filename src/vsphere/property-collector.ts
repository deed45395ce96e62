/**
 * @internal Reading properties: RetrievePropertiesEx with ContinueRetrievePropertiesEx paging,
 * over explicit objects or over a container view of the whole inventory.
 */
import type { Raw } from './convert';
import { at, faultDetail, list, obj, ref, refLabel, str, toSoapRef, xsiType } from './convert';
import { VSphereError } from './errors';
import type { CallOptions, Session } from './session';
import type { MoRef } from './types';

/** One object's requested properties, keyed by property path. Absent paths were unset on the server. */
export interface ObjectProps {
  readonly ref: MoRef;
  readonly props: ReadonlyMap<string, Raw>;
  /** Paths the server could not read for this object, with the fault type. */
  readonly missing: readonly { readonly path: string; readonly fault: string | undefined }[];
}

/** Reads `paths` of each object in `objects` (all of type `type`) in one request (plus paging). */
export async function retrieveObjects(
  session: Session,
  type: string,
  objects: readonly MoRef[],
  paths: readonly string[],
  options: CallOptions = {},
): Promise<ObjectProps[]> {
  if (objects.length === 0) return [];
  const spec = {
    propSet: [{ type, pathSet: [...paths] }],
    objectSet: objects.map((o) => ({ obj: toSoapRef(o), skip: false })),
  };
  return retrieve(session, spec, {
    ...options,
    object:
      options.object ??
      (objects.length === 1 && objects[0] ? refLabel(objects[0]) : `${objects.length} ${type}s`),
  });
}

/**
 * Reads `paths` of every object of `type` under `root` (default: the root folder), through a
 * container view that is destroyed afterwards.
 */
export async function retrieveAll(
  session: Session,
  type: string,
  paths: readonly string[],
  options: CallOptions & { readonly root?: MoRef | undefined } = {},
): Promise<ObjectProps[]> {
  const viewManager = session.refs.viewManager;
  if (viewManager === undefined) throw new TypeError('endpoint has no ViewManager');
  const root = options.root ?? session.refs.rootFolder;
  const view = ref(
    await session.call(
      'CreateContainerView',
      viewManager,
      { container: toSoapRef(root), type: [type], recursive: true },
      options,
    ),
  );
  if (view === undefined) throw new TypeError('CreateContainerView returned no view');
  try {
    const spec = {
      propSet: [{ type, pathSet: [...paths] }],
      objectSet: [
        {
          obj: toSoapRef(view),
          skip: true,
          selectSet: [
            {
              // xsi:type is required: selectSet is declared as SelectionSpec, the base type.
              attributes: { xsi_type: { type: 'TraversalSpec', xmlns: 'urn:vim25' } },
              name: 'traverseView',
              type: 'ContainerView',
              path: 'view',
              skip: false,
            },
          ],
        },
      ],
    };
    return await retrieve(session, spec, { ...options, object: options.object ?? `all ${type}s` });
  } finally {
    // A view left behind keeps costing the server work until the session ends.
    await session.call('DestroyView', view, {}, { timeoutMs: 30_000 }).catch((err: unknown) => {
      session.logger.debug?.('DestroyView failed', { error: String(err) });
    });
  }
}

async function retrieve(
  session: Session,
  spec: Record<string, unknown>,
  options: CallOptions,
): Promise<ObjectProps[]> {
  for (let attempt = 0; ; attempt++) {
    const generation = session.generation;
    const out = await retrievePages(session, spec, options);
    // The property collector can answer a session that is no longer authenticated with each object's
    // properties missing, each faulted NotAuthenticated, instead of a fault of the call (the vSphere API's
    // missingSet; clients such as pyvmomi raise that per-property fault). Read that way, an object would
    // look as if it had none of them (a VM without disks): log in again once and read again, and never
    // return such a result.
    const unauthenticated = out.find((o) => o.missing.some((m) => m.fault === 'NotAuthenticated'));
    if (unauthenticated !== undefined) {
      if (attempt > 0)
        throw new VSphereError(
          {
            endpoint: session.endpoint,
            method: 'RetrievePropertiesEx',
            object: refLabel(unauthenticated.ref),
          },
          'properties answered NotAuthenticated again after a new login',
        );
      session.logger.debug?.('session lost (properties NotAuthenticated); logging in again', {
        endpoint: session.endpoint,
      });
      await session.relogin(generation);
      continue;
    }
    return out;
  }
}

async function retrievePages(
  session: Session,
  spec: Record<string, unknown>,
  options: CallOptions,
): Promise<ObjectProps[]> {
  const pc = session.refs.propertyCollector;
  const out: ObjectProps[] = [];
  let result = await session.call(
    'RetrievePropertiesEx',
    pc,
    { specSet: [spec], options: { maxObjects: session.pageSize } },
    options,
  );
  for (;;) {
    for (const content of list(at(result, 'objects'))) out.push(toObjectProps(content));
    const token = str(at(result, 'token'));
    if (token === undefined) return out;
    result = await session.call('ContinueRetrievePropertiesEx', pc, { token }, options);
  }
}

function toObjectProps(content: Raw): ObjectProps {
  const c = obj(content) ?? {};
  const r = ref(c.obj);
  if (r === undefined) throw new TypeError('ObjectContent without obj');
  const props = new Map<string, Raw>();
  for (const p of list(c.propSet)) {
    const name = str(obj(p)?.name);
    if (name !== undefined) props.set(name, obj(p)?.val);
  }
  const missing = list(c.missingSet).map((m) => ({
    path: str(obj(m)?.path) ?? '',
    fault: xsiType(at(m, 'fault.fault')) ?? Object.keys(faultDetail(at(m, 'fault.fault')))[0],
  }));
  return { ref: r, props, missing };
}
