/**
 * @internal Turns node-soap's parse output into plain typed values.
 *
 * node-soap types only what the WSDL subset declares; everything else (property values under
 * `xsd:anyType`, nested data objects) arrives as strings and objects, with XML attributes under
 * `attributes` and element text under `$value` when an element has both. A single child element
 * arrives as an object, several as an array. These helpers accept every one of those shapes, so the
 * converters do not depend on how much of vim25 the WSDL happens to declare.
 */
import type { MoRef } from './types';

/** A parsed XML element: an object of child elements, a string, or a node-soap-typed scalar. */
export type Raw = unknown;

/** The element's text when it has attributes (`{attributes, $value}`), else the value itself. */
export function unwrap(v: Raw): Raw {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && '$value' in v) {
    return (v as { $value: unknown }).$value;
  }
  return v;
}

/** A child object, or undefined when `v` is not an object. */
export function obj(v: Raw): Record<string, Raw> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, Raw>) : undefined;
}

/** Reads `path` (dot-separated child names) from a parsed element. */
export function at(v: Raw, path: string): Raw {
  let cur: Raw = v;
  for (const key of path.split('.')) {
    const o = obj(cur);
    if (o === undefined) return undefined;
    cur = o[key];
  }
  return cur;
}

/** A string, or undefined for absent/empty-object values. */
export function str(v: Raw): string | undefined {
  const u = unwrap(v);
  if (typeof u === 'string') return u;
  if (typeof u === 'number' || typeof u === 'boolean') return String(u);
  if (u instanceof Date) return u.toISOString();
  return undefined;
}

/** A number (xsd:int/long arrive as strings unless declared), or undefined. */
export function num(v: Raw): number | undefined {
  const u = unwrap(v);
  if (typeof u === 'number') return u;
  if (typeof u === 'string' && u.trim() !== '') {
    const n = Number(u);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** A boolean (xsd:boolean is `true`/`false`/`1`/`0`), or undefined. */
export function bool(v: Raw): boolean | undefined {
  const u = unwrap(v);
  if (typeof u === 'boolean') return u;
  if (u === 'true' || u === '1') return true;
  if (u === 'false' || u === '0') return false;
  return undefined;
}

/** A Date from an xsd:dateTime, or undefined. */
export function date(v: Raw): Date | undefined {
  const u = unwrap(v);
  if (u instanceof Date) return u;
  if (typeof u === 'string') {
    const d = new Date(u);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

/** A repeated element as an array: absent → [], one → [it], several → them. */
export function list(v: Raw): Raw[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** The members of a boxed array value (`ArrayOfX` with children `<X>`), whatever X is. */
export function boxed(v: Raw): Raw[] {
  const o = obj(v);
  if (o === undefined) return [];
  for (const [key, child] of Object.entries(o)) {
    if (key !== 'attributes' && key !== '$value') return list(child);
  }
  return [];
}

/** The `xsi:type` of an element, without prefix, whatever prefix the server bound to the XSI namespace. */
export function xsiType(v: Raw): string | undefined {
  const attrs = obj(obj(v)?.attributes);
  if (attrs === undefined) return undefined;
  for (const [key, value] of Object.entries(attrs)) {
    // node-soap keeps the attribute's qualified name; `type` without a prefix is a moref's own attribute.
    if (key.endsWith(':type') && typeof value === 'string') return value.slice(value.indexOf(':') + 1);
  }
  return undefined;
}

/** A ManagedObjectReference (`<x type="VirtualMachine">vm-42</x>`), or undefined. */
export function ref(v: Raw): MoRef | undefined {
  const o = obj(v);
  if (o === undefined) return undefined;
  const type = obj(o.attributes)?.type;
  const value = o.$value;
  if (typeof type !== 'string' || typeof value !== 'string') return undefined;
  return { type, value };
}

/** Like `ref` but for a value that must be present. */
export function refOrThrow(v: Raw, what: string): MoRef {
  const r = ref(v);
  if (r === undefined) throw new TypeError(`expected a managed object reference for ${what}`);
  return r;
}

/** A moref in node-soap's input shape, to send as an argument. */
export function toSoapRef(r: MoRef): { attributes: { type: string }; $value: string } {
  return { attributes: { type: r.type }, $value: r.value };
}

/** `Type:value`, the form used in error messages and logs. */
export function refLabel(r: MoRef): string {
  return `${r.type}:${r.value}`;
}

/** The fields of a fault element (detail or LocalizedMethodFault.fault) as plain data. */
export function faultDetail(v: Raw): Record<string, unknown> {
  const o = obj(v);
  if (o === undefined) return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(o)) {
    if (key === 'attributes') continue;
    const r = ref(value);
    out[key] = r !== undefined ? refLabel(r) : (str(value) ?? value);
  }
  return out;
}
