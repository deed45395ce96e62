/**
 * Waiting for vSphere tasks, with progress and cancellation.
 *
 * Strategy: both ways are implemented and were measured against stock vcsim v0.46.3 on the
 * 2-core dev box (PowerOff/PowerOn pairs; task durations set with vcsim -method-delay):
 *
 * | task takes    | poll: wall time, SOAP calls/task | updates: wall time, SOAP calls/task |
 * |---------------|----------------------------------|-------------------------------------|
 * | ~0 (instant)  | 9-15 ms, 3.5                     | 9-11 ms, 5                          |
 * | 700 ms        | 739 ms, 7 (avg of both rows)     | 739 ms, 6 (avg of both rows)        |
 * | 3000 ms       | 3554 ms (+554 ms late)           | 3021 ms (+21 ms)                    |
 *
 * - `poll`: RetrievePropertiesEx of `info`, back-off 100 ms doubling to 1 s. Cheapest for tasks
 *   that finish at once, but it sees the end up to one interval late (+0.5 s above) and costs one
 *   call per second for as long as the task runs.
 * - `updates`: a private PropertyCollector + filter + WaitForUpdatesEx long-poll, destroyed
 *   afterwards. A fixed 3 extra calls, then the server answers the moment the task changes:
 *   one round trip of lag whatever the duration, every progress step seen, ~2 calls a minute on
 *   a long task.
 * Default: `updates`. The tasks that matter to a migration (relocate, snapshot removal,
 * consolidation, suspend during switchover) run seconds to hours; polling adds up to its interval
 * to the downtime at every switchover step and floods vCenter on long copies, while the cost of
 * `updates` on instant tasks is ~1.5 calls and no measurable time. `poll` stays available for
 * proxies that cut long-held requests.
 * The collector is private per wait so concurrent waits never steal each other's updates.
 */
import type { Raw } from './convert';
import { at, faultDetail, list, num, obj, ref, refLabel, str, toSoapRef, xsiType } from './convert';
import type { RequestContext } from './errors';
import { faultError, NotFoundError, VSphereError } from './errors';
import { retrieveObjects } from './property-collector';
import type { Session } from './session';
import type { MoRef, TaskProgress, TaskState } from './types';

/** How a wait learns about task changes. See the module comment for the measurement. */
export type TaskWaitStrategy = 'updates' | 'poll';

/** Options of a task wait. */
export interface TaskWaitOptions {
  /** Called on every observed change of state or progress. Default: none. */
  readonly onProgress?: ((progress: TaskProgress) => void) | undefined;
  /**
   * Stops waiting (the task itself keeps running on the server; cancel it with `cancel`). The wait
   * rejects with the signal's reason. Default: none.
   */
  readonly signal?: AbortSignal | undefined;
  /** Default: 'updates'. */
  readonly strategy?: TaskWaitStrategy | undefined;
  /** Method that started the task, named in errors. Default: the task's descriptionId. */
  readonly method?: string | undefined;
}

/** Seconds one WaitForUpdatesEx may block on the server. Default: 30. */
export const WAIT_FOR_UPDATES_SECONDS = 30;
/** Longest pause between two polls, in ms. Default: 1000. */
export const MAX_POLL_INTERVAL_MS = 1000;

interface ParsedTaskInfo {
  readonly state: TaskState;
  readonly progress: number | undefined;
  readonly result: Raw;
  readonly error: Raw;
  readonly entity: MoRef | undefined;
  readonly entityName: string | undefined;
  readonly descriptionId: string | undefined;
}

/** Tasks: waiting and cancelling. */
export class Tasks {
  readonly #session: Session;

  /** @internal */
  constructor(session: Session) {
    this.#session = session;
  }

  /**
   * Waits until `task` ends. Resolves with the task's result (a moref for tasks that create
   * something, undefined for most); rejects with the typed error of the task's fault.
   */
  async wait(task: MoRef, options: TaskWaitOptions = {}): Promise<Raw> {
    options.signal?.throwIfAborted();
    const info =
      (options.strategy ?? 'updates') === 'poll'
        ? await this.#poll(task, options)
        : await this.#waitForUpdates(task, options, true);
    return this.#settle(task, info, options);
  }

  /** Asks the server to cancel a running task (best effort: not every task is cancelable). */
  async cancel(task: MoRef): Promise<void> {
    await this.#session.call('CancelTask', task);
  }

  /** Reads a task's current state once. */
  async progress(task: MoRef): Promise<TaskProgress> {
    const info = await this.#readInfo(task);
    return { task, state: info.state, progress: info.progress };
  }

  async #readInfo(task: MoRef): Promise<ParsedTaskInfo> {
    const [o] = await retrieveObjects(this.#session, 'Task', [task], ['info']);
    return parseTaskInfo(o?.props.get('info'));
  }

  async #poll(task: MoRef, options: TaskWaitOptions): Promise<ParsedTaskInfo> {
    let interval = 100;
    let last = '';
    for (;;) {
      const info = await this.#readInfo(task);
      last = report(task, info, last, options);
      if (info.state === 'success' || info.state === 'error') return info;
      await sleep(interval, options.signal);
      interval = Math.min(interval * 2, MAX_POLL_INTERVAL_MS);
    }
  }

  async #waitForUpdates(task: MoRef, options: TaskWaitOptions, mayRestart: boolean): Promise<ParsedTaskInfo> {
    const session = this.#session;
    const generation = session.generation;
    const collector = ref(await session.call('CreatePropertyCollector', session.refs.propertyCollector));
    if (collector === undefined) throw new TypeError('CreatePropertyCollector returned nothing');
    try {
      await session.call('CreateFilter', collector, {
        spec: {
          propSet: [{ type: 'Task', pathSet: ['info'] }],
          objectSet: [{ obj: toSoapRef(task), skip: false }],
        },
        partialUpdates: false,
      });
      let version = '';
      let last = '';
      for (;;) {
        const updates = await session.call(
          'WaitForUpdatesEx',
          collector,
          { version, options: { maxWaitSeconds: WAIT_FOR_UPDATES_SECONDS } },
          {
            signal: options.signal,
            timeoutMs: (WAIT_FOR_UPDATES_SECONDS + 30) * 1000,
            object: refLabel(task),
          },
        );
        // No answer means maxWaitSeconds passed without a change.
        if (updates === undefined) continue;
        version = str(at(updates, 'version')) ?? version;
        for (const filterSet of list(at(updates, 'filterSet'))) {
          for (const update of list(at(filterSet, 'objectSet'))) {
            for (const change of list(at(update, 'changeSet'))) {
              if (str(at(change, 'name')) !== 'info') continue;
              const info = parseTaskInfo(at(change, 'val'));
              last = report(task, info, last, options);
              if (info.state === 'success' || info.state === 'error') return info;
            }
          }
        }
      }
    } catch (err) {
      // A re-login mid-wait (endpoint restarted, session expired) loses the session's collector;
      // the task may have survived, so start over once with a fresh collector.
      if (mayRestart && err instanceof NotFoundError && session.generation !== generation) {
        return this.#waitForUpdates(task, options, false);
      }
      throw err;
    } finally {
      await session
        .call('DestroyPropertyCollector', collector, {}, { timeoutMs: 30_000 })
        .catch(() => undefined);
    }
  }

  #settle(task: MoRef, info: ParsedTaskInfo, options: TaskWaitOptions): Raw {
    if (info.state === 'success') return info.result;
    const context: RequestContext = {
      endpoint: this.#session.endpoint,
      method: options.method ?? info.descriptionId ?? 'task',
      object:
        info.entity === undefined
          ? refLabel(task)
          : `${refLabel(info.entity)}${info.entityName ? ` "${info.entityName}"` : ''}`,
    };
    const fault = at(info.error, 'fault');
    const type = xsiType(fault);
    if (type === undefined) {
      throw new VSphereError(
        context,
        `task ${refLabel(task)} failed: ${str(at(info.error, 'localizedMessage')) ?? 'no fault given'}`,
      );
    }
    throw faultError(context, {
      type,
      message: str(at(info.error, 'localizedMessage')) ?? '',
      detail: faultDetail(fault),
    });
  }
}

function parseTaskInfo(v: Raw): ParsedTaskInfo {
  const o = obj(v) ?? {};
  const state = str(o.state);
  return {
    state:
      state === 'queued' || state === 'running' || state === 'success' || state === 'error'
        ? state
        : 'running',
    progress: num(o.progress),
    result: o.result,
    error: o.error,
    entity: ref(o.entity),
    entityName: str(o.entityName),
    descriptionId: str(o.descriptionId),
  };
}

function report(task: MoRef, info: ParsedTaskInfo, last: string, options: TaskWaitOptions): string {
  const key = `${info.state}/${info.progress ?? ''}`;
  if (key !== last) options.onProgress?.({ task, state: info.state, progress: info.progress });
  return key;
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
