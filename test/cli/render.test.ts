import { describe, expect, it } from 'vitest';
import { batchCountsLine, batchLimitsLine, batchLines, reportLines } from '../../src/cli/render';
import type { BatchProgress, BatchVm } from '../../src/workflows/batch';
import type { MigrationResult } from '../../src/workflows/definitions';

const base: MigrationResult = {
  migrationId: 'quickmig-esx-a-app01',
  method: 'quick-migration',
  mode: 'cold',
  relocation: 'host+datastore',
  reasons: [],
  warnings: [],
  downtimeMs: 1800,
  bytesCopied: 0,
  verified: [],
  target: {
    endpoint: 'esx-b',
    moref: 'vm-9',
    name: 'app01',
    host: 'esx-b.lab',
    datastores: ['datastore1'],
    powerState: 'poweredOn',
    snapshots: 0,
  },
  source: { endpoint: 'esx-a', name: 'app01_migrated', action: 'kept', detail: 'kept' },
  instantRecovery: null,
  phases: {},
  precopy: null,
};

describe('reportLines', () => {
  it('shows both downtimes, how the source stopped and the projection beside the measurement', () => {
    const lines = reportLines(
      {
        ...base,
        serviceDowntimeMs: 63_500,
        switchover: {
          stop: 'power-off-after-timeout',
          answered: [{ text: 'moved or copied?', messageIds: ['msg.uuid.altered'], choice: '1' }],
          hardware: { upgraded: true, detail: 'upgraded from vmx-13 to vmx-19' },
          projection: {
            mode: 'cold',
            projectedDowntimeMs: 2000,
            projectedServiceDowntimeMs: 62_000,
            atSwitchover: null,
            measuredDowntimeMs: 1800,
            measuredServiceDowntimeMs: 63_500,
            ratio: 0.9,
          },
        },
      },
      { id: 'quickmig-esx-a-app01', durationMs: null },
    );
    expect(lines).toContain(
      "  service       1m04s (source guest's last heartbeat → target guest's heartbeat)",
    );
    expect(lines).toContain(
      '  stop          powered off hard: the guest did not stop within options.shutdown.timeoutMs',
    );
    expect(lines).toContain('  projection    downtime 2.00 s, service 1m02s; measured ÷ projected 0.90');
    expect(lines).toContain('  question      answered 1 to msg.uuid.altered');
    expect(lines).toContain('  hardware      upgraded from vmx-13 to vmx-19');
  });

  it('says when the service downtime could not be measured, and shows nothing extra for older results', () => {
    const lines = reportLines(
      {
        ...base,
        serviceDowntimeMs: null,
        switchover: { stop: 'power-off', answered: [], hardware: null, projection: null },
      },
      { id: 'x', durationMs: null },
    );
    expect(lines).toContain('  service       not measured (no guest heartbeat on the source or the target)');
    expect(reportLines(base, { id: 'x', durationMs: null }).some((l) => l.startsWith('  service'))).toBe(
      false,
    );
  });

  it('shows how the commit window ended', () => {
    const lines = reportLines(
      {
        ...base,
        commitWindow: {
          afterMs: 3_600_000,
          openedAt: '2026-12-03T10:00:00.000Z',
          endsAt: '2026-12-03T11:00:00.000Z',
          sourceKeptAs: 'app01_migrated',
          state: 'committed',
          endedBy: 'commit',
          endedAt: '2026-12-03T10:20:00.000Z',
        },
      },
      { id: 'x', durationMs: null },
    );
    expect(lines).toContain(
      '  commit window 1h00m00s from 2026-12-03T10:00:00.000Z; ended 2026-12-03T10:20:00.000Z by the commit update',
    );
    expect(reportLines(base, { id: 'x', durationMs: null }).some((l) => l.startsWith('  commit'))).toBe(
      false,
    );
  });
  it('shows a test migration: boot time, isolation, projected downtime and the cleanup', () => {
    /** A test report: the fields every case shares, then the case's own. */
    const test = (over: Partial<NonNullable<MigrationResult['test']>>): MigrationResult['test'] => ({
      vm: { name: 'app01-test', moref: 'vm-24' },
      bootMs: 614,
      startedAt: '2026-12-03T11:02:57.027Z',
      heartbeatAt: '2026-12-03T11:02:57.641Z',
      isolated: 'adapters-disconnected',
      projectedDowntimeMs: 4184,
      projectedServiceDowntimeMs: 6184,
      mode: 'smartswitch',
      afterTest: null,
      kept: false,
      cleanup: [],
      cleanedAt: '2026-12-03T11:02:58.255Z',
      ...over,
    });
    const testLine = (t: MigrationResult['test']) =>
      reportLines({ ...base, test: t }, { id: 'x', durationMs: null }).find((l) =>
        l.startsWith('  test   '),
      ) ?? '';
    const lines = reportLines(
      { ...base, test: test({ cleanup: ['unregistered the test VM app01-test (powered off first)'] }) },
      { id: 'x', durationMs: null },
    );
    const line = lines.find((l) => l.startsWith('  test   ')) ?? '';
    expect(line).toMatch(/app01-test booted isolated \(adapters disconnected\) in .+ to its guest heartbeat/);
    expect(line).toMatch(/real run projected downtime .+ \(service .+, smartswitch\)/);
    expect(lines).toContain(
      '  test cleanup  unregistered the test VM app01-test (powered off first) at 2026-12-03T11:02:58.255Z',
    );
    expect(line).not.toContain('with the test');
    const measured = test({
      afterTest: { mode: 'smartswitch', downtimeMs: 3000, serviceDowntimeMs: 5000, terms: [] },
      kept: true,
    });
    expect(testLine(measured)).toMatch(/; with the test's measurements 3.00 s \(service 5.00 s\)$/);
    expect(reportLines(base, { id: 'x', durationMs: null }).some((l) => l.startsWith('  test'))).toBe(false);
    const onNetwork = test({
      isolated: 'test-network',
      network: {
        name: 'test-isolated',
        adapters: [
          { label: 'Network adapter 1', macAddress: '00:0c:29:aa:bb:01' },
          { label: 'Network adapter 2', macAddress: '00:0c:29:aa:bb:02' },
        ],
      },
    });
    expect(testLine(onNetwork)).toMatch(
      /app01-test booted isolated on test-isolated \(2 adapter\(s\) connected there\) in /,
    );
  });
});

describe('batch lines with resource admission', () => {
  const vm = (over: Partial<BatchVm>): BatchVm => ({
    index: 0,
    vm: 'vc1/app01',
    migrationId: 'quickmig-batch-w-vc1-app01',
    state: 'queued',
    sourceHost: 'vc1/esx-a',
    targetDatastores: ['vc2/ds1'],
    method: 'quick-migration',
    mode: 'smartswitch',
    waitingOn: null,
    waitingFor: null,
    startedAt: null,
    closedAt: null,
    result: null,
    error: null,
    ...over,
  });
  const progress: BatchProgress = {
    batchId: 'quickmig-batch-w',
    name: 'w',
    limits: { global: 4, streamsPerHost: 8, snapshotsPerDatastore: 15 },
    counts: {
      total: 3,
      pending: 2,
      running: 1,
      succeeded: 0,
      failed: 0,
      cancelled: 0,
      waitingOn: { 'host-streams': 1, 'datastore-snapshots': 1 },
    },
    maxRunning: {
      global: 1,
      perSourceHost: { 'vc1/esx-a': 1 },
      perTargetDatastore: { 'vc2/ds1': 1 },
      streamsPerHost: { 'vc1/esx-a': 8, 'vc2/esx-b': 4 },
      snapshotsPerDatastore: { 'vc1/src1': 1 },
    },
    cancelRequested: false,
    vms: [
      vm({ state: 'running', startedAt: 1 }),
      vm({
        index: 1,
        vm: 'vc1/app02',
        waitingOn: 'copy streams through host vc1/esx-a: 8 of 8 in use, needs 4',
        waitingFor: { kind: 'host-streams', key: 'host-streams:vc1/esx-a' },
      }),
      vm({ index: 2, vm: 'vc1/app03' }),
    ],
  };

  it('says what the queued VMs wait on, and each resource limit beside the most the batch held', () => {
    expect(batchCountsLine(progress)).toBe(
      '3 migration(s): 2 pending, 1 running, 0 succeeded, waiting: 1 on host-streams, 1 on datastore-snapshots',
    );
    expect(batchLimitsLine(progress)).toBe(
      'limits: global 4 (max seen 1), per source host unlimited (max seen 1), per target datastore unlimited (max seen 1), copy streams per host 8 (max seen 8), snapshots per datastore 15 (max seen 1)',
    );
    const lines = batchLines(progress);
    const app02 = lines.findIndex((l) => l.startsWith('vc1/app02'));
    expect(lines[app02 + 1]).toBe('    waiting: copy streams through host vc1/esx-a: 8 of 8 in use, needs 4');
    expect(lines.filter((l) => l.startsWith('    waiting'))).toHaveLength(1);
  });
});
