import { describe, expect, it } from 'vitest';
import { projectModes } from '../../src/planner/downtime';
import { decidePlan } from '../../src/planner/plan';
import type { PrecopyRound, Projection } from '../../src/planner/precopy';
import {
  fixedOverheadMs,
  guestStopMs,
  judgeRound,
  projectAfterRound,
  projectSwitchover,
  roundOverheadMs,
  switchoverTargetMs,
} from '../../src/planner/precopy';
import type { MigrationRequestInput } from '../../src/request/request';
import { labFacts, request, variant } from './lab';

const MiB = 2 ** 20;

const round = (n: number, projectedMs: number): PrecopyRound => ({
  round: n,
  snapshot: `quickmig-x-r${n}`,
  bytes: 10 * MiB,
  writeWindowMs: 1000,
  ms: 1000,
  projectedMs,
});
const projection = (ms: number, fixedMs = 300): Projection => ({
  ms,
  bytes: 0,
  copyMs: ms - fixedMs,
  fixedMs,
});
const limits = { maxDowntimeMs: 2000, maxRounds: 5, headroom: 0 };
const slowGuest = { writeRateBps: 4 * MiB, throughputBps: 100 * MiB };

describe('projectSwitchover', () => {
  it('divides what the guest writes until the stop, the suspend state and the config by the throughput', () => {
    const p = projectSwitchover({
      writeRateBps: 10 * MiB,
      sinceSnapshotMs: 1900,
      untilStopMs: 100,
      stateBytes: 64 * MiB,
      configBytes: 16 * MiB,
      throughputBps: 100 * MiB,
      fixedMs: 400,
    });
    expect(p).toEqual({ ms: 1400, bytes: 100 * MiB, copyMs: 1000, fixedMs: 400 });
  });

  it('projects forever without a measured throughput', () => {
    const p = projectSwitchover({
      writeRateBps: 1,
      sinceSnapshotMs: 1,
      untilStopMs: 0,
      stateBytes: 0,
      configBytes: 0,
      throughputBps: 0,
      fixedMs: 0,
    });
    expect(p.ms).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('projectAfterRound', () => {
  const input = {
    writeRateBps: 2 * MiB,
    sinceSnapshotMs: 4900,
    untilStopMs: 100,
    stateBytes: 0,
    configBytes: 0,
    throughputBps: 50 * MiB,
    fixedMs: 300,
  };

  it('leaves what the guest writes while the round lists and copies the delta it froze', () => {
    // Now: 10 MiB of delta, 200 ms to copy. The round copies those 10 MiB in 200 ms after a 50 ms
    // listing; the guest writes 2 MiB/s × (250 + 100 until the stop) ms = 0.7 MiB, 14 ms to copy.
    expect(projectSwitchover(input)).toMatchObject({ ms: 500, copyMs: 200 });
    expect(projectAfterRound(input, 50)).toMatchObject({ ms: 314, copyMs: 14, fixedMs: 300 });
  });

  it('leaves the state and config bytes, which no round copies ahead', () => {
    const withState = { ...input, writeRateBps: 0, stateBytes: 25 * MiB };
    expect(projectAfterRound(withState, 50)).toEqual(projectSwitchover(withState));
  });
});

describe('judgeRound', () => {
  it('switches over when the projection fits the budget', () => {
    expect(judgeRound([round(1, 1500)], projection(1500), limits, slowGuest)).toEqual({ kind: 'fits' });
  });

  it('keeps the headroom free: a projection must fit the budget less its share', () => {
    const withHeadroom = { ...limits, headroom: 0.2 };
    expect(switchoverTargetMs(withHeadroom)).toBe(1600);
    expect(judgeRound([round(1, 1600)], projection(1600), withHeadroom, slowGuest)).toEqual({ kind: 'fits' });
    expect(judgeRound([round(1, 1700)], projection(1700), withHeadroom, slowGuest)).toEqual({
      kind: 'another-round',
    });
    const verdict = judgeRound([round(1, 1700)], projection(1700, 1650), withHeadroom, slowGuest);
    expect(verdict.kind === 'not-converging' && verdict.reason).toMatch(
      /1\.7 s > 1\.6 s \(maxDowntimeMs 2\.0 s less 20 % headroom\): the steps alone .* take 1\.6 s/,
    );
  });

  it('once it fits, tightens with another round that cuts the projection by a tenth and 20 ms', () => {
    const fits = projection(1500);
    expect(judgeRound([round(1, 1500)], fits, limits, slowGuest, projection(1300))).toEqual({
      kind: 'tighten',
      savingMs: 200,
    });
    // 100 ms is less than a tenth of 1.5 s; 19 ms is less than 20 ms.
    expect(judgeRound([round(1, 1500)], fits, limits, slowGuest, projection(1400))).toEqual({ kind: 'fits' });
    expect(judgeRound([round(1, 150)], projection(150), limits, slowGuest, projection(131))).toEqual({
      kind: 'fits',
    });
    // No round left, or judged without the after-round projection (workflows started before it).
    const spent = [1, 2, 3, 4, 5].map((n) => round(n, 1500));
    expect(judgeRound(spent, fits, limits, slowGuest, projection(300))).toEqual({ kind: 'fits' });
    expect(judgeRound([round(1, 1500)], fits, limits, slowGuest)).toEqual({ kind: 'fits' });
  });

  it('runs another round while the projection shrinks', () => {
    expect(judgeRound([round(1, 5000), round(2, 3000)], projection(3000), limits, slowGuest)).toEqual({
      kind: 'another-round',
    });
  });

  it('gives up at once when the guest writes about as fast as the copy moves', () => {
    const verdict = judgeRound([round(1, 9000)], projection(9000), limits, {
      writeRateBps: 30 * MiB,
      throughputBps: 20 * MiB,
    });
    expect(verdict).toMatchObject({ kind: 'not-converging' });
    expect(verdict.kind === 'not-converging' && verdict.reason).toMatch(
      /guest writes 30\.0 MiB\/s.*copy moves \(20\.0 MiB\/s\)/,
    );
  });

  it('gives up when the fixed steps alone exceed the budget', () => {
    const verdict = judgeRound([round(1, 2500)], projection(2500, 2100), limits, slowGuest);
    expect(verdict.kind === 'not-converging' && verdict.reason).toMatch(/steps alone .* take 2\.1 s/);
  });

  it('gives up when the rounds are spent', () => {
    const rounds = [1, 2, 3, 4, 5].map((n) => round(n, 10_000 - n * 1500));
    const verdict = judgeRound(rounds, projection(2500), limits, slowGuest);
    expect(verdict.kind === 'not-converging' && verdict.reason).toMatch(/after 5 round\(s\), the limit/);
  });

  it('gives up when two rounds in a row did not shrink the projection by a tenth', () => {
    const rounds = [round(1, 4000), round(2, 3900), round(3, 3800)];
    const verdict = judgeRound(rounds, projection(3800), { ...limits, maxRounds: 10 }, slowGuest);
    expect(verdict.kind === 'not-converging' && verdict.reason).toMatch(
      /did not shrink it \(4\.0 s → 3\.9 s → 3\.8 s\)/,
    );
  });
});

describe('fixedOverheadMs', () => {
  it('counts three vSphere tasks, one listing and one copy step, by their medians without the slowest', () => {
    expect(fixedOverheadMs({ taskMs: [100, 300, 200], listMs: [40, 60], copyOverheadMs: [150] })).toBe(
      3 * 150 + 40 + 150,
    );
  });

  it('is not thrown off by a step a worker crash stretched', () => {
    expect(fixedOverheadMs({ taskMs: [120, 30_000], listMs: [20], copyOverheadMs: [100, 90] })).toBe(
      3 * 120 + 20 + 90,
    );
  });

  it('of which a round spends the listing and a copy step', () => {
    expect(roundOverheadMs({ taskMs: [100, 300, 200], listMs: [40, 60], copyOverheadMs: [150] })).toBe(
      40 + 150,
    );
  });

  it('is 0 before anything was measured', () => {
    expect(fixedOverheadMs({ taskMs: [], listMs: [], copyOverheadMs: [] })).toBe(0);
  });
});

describe('decidePlan: downtime budget and window', () => {
  const esxToEsx: MigrationRequestInput = {
    source: { endpoint: 'esx-a', name: 'ir-app01' },
    target: { endpoint: 'esx-b', datastore: 'datastore1' },
  };
  const plan = (options: MigrationRequestInput['options'], now?: number) => {
    const req = request({ ...esxToEsx, options });
    return decidePlan(
      req,
      variant(labFacts(req), (f) => {
        if (now !== undefined) f.now = now;
      }),
    );
  };

  it('a budget adds pre-copy rounds, a window its wait, both before the switchover', () => {
    const steps = plan({
      maxDowntimeMs: 2000,
      switchover: 'manual',
      window: { notBefore: '2026-11-28T22:00:00Z' },
    }).steps;
    expect(steps.slice(steps.indexOf('bulk-copy'), steps.indexOf('suspend'))).toEqual([
      'bulk-copy',
      'precopy',
      'await-window',
      'await-switchover',
    ]);
    expect(plan({}).steps).not.toContain('precopy');
  });

  it('refuses a window that closes before it opens, or has closed', () => {
    const empty = plan({ window: { notBefore: '2026-11-28T22:00:00Z', notAfter: '2026-11-28T21:00:00Z' } });
    expect(empty.findings).toContainEqual(
      expect.objectContaining({ severity: 'error', code: 'window-empty', field: 'options.window.notAfter' }),
    );
    const passed = plan({ window: { notAfter: '2026-11-25T21:00:00Z' } }, Date.parse('2026-11-26T12:00:00Z'));
    expect(passed.blocked).toBe(true);
    expect(passed.findings).toContainEqual(
      expect.objectContaining({
        code: 'window-passed',
        message: expect.stringMatching(/move notAfter into the future or remove it/),
      }),
    );
    const invalid = plan({ window: { notBefore: '2026-13-45T22:00:00Z' } });
    expect(invalid.findings).toContainEqual(
      expect.objectContaining({ code: 'window-invalid', field: 'options.window.notBefore' }),
    );
  });

  it('ignores a budget, with a warning, where nothing stops', () => {
    const vmotion = decidePlan(
      request({
        source: { endpoint: 'vcenter', name: 'web01' },
        target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'local-esx02' },
        options: { maxDowntimeMs: 500 },
      }),
      labFacts(
        request({
          source: { endpoint: 'vcenter', name: 'web01' },
          target: { endpoint: 'vcenter', host: 'esx02.lab', datastore: 'local-esx02' },
        }),
      ),
    );
    expect(vmotion.method).toBe('vmotion');
    expect(vmotion.blocked).toBe(false);
    expect(vmotion.findings).toContainEqual(
      expect.objectContaining({ severity: 'warning', code: 'budget-not-applicable' }),
    );
  });
});

describe('guestStopMs', () => {
  const downtime = projectModes(['smartswitch', 'cold'], {
    memoryBytes: 1024 * 2 ** 20,
    switchoverBytes: 0,
    switchoverBytesSource: 'test',
    sourceHomeWrite: { bps: 400e6, source: 'test' },
    targetHomeRead: { bps: 400e6, source: 'test' },
    copy: { bps: 400e6, source: 'test' },
    coldStop: 'guest',
  });

  it("is a Cold source's projected guest shutdown: the guest writes on until it stops", () => {
    expect(guestStopMs('cold', downtime)).toBe(20_000);
  });

  it('is 0 for SmartSwitch (a suspend freezes the guest), a hard stop, or a plan without a projection', () => {
    expect(guestStopMs('smartswitch', downtime)).toBe(0);
    const hard = projectModes(['cold'], { ...downtime.input, coldStop: 'power-off' });
    expect(guestStopMs('cold', hard)).toBe(0);
    expect(guestStopMs('cold', null)).toBe(0);
  });

  it('grows the projected switchover by what the guest writes meanwhile', () => {
    const input = {
      writeRateBps: 6 * 2 ** 20,
      sinceSnapshotMs: 0,
      untilStopMs: 0,
      stateBytes: 0,
      configBytes: 0,
      throughputBps: 12 * 2 ** 20,
      fixedMs: 500,
    };
    const plain = projectSwitchover(input);
    const shutdown = projectSwitchover({ ...input, untilStopMs: guestStopMs('cold', downtime) });
    // 20 s of writes at 6 MiB/s is 120 MiB: 10 s at 12 MiB/s, inside the downtime.
    expect(shutdown.ms - plain.ms).toBe(10_000);
  });
});
