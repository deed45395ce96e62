/**
 * The guest side of a switchover: what VMware Tools and the VM's pending question say, a graceful
 * shutdown watched until the VM is off, the wait for a guest heartbeat, and power tasks that meet a
 * question ("moved or copied?") and answer it instead of waiting on it for ever.
 *
 * Power state, heartbeat and question are read by polling `intervalMs` (default 250 ms): these waits
 * measure downtime, so a change is seen within a quarter of a second, at four small reads a second
 * for one VM for the length of a shutdown or a boot.
 */
import { at, list, ref, refLabel, str } from './convert';
import { ProtocolError, VSphereError } from './errors';
import { retrieveObjects } from './property-collector';
import type { Session } from './session';
import type { Tasks } from './tasks';
import { sleep } from './tasks';
import type { MoRef, PowerState } from './types';

/** A question the VM waits on (runtime.question), as vSphere shows it in the client. */
export interface VmQuestion {
  /** The question's id, which AnswerVM names. */
  readonly id: string;
  /** The question's text. */
  readonly text: string;
  /** Message ids (e.g. `msg.uuid.altered`), the stable way to tell a question's kind. */
  readonly messageIds: readonly string[];
  /** The answers offered: key (what AnswerVM takes), label and summary as vSphere gives them. */
  readonly choices: readonly { readonly key: string; readonly label: string; readonly summary: string }[];
}

/** What the guest and the VM say now. */
export interface GuestState {
  readonly powerState: PowerState;
  /** guest.toolsRunningStatus: guestToolsRunning, guestToolsNotRunning, guestToolsExecutingScripts. */
  readonly toolsRunning: boolean;
  /** False when vSphere says VMware Tools are not installed (a booting guest's Tools are installed, not yet running). */
  readonly toolsInstalled: boolean;
  /** guestHeartbeatStatus: green, yellow, red, gray. */
  readonly heartbeat: string;
  /** The pending question, if any. */
  readonly question: VmQuestion | undefined;
}

/** Options of the waits: how long, how often, and a signal that stops waiting. */
export interface GuestWaitOptions {
  /** Give up after this many ms. */
  readonly timeoutMs: number;
  /** Poll period, ms. Default 250. */
  readonly intervalMs?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Called after every read (a liveness heartbeat, say). Default: none. */
  readonly onPoll?: ((state: GuestState) => void) | undefined;
}

/** How a shutdown wait ended. */
export type ShutdownOutcome =
  | {
      readonly stopped: true;
      /** Epoch ms the VM was first seen poweredOff. */
      readonly poweredOffAt: number;
      /** Epoch ms the guest's heartbeat was last seen green; null when it never was during the wait. */
      readonly lastHeartbeatAt: number | null;
    }
  | {
      readonly stopped: false;
      readonly lastHeartbeatAt: number | null;
      readonly state: GuestState;
      /** Ms after ShutdownGuest that VMware Tools were first seen not running (the VM still on); null if never. */
      readonly toolsLostAfterMs: number | null;
      /** Ms after ShutdownGuest that Tools ran again after that loss: the guest restarted instead of halting. */
      readonly restartedAfterMs: number | null;
    };

/**
 * Decides the answer to a question met by a power task: a choice key, or undefined to refuse (the
 * task's wait then fails with VmQuestionError carrying the question's text).
 */
export type QuestionAnswerer = (question: VmQuestion) => string | undefined;

/**
 * Thrown when a VM asks a question the caller does not answer; carries the question's text and choices
 * and what became of it: cancelled (quickmig chose its Cancel or Abort, so the power task ended without
 * powering on) or left pending (it offers no such choice: only a person can answer it, and until then
 * vSphere refuses to power off or unregister the VM with QuestionPending).
 */
export class VmQuestionError extends VSphereError {
  override name = 'VmQuestionError';
  /** The question as vSphere asked it. */
  readonly question: VmQuestion;
  /** The label of the cancelling choice quickmig answered, or undefined when the question is still pending. */
  readonly cancelledWith: string | undefined;

  constructor(
    context: { endpoint: string; method: string; object: string },
    question: VmQuestion,
    cancelledWith?: string,
  ) {
    const labels = question.choices.map((c) => c.summary || c.label || c.key).join(', ');
    super(
      context,
      `the VM asks "${question.text}" (message ${question.messageIds.join(', ') || 'without id'}; choices: ${labels}), which quickmig does not answer: ${
        cancelledWith !== undefined
          ? `it answered ${cancelledWith} so the power-on ends without starting the VM`
          : 'it offers no Cancel or Abort, so it waits for an answer in the vSphere Client (until then the VM cannot be powered off or unregistered)'
      }`,
    );
    this.question = question;
    this.cancelledWith = cancelledWith;
  }
}

/** Whether a question is the one vSphere asks when a VM's files moved: "moved or copied?". */
export function isUuidQuestion(question: VmQuestion): boolean {
  return (
    question.messageIds.some((id) => id.startsWith('msg.uuid.')) ||
    question.choices.some((c) => /button\.uuid\.movedTheVM/.test(`${c.key} ${c.label} ${c.summary}`))
  );
}

/** The choice that means "I moved it" (keeps the BIOS UUID and MAC addresses), if offered. */
export function movedChoice(question: VmQuestion): string | undefined {
  const byId = question.choices.find((c) => /movedTheVM/i.test(`${c.key} ${c.label} ${c.summary}`));
  return (byId ?? question.choices.find((c) => /moved/i.test(c.label)))?.key;
}

/**
 * The choice that refuses (Cancel, or Abort as some questions call it): the waiting power task ends
 * without powering the VM on. Never another choice: "Retry" or "OK" may let a VM in an unknown state
 * run, so a question without a refusing choice is left to a person.
 */
export function cancelChoice(question: VmQuestion): string | undefined {
  return question.choices.find((c) => /cancel|abort/i.test(`${c.key} ${c.label} ${c.summary}`))?.key;
}

/** Parses runtime.question as RetrievePropertiesEx returns it; undefined when there is none. */
export function parseQuestion(v: unknown): VmQuestion | undefined {
  const id = str(at(v, 'id'));
  if (id === undefined) return undefined;
  return {
    id,
    text: str(at(v, 'text')) ?? '',
    messageIds: list(at(v, 'message')).flatMap((m) => str(at(m, 'id')) ?? []),
    choices: list(at(v, 'choice.choiceInfo')).map((c) => ({
      key: str(at(c, 'key')) ?? '',
      label: str(at(c, 'label')) ?? '',
      summary: str(at(c, 'summary')) ?? '',
    })),
  };
}

/** Guest, question and power-state operations on VMs. */
export class Guest {
  readonly #session: Session;
  readonly #tasks: Tasks;

  /** @internal */
  constructor(session: Session, tasks: Tasks) {
    this.#session = session;
    this.#tasks = tasks;
  }

  /** Reads power state, Tools, heartbeat and the pending question in one request. */
  async state(vm: MoRef, options: { signal?: AbortSignal | undefined } = {}): Promise<GuestState> {
    const [o] = await retrieveObjects(
      this.#session,
      'VirtualMachine',
      [vm],
      [
        'runtime.powerState',
        'guest.toolsRunningStatus',
        'guest.toolsVersionStatus2',
        'guestHeartbeatStatus',
        'runtime.question',
      ],
      { signal: options.signal },
    );
    const p = (path: string) => o?.props.get(path);
    return {
      powerState: (str(p('runtime.powerState')) ?? 'poweredOff') as PowerState,
      toolsRunning: str(p('guest.toolsRunningStatus')) === 'guestToolsRunning',
      toolsInstalled: str(p('guest.toolsVersionStatus2')) !== 'guestToolsNotInstalled',
      heartbeat: str(p('guestHeartbeatStatus')) ?? 'gray',
      question: parseQuestion(p('runtime.question')),
    };
  }

  /** Answers the VM's pending question (AnswerVM) with a choice key. */
  async answer(vm: MoRef, questionId: string, choice: string): Promise<void> {
    await this.#session.call('AnswerVM', vm, { questionId, answerChoice: choice });
  }

  /**
   * Asks VMware Tools to shut the guest down (ShutdownGuest) and waits until the VM is poweredOff or
   * `timeoutMs` passed; it never forces anything. A guest whose Tools are installed but not running yet
   * (it is booting) is waited for within the same `timeoutMs`. A VM already off counts as stopped. The guest's
   * last green heartbeat is recorded on the way: the service stopped then, not at the power-off.
   */
  async shutdown(vm: MoRef, options: GuestWaitOptions): Promise<ShutdownOutcome> {
    const deadline = Date.now() + options.timeoutMs;
    let before = await this.state(vm, options);
    // A guest still booting has Tools installed but not yet running: wait for them, within the deadline.
    while (
      before.powerState === 'poweredOn' &&
      !before.toolsRunning &&
      before.toolsInstalled &&
      Date.now() < deadline
    ) {
      options.onPoll?.(before);
      await sleep(Math.min(options.intervalMs ?? 250, Math.max(0, deadline - Date.now())), options.signal);
      before = await this.state(vm, options);
    }
    let lastHeartbeatAt: number | null = before.heartbeat === 'green' ? Date.now() : null;
    if (before.powerState === 'poweredOff')
      return { stopped: true, poweredOffAt: Date.now(), lastHeartbeatAt };
    if (!before.toolsRunning && before.toolsInstalled)
      return {
        stopped: false,
        lastHeartbeatAt,
        state: before,
        toolsLostAfterMs: null,
        restartedAfterMs: null,
      };
    await this.#session.call('ShutdownGuest', vm, {}, { signal: options.signal });
    const askedAt = Date.now();
    // Tools stop late in every shutdown; Tools that run again while the VM stayed on mean a restart.
    let toolsLostAfterMs: number | null = null;
    let restartedAfterMs: number | null = null;
    for (;;) {
      const state = await this.state(vm, options);
      options.onPoll?.(state);
      const now = Date.now();
      if (state.powerState === 'poweredOff') return { stopped: true, poweredOffAt: now, lastHeartbeatAt };
      if (state.heartbeat === 'green') lastHeartbeatAt = now;
      if (!state.toolsRunning && toolsLostAfterMs === null) toolsLostAfterMs = now - askedAt;
      if (state.toolsRunning && toolsLostAfterMs !== null && restartedAfterMs === null)
        restartedAfterMs = now - askedAt;
      if (now >= deadline)
        return { stopped: false, lastHeartbeatAt, state, toolsLostAfterMs, restartedAfterMs };
      await sleep(Math.min(options.intervalMs ?? 250, Math.max(0, deadline - now)), options.signal);
    }
  }

  /** Waits until the guest's heartbeat is green; returns the epoch ms it was first seen so, or null after `timeoutMs`. */
  async waitForHeartbeat(vm: MoRef, options: GuestWaitOptions): Promise<number | null> {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const state = await this.state(vm, options);
      options.onPoll?.(state);
      const now = Date.now();
      if (state.heartbeat === 'green') return now;
      if (now >= deadline) return null;
      await sleep(Math.min(options.intervalMs ?? 250, Math.max(0, deadline - now)), options.signal);
    }
  }

  /**
   * Runs a power task (PowerOnVM_Task, which also resumes) and answers the questions it meets with
   * `answerer`: a power-on or resume of a VM whose files moved stops at "moved or copied?" and would
   * wait for an answer as long as it takes. A question the answerer refuses is cancelled when it offers
   * a cancel choice (so the task ends), and the wait fails at once with VmQuestionError.
   * Returns the questions answered, in order.
   */
  async powerOnAnswering(
    vm: MoRef,
    answerer: QuestionAnswerer,
    options: { signal?: AbortSignal | undefined; intervalMs?: number | undefined } = {},
  ): Promise<{ answered: { question: VmQuestion; choice: string }[] }> {
    const method = 'PowerOnVM_Task';
    const taskRef = ref(await this.#session.call(method, vm, {}, { signal: options.signal }));
    if (taskRef === undefined) {
      throw new ProtocolError(
        { endpoint: this.#session.endpoint, method, object: refLabel(vm) },
        'no task returned',
      );
    }
    const answered: { question: VmQuestion; choice: string }[] = [];
    const stop = new AbortController();
    const onAbort = () => stop.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // The task's end and the watch for questions race; the first failure wins and stops the other.
    let watchError: unknown;
    const watch = (async () => {
      while (!stop.signal.aborted) {
        await sleep(options.intervalMs ?? 250, stop.signal).catch(() => undefined);
        if (stop.signal.aborted) return;
        const { question } = await this.state(vm, { signal: stop.signal });
        if (!question || answered.some((a) => a.question.id === question.id)) continue;
        const choice = answerer(question);
        if (choice !== undefined) {
          await this.answer(vm, question.id, choice);
          answered.push({ question, choice });
          continue;
        }
        const cancel = cancelChoice(question);
        let cancelled: string | undefined;
        if (cancel !== undefined) {
          const c = question.choices.find((x) => x.key === cancel);
          cancelled = await this.answer(vm, question.id, cancel).then(
            () => c?.summary || c?.label || cancel,
            () => undefined,
          );
        }
        watchError = new VmQuestionError(
          { endpoint: this.#session.endpoint, method, object: refLabel(vm) },
          question,
          cancelled,
        );
        stop.abort(watchError);
        return;
      }
    })().catch((error: unknown) => {
      if (!stop.signal.aborted) {
        watchError = error;
        stop.abort(error);
      }
    });
    try {
      await this.#tasks.wait(taskRef, { method, signal: stop.signal });
    } catch (error) {
      if (watchError !== undefined) throw watchError;
      throw error;
    } finally {
      stop.abort();
      options.signal?.removeEventListener('abort', onAbort);
      await watch;
    }
    if (watchError !== undefined) throw watchError;
    return { answered };
  }
}
