/**
 * What the batch figure reads from Temporal (bench/batch-figure.ts): each migration's history split as
 * bench's overhead figure splits it (Temporal + SOAP + transfer, here also the wait for a suspend slot),
 * and which data mover runs a copy right now.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { WorkerProcess } from './migration-figures';

/** What one migration's time went to (medians over the batch, ms). */
export interface OverheadSplit {
  totalMs: number;
  temporalMs: number;
  soapMs: number;
  transferMs: number;
  /** Waiting for a suspend slot on the source host (the batch's grant). */
  slotWaitMs: number;
  /** Of the Temporal time: activities scheduled but not yet started (waiting for a worker's slot, or a retry). */
  queueMs: number;
  /** total − transfer − slot wait: the product's own time per migration. */
  overheadMs: number;
}

/** One event of a workflow history, as the client fetches it. */
export type Event = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];
type Ts = { seconds?: unknown; nanos?: number | null } | null | undefined;
const ms = (t: Ts) => (t ? Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6 : 0);
const num = (v: unknown) => Number(String(v ?? 0));
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number);
};
export const p90 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.ceil(0.9 * s.length) - 1] as number);
};

/** One migration's history: where its time went, and who ran its copy. */
export function migrationTimes(events: Event[]): OverheadSplit & {
  startMs: number;
  closeMs: number;
  copyIdentity: string[];
  copyRetried: boolean;
} {
  const acts = new Map<number, { name: string; scheduled: number; started: number; ended: number }>();
  const copyIdentity: string[] = [];
  let copyRetried = false;
  let slotAsked: number | null = null;
  let slotWaitMs = 0;
  for (const e of events) {
    const t = ms(e.eventTime as Ts);
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched)
      acts.set(num(e.eventId), { name: sched.activityType?.name ?? '?', scheduled: t, started: t, ended: t });
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const a = acts.get(num(started.scheduledEventId));
      if (a) {
        a.started = t;
        if (a.name === 'copyFiles') {
          copyIdentity.push(started.identity ?? '?');
          if ((started.attempt ?? 1) > 1) copyRetried = true;
        }
      }
    }
    const ended =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (ended) {
      const a = acts.get(num(ended.scheduledEventId));
      if (a) a.ended = t;
    }
    if (e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === 'requestSwitchoverSlot')
      slotAsked = t;
    if (e.workflowExecutionSignaledEventAttributes?.signalName === 'switchoverSlotGranted' && slotAsked) {
      slotWaitMs += t - slotAsked;
      slotAsked = null;
    }
  }
  const startMs = ms(events[0]?.eventTime as Ts);
  const closeMs = ms(events.at(-1)?.eventTime as Ts);
  const sum = (f: (name: string) => boolean) =>
    [...acts.values()].filter((a) => f(a.name)).reduce((s, a) => s + (a.ended - a.started), 0);
  const transferMs = sum((n) => n === 'copyFiles');
  const soapMs = sum((n) => n !== 'copyFiles');
  const totalMs = closeMs - startMs;
  const queueMs = [...acts.values()].reduce((q, a) => q + (a.started - a.scheduled), 0);
  return {
    queueMs,
    startMs,
    closeMs,
    totalMs,
    transferMs,
    soapMs,
    slotWaitMs,
    temporalMs: totalMs - transferMs - soapMs - slotWaitMs,
    overheadMs: totalMs - transferMs - slotWaitMs,
    copyIdentity,
    copyRetried,
  };
}

/**
 * The copies each data mover runs right now: started copyFiles attempts of the running migrations, by
 * the worker identity (`<pid>@<host>`) that took them; with `startedWithinMs`, only attempts started
 * that recently (a tiny VM's copy takes about 2 s: one started a moment ago is still running when the
 * mover is killed). A mover killed since still shows its attempts until their heartbeat times out:
 * those are the copies its death orphaned.
 */
export async function copiesInFlight<W extends { proc: WorkerProcess }>(
  client: Client,
  running: string[],
  movers: W[],
  startedWithinMs = Number.POSITIVE_INFINITY,
): Promise<Map<W, number>> {
  const described = await Promise.all(
    running.map((id) =>
      client.workflow
        .getHandle(id)
        .describe()
        .catch(() => null),
    ),
  );
  const out = new Map<W, number>();
  for (const a of described.flatMap((d) => d?.raw.pendingActivities ?? [])) {
    if (a.activityType?.name !== 'copyFiles' || a.state !== 2) continue;
    if (Date.now() - ms(a.lastStartedTime as Ts) > startedWithinMs) continue;
    const mover = movers.find((m) => a.lastWorkerIdentity?.startsWith(`${m.proc.pid}@`));
    if (mover) out.set(mover, (out.get(mover) ?? 0) + 1);
  }
  return out;
}

/** Runs in turn, `n` at once. */
export async function eachLimited<T, R>(items: T[], n: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i] as T);
      }
    }),
  );
  return out;
}
