/**
 * The switchover as it works on a real host (patch SWITCHOVER_TRUTH in ../patches.ts): the target's
 * .vmx keeps the VM's identity and drops ISO media that would tie it to the source; the source stops
 * the way the request says (suspend, guest shutdown with a deadline, hard stop); the target starts
 * answering "moved"; both downtimes are measured and put beside the plan's projection.
 *
 * Workflows that started before this patch keep their old steps (hard power-off, plain power-on) so
 * their histories replay; `enabled` says which one runs.
 */
import type { ActivityOptions } from '@temporalio/common';
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import { patched } from '@temporalio/workflow';
import type { PreparedMigration } from '../../activities/preflight';
import type { createSwitchoverActivities, StopSourceResult } from '../../activities/switchover';
import type { ModeProjection } from '../../planner/downtime';
import { compareDowntime, projectMode } from '../../planner/downtime';
import type { FileCopyPlan } from '../../planner/files';
import type { VmxEdit } from '../../planner/vmx';
import { KEEP_IDENTITY } from '../../planner/vmx';
import { step as run, sourceReturnOptions, stepWith } from '../activity-options';
import type { MigrationProgress, QuickMigrationOptions, SwitchoverReport } from '../definitions';
import { SOURCE_HOST_RETURN, SOURCE_STAYS_STOPPED, SWITCHOVER_TRUTH } from '../patches';

type SwitchoverActivities = ActivityInterfaceFor<ReturnType<typeof createSwitchoverActivities>>;
type MoRef = PreparedMigration['source']['vm'];

/** Defaults of options.shutdown (as in the schema), for requests normalized before it existed. */
const SHUTDOWN_DEFAULTS = { mode: 'guest', timeoutMs: 300_000, onTimeout: 'abort' } as const;
/** Defaults of options.targetVm, likewise. */
const TARGET_VM_DEFAULTS = { disconnectMedia: true, upgradeHardware: false } as const;

/** What the switchover steps need from the workflow around them. */
export interface SwitchoverDeps {
  prepared: PreparedMigration;
  progress: MigrationProgress;
  /** Short control steps. */
  control: SwitchoverActivities;
  /** Steps that wait on the guest (shutdown, heartbeat): long start-to-close, heartbeating. */
  longControl: SwitchoverActivities;
  /** Pushes a compensation (rollback runs them in reverse). */
  compensate(what: string, undo: () => Promise<unknown>): void;
  /** The workflow's options (the rollback's wait for a source host that went away). */
  options?: QuickMigrationOptions;
}

/** Builds the switchover steps of one migration; see the module comment. */
export function switchoverSteps(deps: SwitchoverDeps) {
  const { prepared, progress, control, longControl } = deps;
  const { plan, source, target, request } = prepared;
  const enabled = patched(SWITCHOVER_TRUTH);
  // The rollback waits for a source host that went away, and the failure reports the real downtime.
  const hostReturn = enabled && patched(SOURCE_HOST_RETURN);
  // Absent from requests normalized before these options existed: their defaults apply.
  const shutdown = request.options.shutdown ?? SHUTDOWN_DEFAULTS;
  const targetVm = request.options.targetVm ?? TARGET_VM_DEFAULTS;
  const report: SwitchoverReport = { stop: null, answered: [], hardware: null, projection: null };
  let stopped: StopSourceResult | null = null;
  let greenAt: number | null = null;
  let switchoverBytes = 0;

  const vmxEdit: VmxEdit = {
    set: KEEP_IDENTITY,
    disconnectIsoOn: targetVm.disconnectMedia
      ? [
          ...(source.mediaDatastores ?? []),
          ...(source.instantRecoveryDatastore ? [source.instantRecoveryDatastore.name] : []),
        ]
      : [],
  };

  return {
    enabled,
    hostReturn,

    /** The .vmx edit for a copy of the source's .vmx (identity and media), else undefined. */
    vmxFor(copy: FileCopyPlan): VmxEdit | undefined {
      return enabled && copy.source === source.vmxPath ? vmxEdit : undefined;
    },

    /** Counts the bytes the switchover's own copy moves (for the projection at the switchover). */
    countSwitchoverBytes(bytes: number): void {
      switchoverBytes += bytes;
    },

    /**
     * Stops the running source; returns when the VM's downtime started. The compensation (power the
     * source on again, as it was) is pushed first: a guest shutdown that times out with onTimeout
     * abort leaves a running source behind, and the rollback must still make sure it runs.
     */
    async stop(): Promise<number> {
      const smart = plan.mode === 'smartswitch';
      const how = smart ? 'suspend' : shutdown.mode === 'power-off' ? 'power-off' : 'guest';
      deps.compensate('restored the source to poweredOn', async () => {
        // The source is started the same way as a target: a question on the way is answered too.
        const vm = { endpoint: source.endpoint, vm: source.vm };
        if (!hostReturn) return run(control.startTarget, `Rollback: power ${source.name} on again`, vm);
        // Its host may not answer (it went away after the stop): retried until it does, so the VM
        // runs again whenever the host returns; the downtime is then from the stop to this start.
        const again = await stepWith(
          control.startTarget,
          sourceReturnOptions(deps.options ?? {}),
          `Rollback: power ${source.name} on again (retried until ${source.endpoint} answers)`,
          vm,
        );
        if (stopped) progress.downtimeMs = again.startedAt - stopped.stoppedAt;
        return again;
      });
      const activity = how === 'guest' ? longControl.stopSource : control.stopSource;
      const what =
        how === 'suspend'
          ? `Suspend ${source.name}: downtime starts`
          : how === 'guest'
            ? `Shut down the guest of ${source.name} (up to ${shutdown.timeoutMs} ms): downtime starts at poweredOff`
            : `Power off ${source.name} (options.shutdown.mode power-off): downtime starts`;
      const scheduledAt = Date.now();
      const result = await run(activity, what, {
        endpoint: source.endpoint,
        vm: source.vm,
        how,
        timeoutMs: shutdown.timeoutMs,
        onTimeout: shutdown.onTimeout,
      });
      // A retry that found the source already stopped (its worker died after stopping it): the real
      // stop happened after this step was scheduled; count from then, so downtime is never under-reported.
      stopped = result.changed
        ? result
        : { ...result, stoppedAt: scheduledAt, lastHeartbeatAt: result.lastHeartbeatAt ?? scheduledAt };
      report.stop = stopped.stop;
      return stopped.stoppedAt;
    },

    /**
     * Fails the migration (SourceRestartedError, so it rolls back) when the source this switchover
     * stopped is running again: checked before and after the final copy, so a target is never made
     * from disks that changed while they were copied. Only for a source `stop` stopped; `options`
     * bound the check's retries (switchoverRetryTimeout on a source whose host may go away).
     */
    async assertStopped(
      when: 'before the final copy' | 'after the final copy',
      options: Partial<ActivityOptions> = {},
    ): Promise<void> {
      if (stopped === null || !patched(SOURCE_STAYS_STOPPED)) return;
      await stepWith(
        control.checkSourceStopped,
        options,
        `Check that ${source.name} is still stopped ${when}`,
        {
          endpoint: source.endpoint,
          vm: source.vm,
          expected: plan.mode === 'smartswitch' ? 'suspended' : 'poweredOff',
          when,
          name: source.name,
        },
      );
    },

    /** For the copy of the final delta: the state the stopped source must keep meanwhile, else undefined. */
    stoppedState(): { vm: MoRef; name: string; expected: 'poweredOff' | 'suspended' } | undefined {
      if (stopped === null || !patched(SOURCE_STAYS_STOPPED)) return undefined;
      return {
        vm: source.vm,
        name: source.name,
        expected: plan.mode === 'smartswitch' ? 'suspended' : 'poweredOff',
      };
    },

    /** After the target's registration, before its start: the hardware upgrade when asked and possible. */
    async beforeStart(vm: MoRef): Promise<void> {
      // A suspended VM cannot be upgraded (its state is tied to its hardware): SmartSwitch and a
      // suspended source keep their version, as the plan warned.
      if (!enabled || !targetVm.upgradeHardware || plan.targetPowerState === 'suspended') return;
      if (plan.mode === 'smartswitch' && source.powerState === 'poweredOn') return;
      report.hardware = await run(
        control.upgradeHardware,
        `Upgrade the virtual hardware of ${target.temporaryName}`,
        { endpoint: target.endpoint, vm },
      );
    },

    /** Starts (or resumes) the target, answering "moved"; returns when it ran: downtime ends. */
    async start(vm: MoRef): Promise<number> {
      const started = await run(
        control.startTarget,
        `${plan.mode === 'smartswitch' ? 'Resume' : 'Start'} ${target.temporaryName} on ${target.hostName}: downtime ends`,
        { endpoint: target.endpoint, vm },
      );
      report.answered = started.answered;
      return started.startedAt;
    },

    /**
     * Waits for the target guest's heartbeat, when the source guest had one (else there is nothing to
     * wait for and the service downtime stays unknown). Never fails the migration: the target runs.
     */
    async waitForService(vm: MoRef, timeoutMs: number): Promise<void> {
      if (!enabled || stopped?.lastHeartbeatAt == null) return;
      try {
        ({ greenAt } = await run(
          longControl.waitForService,
          `Wait for the guest heartbeat of ${target.temporaryName}: service downtime ends`,
          { endpoint: target.endpoint, vm, timeoutMs },
        ));
      } catch {
        greenAt = null;
      }
      progress.serviceDowntimeMs = greenAt === null ? null : greenAt - stopped.lastHeartbeatAt;
    },

    /** The result's switchover report and service downtime. */
    finish(measured: { downtimeMs: number | null; copyBytes: number; copyMs: number }): {
      switchover: SwitchoverReport | null;
      serviceDowntimeMs: number | null;
    } {
      if (!enabled) return { switchover: null, serviceDowntimeMs: null };
      const serviceDowntimeMs = progress.serviceDowntimeMs ?? null;
      const planned = plan.downtime?.modes.find((m) => m.mode === plan.mode);
      if (planned && plan.downtime && plan.mode && source.powerState === 'poweredOn') {
        const input = plan.downtime.input;
        const memory = plan.mode === 'smartswitch' ? input.memoryBytes : 0;
        const atSwitchover: ModeProjection = projectMode(plan.mode, {
          ...input,
          switchoverBytes: Math.max(0, switchoverBytes - memory),
          switchoverBytesSource: 'copied at the switchover',
          copy:
            measured.copyMs > 0 && measured.copyBytes > 0
              ? {
                  bps: (measured.copyBytes * 1000) / measured.copyMs,
                  source: 'measured over this migration’s copies',
                }
              : input.copy,
        });
        report.projection = compareDowntime(planned, atSwitchover, {
          downtimeMs: measured.downtimeMs,
          serviceDowntimeMs,
        });
      }
      return { switchover: report, serviceDowntimeMs };
    },
  };
}

/** What `switchoverSteps` returns. */
export type SwitchoverSteps = ReturnType<typeof switchoverSteps>;
