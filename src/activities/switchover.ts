/**
 * The switchover's VM steps: stop the source (suspend, guest shutdown with a deadline, or hard
 * power-off), start the target answering the "moved or copied?" question, wait until the target's
 * guest is back, upgrade the target's virtual hardware. Each returns the moments that the two
 * downtimes are measured between, as epoch ms of this worker's clock, and each is idempotent: run
 * again after a crash, it sees the VM already in the state it brings and reports that.
 */
import { Context } from '@temporalio/activity';
import type { MoRef, QuestionAnswerer, VSphereClient } from '../vsphere';
import { InvalidPowerStateError, isUuidQuestion, movedChoice, VSphereFaultError } from '../vsphere';
import type { EndpointPool } from './endpoints';
import { GuestShutdownTimeoutError, GuestToolsUnavailableError, SourceRestartedError } from './errors';

/** A VM on an endpoint. */
interface VmRef {
  endpoint: string;
  vm: MoRef;
}

/** How the source was stopped, as the result reports it. */
export type StopKind = 'suspend' | 'guest-shutdown' | 'power-off' | 'power-off-after-timeout';

/** Input of `stopSource`. */
export interface StopSourceInput extends VmRef {
  /** suspend (SmartSwitch), guest (ShutdownGuest, then wait) or power-off (hard). */
  how: 'suspend' | 'guest' | 'power-off';
  /** For guest: how long the shutdown may take, ms. */
  timeoutMs: number;
  /** For guest: what to do when the shutdown takes longer. */
  onTimeout: 'abort' | 'power-off';
}

/** What `stopSource` did and when. */
export interface StopSourceResult {
  stop: StopKind;
  /** False when the VM was already stopped (an earlier attempt did it): the times are then this attempt's. */
  changed: boolean;
  /** When the stop was asked for. */
  requestedAt: number;
  /**
   * When the VM stopped serving as a VM, where `downtimeMs` starts: a suspend at its request (the guest
   * freezes at once), a guest shutdown when poweredOff was seen, a hard power-off at its request.
   */
  stoppedAt: number;
  /**
   * The source guest's last green heartbeat before the stop, where `serviceDowntimeMs` starts: the stop
   * request when the guest had a heartbeat then (a guest shutting down still heartbeats while it stops
   * its services, so a later heartbeat would hide the shutdown); null when it had none.
   */
  lastHeartbeatAt: number | null;
}

/** Input of `startTarget`. */
export type StartTargetInput = VmRef;

/** What `startTarget` did and when. */
export interface StartTargetResult {
  /** When the power-on or resume task succeeded: `downtimeMs` ends here. */
  startedAt: number;
  changed: boolean;
  /** The questions met and answered on the way, with the answer. */
  answered: { text: string; messageIds: string[]; choice: string }[];
}

function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // outside an activity (library use): nobody to tell
  }
}

function cancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** The answer quickmig gives: "moved" to the uuid question (the VM was moved, keep its identity), nothing else. */
export const answerMoved: QuestionAnswerer = (question) =>
  isUuidQuestion(question) ? movedChoice(question) : undefined;

/** Builds the switchover activities over the endpoint pool. */
export function createSwitchoverActivities(pool: EndpointPool) {
  const clientFor = (endpoint: string): Promise<VSphereClient> => pool.clientFor(endpoint);

  return {
    /** Stops the source as `how` says; see StopSourceResult for what each time means. */
    async stopSource(input: StopSourceInput): Promise<StopSourceResult> {
      const client = await clientFor(input.endpoint);
      const signal = cancellation();
      const before = await client.guest.state(input.vm, { signal });
      const stop: StopKind =
        input.how === 'suspend' ? 'suspend' : input.how === 'guest' ? 'guest-shutdown' : 'power-off';
      const wanted = input.how === 'suspend' ? 'suspended' : 'poweredOff';
      const requestedAt = Date.now();
      const green = before.heartbeat === 'green' ? requestedAt : null;
      if (before.powerState === wanted) {
        return { stop, changed: false, requestedAt, stoppedAt: requestedAt, lastHeartbeatAt: green };
      }
      if (input.how === 'suspend') {
        await client.vms.suspend(input.vm, { signal });
        return { stop, changed: true, requestedAt, stoppedAt: requestedAt, lastHeartbeatAt: green };
      }
      if (input.how === 'power-off') {
        await hardStop(client, input.vm, signal);
        return { stop, changed: true, requestedAt, stoppedAt: requestedAt, lastHeartbeatAt: green };
      }
      let outcome: Awaited<ReturnType<VSphereClient['guest']['shutdown']>>;
      try {
        outcome = await client.guest.shutdown(input.vm, {
          timeoutMs: input.timeoutMs,
          signal,
          onPoll: (s) => heartbeat({ powerState: s.powerState, guestHeartbeat: s.heartbeat }),
        });
      } catch (error) {
        if (error instanceof VSphereFaultError && error.fault.type === 'ToolsUnavailable') {
          throw new GuestToolsUnavailableError(
            `VMware Tools are not running in the guest of ${input.vm.value}, so it cannot be shut down (${error.message}); start Tools, or set options.shutdown.mode to power-off`,
          );
        }
        throw error;
      }
      // A guest that was still booting had its first heartbeat while the shutdown waited for its Tools.
      const serviceFrom = green ?? outcome.lastHeartbeatAt;
      if (outcome.stopped) {
        return {
          stop,
          changed: true,
          requestedAt,
          stoppedAt: outcome.poweredOffAt,
          lastHeartbeatAt: serviceFrom,
        };
      }
      if (input.onTimeout === 'abort') {
        throw new GuestShutdownTimeoutError(
          `the guest did not stop within ${input.timeoutMs} ms of ShutdownGuest (still ${outcome.state.powerState}, heartbeat ${outcome.state.heartbeat}${seen(outcome)}); set options.shutdown.timeoutMs higher, or options.shutdown.onTimeout to power-off`,
        );
      }
      const hardAt = Date.now();
      await hardStop(client, input.vm, signal);
      return {
        stop: 'power-off-after-timeout',
        changed: true,
        requestedAt,
        stoppedAt: hardAt,
        lastHeartbeatAt: serviceFrom,
      };
    },

    /**
     * Checks that the stopped source is still `expected` (poweredOff after a Cold stop, suspended after
     * SmartSwitch's) before and after the copy of its final delta: a VM that something powered on again
     * (an operator, a scheduled task, a monitoring tool) writes to its disks while they are copied, so the
     * copy would not be the VM. Fails with SourceRestartedError, which rolls back.
     */
    async checkSourceStopped(
      input: VmRef & { expected: 'poweredOff' | 'suspended'; when: string; name?: string },
    ): Promise<void> {
      const client = await clientFor(input.endpoint);
      const now = await client.guest.state(input.vm, { signal: cancellation() });
      if (now.powerState !== input.expected) {
        throw new SourceRestartedError(
          `the source ${input.name ?? input.vm.value} is ${now.powerState} again ${input.when}, after quickmig had it ${input.expected} (something powered it on: an operator, a scheduled task, a monitoring tool); its disks changed, so quickmig does not copy them as the final state; leave the source off during the switchover and migrate again`,
        );
      }
    },

    /**
     * Powers the target on (or resumes it), answering "moved" when vSphere asks whether its files were
     * moved or copied; any other question fails the step at once with its text (VmQuestionError).
     */
    async startTarget(input: StartTargetInput): Promise<StartTargetResult> {
      const client = await clientFor(input.endpoint);
      try {
        const { answered } = await client.guest.powerOnAnswering(input.vm, answerMoved, {
          signal: cancellation(),
        });
        return {
          startedAt: Date.now(),
          changed: true,
          answered: answered.map(({ question, choice }) => ({
            text: question.text,
            messageIds: [...question.messageIds],
            choice,
          })),
        };
      } catch (error) {
        // Already on (an earlier attempt got that far before its worker died): done, not changed.
        if (error instanceof InvalidPowerStateError) {
          const now = await client.guest.state(input.vm);
          if (now.powerState === 'poweredOn' && !now.question) {
            return { startedAt: Date.now(), changed: false, answered: [] };
          }
        }
        throw error;
      }
    },

    /**
     * Waits until the guest's heartbeat is green and returns when it was first seen so; null after
     * `timeoutMs` (the service downtime is then unknown, which the result says; nothing fails).
     */
    async waitForService(input: VmRef & { timeoutMs: number }): Promise<{ greenAt: number | null }> {
      const client = await clientFor(input.endpoint);
      const greenAt = await client.guest.waitForHeartbeat(input.vm, {
        timeoutMs: input.timeoutMs,
        signal: cancellation(),
        onPoll: (s) => heartbeat({ guestHeartbeat: s.heartbeat }),
      });
      return { greenAt };
    },

    /** Upgrades the VM's virtual hardware to the newest version its host supports; false when it already has it. */
    async upgradeHardware(input: VmRef): Promise<{ upgraded: boolean; detail: string }> {
      const client = await clientFor(input.endpoint);
      return client.vms.upgradeHardware(input.vm, { signal: cancellation() });
    },
  };
}

/** What the shutdown wait saw of the guest besides its power state: Tools lost, a restart. */
function seen(outcome: { toolsLostAfterMs: number | null; restartedAfterMs: number | null }): string {
  if (outcome.toolsLostAfterMs === null) return '';
  if (outcome.restartedAfterMs !== null)
    return `; the guest restarted instead of powering off: VMware Tools stopped ${outcome.toolsLostAfterMs} ms after ShutdownGuest and ran again at ${outcome.restartedAfterMs} ms, the VM never left poweredOn (is the guest OS set to restart on shutdown?)`;
  return `; VMware Tools stopped responding ${outcome.toolsLostAfterMs} ms after ShutdownGuest and the VM stayed on: the guest OS hangs in its shutdown`;
}

async function hardStop(client: VSphereClient, vm: MoRef, signal: AbortSignal | undefined): Promise<void> {
  try {
    await client.vms.powerOff(vm, { signal });
  } catch (error) {
    // Off by itself meanwhile (a guest that finished its shutdown at the last moment): stopped all the same.
    if (error instanceof InvalidPowerStateError && (await client.guest.state(vm)).powerState === 'poweredOff')
      return;
    throw error;
  }
}
