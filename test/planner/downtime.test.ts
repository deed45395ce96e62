import { describe, expect, it } from 'vitest';
import type { DowntimeInput } from '../../src/planner/downtime';
import {
  compareDowntime,
  copyRate,
  datastoreKind,
  fastestMode,
  physicalLimit,
  projectMode,
  projectModes,
} from '../../src/planner/downtime';
import { explainPlan } from '../../src/planner/explain';
import type { MigrationFacts } from '../../src/planner/facts';
import { decidePlan } from '../../src/planner/plan';
import type { MigrationRequestInput } from '../../src/request/request';
import { labFacts, request, variant } from './lab';

const MB = 1_000_000;
const MiB = 2 ** 20;

const base: DowntimeInput = {
  memoryBytes: 4096 * MiB,
  switchoverBytes: 0,
  switchoverBytesSource: 'of configuration',
  sourceHomeWrite: { bps: 400 * MB, source: 'ds-a, vmfs default' },
  targetHomeRead: { bps: 400 * MB, source: 'ds-b, vmfs default' },
  copy: { bps: 400 * MB, source: 'ds-a read, vmfs default' },
  coldStop: 'guest',
};

describe('projectMode', () => {
  const table: {
    name: string;
    mode: 'smartswitch' | 'cold';
    input: Partial<DowntimeInput>;
    downtimeMs: number;
    serviceDowntimeMs: number;
    steps: string[];
  }[] = [
    {
      // 4 GiB ÷ 400 MB/s = 10737 ms, three times (suspend, copy, resume), + register 1000 + task 500.
      name: 'SmartSwitch of 4 GiB on VMFS at 400 MB/s',
      mode: 'smartswitch',
      input: {},
      downtimeMs: 10_737 * 3 + 1000 + 500,
      serviceDowntimeMs: 10_737 * 3 + 1000 + 500 + 2000,
      steps: ['suspend', 'copy', 'register', 'resume', 'heartbeat'],
    },
    {
      // Suspend to the IR share at 100 MB/s: 42950 ms; the copy reads it back at 100 MB/s too.
      name: 'SmartSwitch of 4 GiB from the Instant Recovery share',
      mode: 'smartswitch',
      input: {
        sourceHomeWrite: { bps: 100 * MB, source: 'IR-NFS, instant-recovery default' },
        copy: { bps: 100 * MB, source: 'IR-NFS read' },
        switchoverBytes: 100 * MB,
      },
      downtimeMs: 42_950 + Math.round(((4096 * MiB + 100 * MB) * 1000) / (100 * MB)) + 1000 + 10_737 + 500,
      serviceDowntimeMs:
        42_950 + Math.round(((4096 * MiB + 100 * MB) * 1000) / (100 * MB)) + 1000 + 10_737 + 500 + 2000,
      steps: ['suspend', 'copy', 'register', 'resume', 'heartbeat'],
    },
    {
      // Memory does not move in Cold: 200 MB of changes ÷ 400 MB/s = 500 ms + register + power-on.
      name: 'Cold with a guest shutdown: the shutdown and the boot count for the service only',
      mode: 'cold',
      input: { switchoverBytes: 200 * MB },
      downtimeMs: 500 + 1000 + 500,
      serviceDowntimeMs: 20_000 + 500 + 1000 + 500 + 40_000,
      steps: ['shutdown', 'copy', 'register', 'power-on', 'heartbeat'],
    },
    {
      name: 'Cold with a hard power-off',
      mode: 'cold',
      input: { coldStop: 'power-off' },
      downtimeMs: 500 + 0 + 1000 + 500,
      serviceDowntimeMs: 500 + 1000 + 500 + 40_000,
      steps: ['power-off', 'copy', 'register', 'power-on', 'heartbeat'],
    },
    {
      name: 'times given replace the defaults',
      mode: 'cold',
      input: { times: { guestShutdownMs: 5000, bootToHeartbeatMs: 10_000 } },
      downtimeMs: 1500,
      serviceDowntimeMs: 5000 + 1500 + 10_000,
      steps: ['shutdown', 'copy', 'register', 'power-on', 'heartbeat'],
    },
  ];
  it.each(table)('$name', ({ mode, input, downtimeMs, serviceDowntimeMs, steps }) => {
    const p = projectMode(mode, { ...base, ...input });
    expect(p.downtimeMs).toBe(downtimeMs);
    expect(p.serviceDowntimeMs).toBe(serviceDowntimeMs);
    expect(p.terms.map((t) => t.step)).toEqual(steps);
  });

  it('says how each term was computed, with the rate and where it came from', () => {
    const p = projectMode('smartswitch', base);
    expect(p.terms[0]?.how).toBe('4096 MiB of memory ÷ 400 MB/s (ds-a, vmfs default)');
    expect(p.terms[1]?.how).toBe(
      '(4096 MiB suspend state + 0 MiB of configuration) ÷ 400 MB/s (ds-a read, vmfs default)',
    );
  });
});

describe('physicalLimit', () => {
  /** An environment of VMFS datastores at 400 MB/s, a 10 Gb/s link and the realistic guest times. */
  const environment = (rates: { sourceWriteBps?: number; sourceReadBps?: number } = {}) => ({
    sourceWriteBps: 400 * MB,
    sourceReadBps: 400 * MB,
    targetWriteBps: 400 * MB,
    targetReadBps: 400 * MB,
    linkBps: 1250 * MB,
    guestShutdownMs: 20_000,
    bootToHeartbeatMs: 40_000,
    resumeToHeartbeatMs: 2_000,
    ...rates,
  });

  it('is the sum of the transfers at the environment rates, with no fixed costs', () => {
    const env = environment({ sourceWriteBps: 100 * MB, sourceReadBps: 100 * MB });
    // 1 GiB written at 100 MB/s, copied at 100 MB/s (the source read), read back at 400 MB/s.
    const smart = physicalLimit('smartswitch', env, { memoryBytes: 1024 * MiB, switchoverBytes: 0 });
    expect(smart.downtimeMs).toBe(10_737 + 10_737 + 0 + 2_684);
    expect(smart.serviceDowntimeMs).toBe(smart.downtimeMs + 2_000);
    const cold = physicalLimit('cold', env, { memoryBytes: 1024 * MiB, switchoverBytes: 100 * MB });
    expect(cold.downtimeMs).toBe(1_000);
    expect(cold.serviceDowntimeMs).toBe(20_000 + 1_000 + 40_000);
  });

  it('with readBack, the copy also reads every byte back from the target (verify sha256)', () => {
    const env = environment();
    const sizes = { memoryBytes: 4096 * MiB, switchoverBytes: 0 };
    const once = physicalLimit('smartswitch', env, sizes);
    const verified = physicalLimit('smartswitch', env, sizes, { readBack: true });
    // 4 GiB at 400 MB/s is 10.7 s: suspend, copy, resume; the read-back doubles the copy's.
    expect(once.downtimeMs).toBe(10_737 + 10_737 + 10_737);
    expect(verified.downtimeMs).toBe(10_737 + 21_475 + 10_737);
    expect(verified.terms.find((t) => t.step === 'copy')?.how).toContain('read back from the target');
  });
});

describe('rates', () => {
  it.each([
    { type: 'VMFS', ir: false, kind: 'vmfs' },
    { type: 'NFS', ir: false, kind: 'nfs' },
    { type: 'NFS41', ir: false, kind: 'nfs' },
    { type: 'NFS', ir: true, kind: 'instant-recovery' },
    { type: 'vsan', ir: false, kind: 'vmfs' },
  ])('$type (instant recovery: $ir) is $kind', ({ type, ir, kind }) => {
    expect(datastoreKind(type, ir)).toBe(kind);
  });

  it('the copy rate is the slowest of source read, target write and link, unless one was measured', () => {
    const ir = { name: 'IR-NFS', kind: 'instant-recovery' as const };
    const vmfs = { name: 'datastore1', kind: 'vmfs' as const };
    expect(copyRate(undefined, ir, vmfs)).toEqual({
      bps: 100 * MB,
      source: 'IR-NFS read, instant-recovery default',
    });
    expect(copyRate(undefined, vmfs, { name: 'nas', kind: 'nfs' })).toEqual({
      bps: 150 * MB,
      source: 'nas write, nfs default',
    });
    const measured = {
      bytes: 1024 * MiB,
      ms: 4000,
      at: 0,
      sourceEndpoint: 'esx-a',
      targetEndpoint: 'esx-b',
    };
    expect(copyRate(measured, ir, vmfs)).toEqual({
      bps: (1024 * MiB * 1000) / 4000,
      source: 'measured over 1024 MiB copied esx-a → esx-b',
    });
    // verify sha256 reads every byte back from the target: a second pass at its read rate (400 MB/s).
    expect(copyRate(undefined, ir, vmfs, { readBack: true })).toEqual({
      bps: 1 / (1 / (100 * MB) + 1 / (400 * MB)),
      source: 'IR-NFS read, instant-recovery default, then read back at 400 MB/s for verify sha256',
    });
    expect(copyRate(measured, ir, vmfs, { readBack: true }).bps).toBe((1024 * MiB * 1000) / 4000);
    // A tiny copy says more about fixed costs than about the rate: the defaults stay.
    expect(copyRate({ ...measured, bytes: MiB, ms: 1000 }, ir, vmfs).source).toBe(
      'IR-NFS read, instant-recovery default',
    );
  });
});

describe('fastest and comparison', () => {
  it('picks the mode with the lower service downtime', () => {
    const big = projectModes(['smartswitch', 'cold'], { ...base, memoryBytes: 8192 * MiB });
    // 8 GiB SmartSwitch: 3 × 21475 + 1500 + 2000 = 67.9 s; Cold: 20 + 2 + 40 = 62 s.
    expect(fastestMode(big)?.mode).toBe('cold');
    const small = projectModes(['smartswitch', 'cold'], { ...base, memoryBytes: 1024 * MiB });
    expect(fastestMode(small)?.mode).toBe('smartswitch');
  });

  it('puts the measured downtime beside the projection', () => {
    const planned = projectMode('cold', base);
    expect(compareDowntime(planned, null, { downtimeMs: 3000, serviceDowntimeMs: 61_000 })).toEqual({
      mode: 'cold',
      projectedDowntimeMs: 1500,
      projectedServiceDowntimeMs: 61_500,
      atSwitchover: null,
      measuredDowntimeMs: 3000,
      measuredServiceDowntimeMs: 61_000,
      ratio: 2,
    });
  });
});

describe('the plan', () => {
  /** ir-app01 (running from IR-NFS on esx-a) to esx-b, with its memory and facts varied. */
  function plan(input: Partial<MigrationRequestInput> = {}, change: (f: MigrationFacts) => void = () => {}) {
    const req = request({
      source: { endpoint: 'esx-a', name: 'ir-app01' },
      target: { endpoint: 'esx-b', datastore: 'datastore1' },
      ...input,
    });
    return decidePlan(req, variant(labFacts(req), change));
  }

  it('projects every mode the rules allow, with the IR share rate for the suspend', () => {
    const p = plan({}, (f) => {
      f.vm.memoryMiB = 4096;
    });
    expect(p.mode).toBe('smartswitch');
    expect(p.downtime?.modes.map((m) => m.mode)).toEqual(['smartswitch', 'cold']);
    const smart = p.downtime?.modes[0];
    expect(smart?.terms[0]?.how).toBe('4096 MiB of memory ÷ 100 MB/s (IR-NFS, instant-recovery default)');
    // verify sha256 (the default) reads the copy back from datastore1 (VMFS, 400 MB/s) after it.
    expect(p.downtime?.input.copy.source).toBe(
      'IR-NFS read, instant-recovery default, then read back at 400 MB/s for verify sha256',
    );
    expect(p.downtime?.input.copy.bps).toBe(80 * MB);
    const noReadBack = plan({ options: { verify: 'size' } }, (f) => {
      f.vm.memoryMiB = 4096;
    });
    expect(noReadBack.downtime?.input.copy).toEqual({
      bps: 100 * MB,
      source: 'IR-NFS read, instant-recovery default',
    });
  });

  it('mode fastest chooses by the projection and says why', () => {
    const p = plan({ options: { mode: 'fastest' } }, (f) => {
      f.vm.memoryMiB = 8192;
    });
    // 8 GiB from the IR share: the suspend and the copy at 100 MB/s make SmartSwitch the slower one.
    expect(p.mode).toBe('cold');
    const reason = p.reasons.find((r) => r.rule === 'R12-mode-fastest');
    expect(reason?.decision).toMatch(
      /^cold: projected service downtime [\d.]+ s against [\d.]+ s for smartswitch$/,
    );
    expect(p.steps).toContain('stop');

    const small = plan({ options: { mode: 'fastest' } }, (f) => {
      f.vm.memoryMiB = 512;
    });
    expect(small.mode).toBe('smartswitch');
  });

  it('mode fastest never picks a mode the rules forbid', () => {
    const p = plan({ options: { mode: 'fastest' } }, (f) => {
      f.vm.memoryMiB = 512;
      f.targetHost.cpuVendor = 'amd';
    });
    expect(p.mode).toBe('cold');
    expect(p.downtime?.modes.map((m) => m.mode)).toEqual(['cold']);
  });

  it('a Cold migration of a guest without Tools is blocked unless the request asks for a hard stop', () => {
    const noTools = (f: MigrationFacts) => {
      f.vm.guestHeartbeat = false;
    };
    const blocked = plan({ options: { mode: 'cold' } }, noTools);
    expect(blocked.blocked).toBe(true);
    expect(blocked.findings).toContainEqual(
      expect.objectContaining({ code: 'guest-tools-not-running', field: 'options.shutdown.mode' }),
    );
    const hard = plan({ options: { mode: 'cold', shutdown: { mode: 'power-off' } } }, noTools);
    expect(hard.findings.map((f) => f.code)).not.toContain('guest-tools-not-running');
    expect(hard.downtime?.modes[0]?.terms[0]?.step).toBe('power-off');
    // Tools installed but not running yet (a guest still booting): the shutdown will wait; a warning.
    const booting = plan({ options: { mode: 'cold' } }, (f) => {
      f.switchover = { sourceHomeType: 'VMFS', toolsRunning: false, toolsInstalled: true };
    });
    expect(booting.blocked).toBe(false);
    expect(booting.findings).toContainEqual(
      expect.objectContaining({ severity: 'warning', code: 'guest-tools-not-running' }),
    );
    // SmartSwitch does not shut the guest down: no finding.
    expect(plan({}, noTools).findings.map((f) => f.code)).not.toContain('guest-tools-not-running');
  });

  it('no projection for a VM that is not running or for vMotion', () => {
    const off = plan({ source: { endpoint: 'esx-a', name: 'off01' } });
    expect(off.downtime).toBeNull();
    const req = request({
      source: { endpoint: 'vcenter', name: 'web01' },
      target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' },
    });
    expect(decidePlan(req, labFacts(req)).downtime).toBeNull();
  });

  it('uses a measured copy rate when the worker has one', () => {
    const p = plan({}, (f) => {
      f.switchover = {
        sourceHomeType: 'NFS',
        toolsRunning: true,
        measuredCopy: { bytes: 512 * MiB, ms: 2000, at: 0, sourceEndpoint: 'esx-a', targetEndpoint: 'esx-b' },
      };
    });
    expect(p.downtime?.input.copy).toEqual({
      bps: (512 * MiB * 1000) / 2000,
      source: 'measured over 512 MiB copied esx-a → esx-b',
    });
  });

  it('quickmig plan shows the projection per mode and how each term was computed', () => {
    const p = plan({}, (f) => {
      f.vm.memoryMiB = 4096;
    });
    const text = explainPlan(p).join('\n');
    expect(text).toMatch(/^ {2}smartswitch \(chosen\): downtime [\d.]+ s, service [\d.]+ s$/m);
    expect(text).toMatch(/^ {2}cold: downtime [\d.]+ s, service [\d.]+ s$/m);
    expect(text).toContain('4096 MiB of memory ÷ 100 MB/s (IR-NFS, instant-recovery default)');
    expect(text).toMatch(
      /shutdown +20\.0 s \(service only\) +guest OS shutdown through VMware Tools \(default\)/,
    );
  });
});
