/**
 * What the lab's own call logs say was open at once: migration snapshots per datastore, suspend →
 * target power-on spans per source host. The admission test and the batch benchmark check a batch's
 * limits against these, not against the batch's own ledger.
 */
import type { LabCall, LabControl } from './control';

/** The most snapshots open at once on an endpoint (one datastore each in the labs that ask), and how many were taken. */
export function openSnapshots(calls: readonly LabCall[]): { max: number; created: number } {
  let open = 0;
  let max = 0;
  let created = 0;
  for (const call of [...calls].sort((a, b) => a.seq - b.seq)) {
    if (!call.ok) continue;
    if (call.method === 'CreateSnapshot_Task') {
      open++;
      created++;
    } else if (call.method === 'RemoveSnapshot_Task' || call.method === 'RemoveAllSnapshots_Task') open--;
    max = Math.max(max, open);
  }
  return { max, created };
}

/** A VM's switchover as the hosts saw it: its source's suspend until its target's power-on, ms since the epoch. */
export interface SuspendSpan {
  vm: string;
  from: number;
  to: number;
}

/**
 * Each SmartSwitch suspend on a source host (its call log) until the power-on of that VM's target (the
 * target endpoints' call logs; a target is known by its folder, `vmFolders`). A suspend with no power-on
 * after it is listed as unmatched.
 */
export function suspendSpans(
  sourceCalls: readonly LabCall[],
  vmOf: (moref: string) => string | undefined,
  targets: readonly { calls: readonly LabCall[]; folderOf: ReadonlyMap<string, string> }[],
): { spans: SuspendSpan[]; unmatched: string[] } {
  const spans: SuspendSpan[] = [];
  const unmatched: string[] = [];
  for (const call of sourceCalls) {
    if (call.method !== 'SuspendVM_Task' || !call.ok) continue;
    const vm = vmOf(call.object) ?? call.object;
    const from = Date.parse(call.time);
    const ons = targets.flatMap((t) =>
      t.calls
        .filter(
          (c) =>
            c.method === 'PowerOnVM_Task' &&
            c.ok &&
            t.folderOf.get(c.object) === vm &&
            Date.parse(c.time) >= from,
        )
        .map((c) => Date.parse(c.time)),
    );
    if (ons.length === 0) unmatched.push(vm);
    else spans.push({ vm, from, to: Math.min(...ons) });
  }
  return { spans, unmatched };
}

/** The most spans open at once (one that ends as another starts does not overlap it). */
export function mostAtOnce(spans: readonly { from: number; to: number }[]): number {
  let max = 0;
  for (const s of spans) max = Math.max(max, spans.filter((o) => o.from <= s.from && s.from < o.to).length);
  return max;
}

/** VM morefs to names on an endpoint (names change at the switchover: read them before). */
export async function vmNames(control: LabControl): Promise<Map<string, string>> {
  const vms = await control.call<{ moref: string; name: string }[]>('GET', '/vms');
  return new Map(vms.map((v) => [v.moref, v.name]));
}

/** VM morefs to their folder (`[datastore1] b-001/b-001.vmx` → `b-001`): a target keeps its source's folder name. */
export async function vmFolders(control: LabControl): Promise<Map<string, string>> {
  const vms = await control.call<{ moref: string; vmx: string }[]>('GET', '/vms');
  return new Map(vms.map((v) => [v.moref, /\] ([^/]+)\//.exec(v.vmx)?.[1] ?? v.moref]));
}
