import { describe, expect, it } from 'vitest';
import type { FootprintPlan, LedgerState, MigrationFootprint, Waiter } from '../../src/planner/admission';
import {
  acquire,
  admit,
  blockerOf,
  capacityOf,
  copyConcurrencyOf,
  describeBlocker,
  emptyLedger,
  footprintOf,
  needsOf,
  overLimits,
  release,
} from '../../src/planner/admission';
import type { BatchLimits } from '../../src/request/batch-plan';

const plan = (over: Partial<FootprintPlan> = {}): FootprintPlan => ({
  method: 'quick-migration',
  sourceHost: 'esx-a',
  configDatastore: 'ds1',
  disks: [{ key: 2000, label: 'Hard disk 1', from: 'src1', to: 'ds1' }],
  steps: ['preflight', 'make-folders', 'snapshot', 'bulk-copy', 'suspend', 'delta-copy', 'register-target'],
  ...over,
});
const request = { source: { endpoint: 'vc1' }, target: { endpoint: 'vc2', host: 'esx-b' } };

const fp = (over: Partial<MigrationFootprint> = {}): MigrationFootprint => ({
  sourceHost: 'vc1/esx-a',
  targetHost: 'vc2/esx-b',
  sourceDatastores: ['vc1/src1'],
  targetDatastores: ['vc2/ds1'],
  copyFiles: 3,
  snapshot: true,
  suspend: false,
  ...over,
});

const unitsOf = (needs: ReturnType<typeof needsOf>) => Object.fromEntries(needs.map((n) => [n.key, n.units]));

describe('footprintOf and needsOf', () => {
  it('derives hosts, datastores, streams, snapshots and the suspend from the plan', () => {
    const twoDisks = plan({
      disks: [
        { key: 2000, label: 'Hard disk 1', from: 'src1', to: 'ds1' },
        { key: 2001, label: 'Hard disk 2', from: 'src2', to: 'ds2' },
      ],
    });
    const f = footprintOf(twoDisks, request);
    expect(f).toEqual({
      sourceHost: 'vc1/esx-a',
      targetHost: 'vc2/esx-b',
      sourceDatastores: ['vc1/src1', 'vc1/src2'],
      targetDatastores: ['vc2/ds1', 'vc2/ds2'],
      copyFiles: 5,
      snapshot: true,
      suspend: true,
    });
    const needs = needsOf(f, {});
    expect(unitsOf(needs)).toEqual({
      global: 1,
      'source-host:vc1/esx-a': 1,
      'target-datastore:vc2/ds1': 1,
      'target-datastore:vc2/ds2': 1,
      'host-streams:vc1/esx-a': 4,
      'host-streams:vc2/esx-b': 4,
      'datastore-snapshots:vc1/src1': 1,
      'datastore-snapshots:vc1/src2': 1,
      'host-suspends:vc1/esx-a': 1,
    });
    expect(needs.find((n) => n.kind === 'host-suspends')?.span).toBe('switchover');
    expect(needs.filter((n) => n.kind !== 'host-suspends').every((n) => n.span === 'migration')).toBe(true);
  });

  it('counts the target streams on the host preflight picked in a cluster', () => {
    const f = footprintOf(plan({ targetHost: 'esx-c' }), {
      source: { endpoint: 'vc1' },
      target: { endpoint: 'vc2', cluster: 'c1' },
    });
    expect(f.targetHost).toBe('vc2/esx-c');
    expect(unitsOf(needsOf(f, {}))['host-streams:vc2/esx-c']).toBe(3);
  });

  it('gives a vMotion no streams and no snapshot, and an unnamed host the endpoint or cluster', () => {
    const f = footprintOf(plan({ method: 'vmotion', steps: ['preflight', 'relocate'], sourceHost: '' }), {
      source: { endpoint: 'vc1' },
      target: { endpoint: 'vc1', cluster: 'c1' },
    });
    expect(f.sourceHost).toBe('vc1');
    expect(f.targetHost).toBe('vc1/c1');
    expect(unitsOf(needsOf(f, {}))).toEqual({
      global: 1,
      'source-host:vc1': 1,
      'target-datastore:vc1/ds1': 1,
    });
  });

  it('counts both ends of a copy within one host on that host, and fits the concurrency to the limit', () => {
    const same = fp({ targetHost: 'vc1/esx-a', copyFiles: 9 });
    expect(copyConcurrencyOf(same, {})).toBe(4);
    expect(unitsOf(needsOf(same, {}))['host-streams:vc1/esx-a']).toBe(8);
    expect(copyConcurrencyOf(same, { streamsPerHost: 5 })).toBe(2);
    expect(unitsOf(needsOf(same, { streamsPerHost: 5 }))['host-streams:vc1/esx-a']).toBe(4);
    // A limit of 1 with both ends on one host: one file at a time, clamped to the host's capacity.
    expect(copyConcurrencyOf(same, { streamsPerHost: 1 })).toBe(1);
    expect(unitsOf(needsOf(same, { streamsPerHost: 1 }))['host-streams:vc1/esx-a']).toBe(1);
    expect(copyConcurrencyOf(fp({ copyFiles: 1 }), {})).toBe(1);
  });

  it('takes the defaults 8 streams per host and 15 snapshots per datastore', () => {
    expect(capacityOf('host-streams', {})).toBe(8);
    expect(capacityOf('datastore-snapshots', {})).toBe(15);
    expect(capacityOf('host-suspends', {})).toBe(Number.POSITIVE_INFINITY);
    expect(capacityOf('global', {})).toBe(Number.POSITIVE_INFINITY);
    expect(capacityOf('host-streams', { streamsPerHost: 3 })).toBe(3);
  });
});

describe('the ledger', () => {
  const migrationNeeds = (f: MigrationFootprint, limits: BatchLimits) =>
    needsOf(f, limits).filter((n) => n.span === 'migration');

  it('admits in order while there is room and says what the others wait on', () => {
    const limits: BatchLimits = {};
    const state = emptyLedger();
    // Three 4-stream copies from esx-a: the host's 8 streams hold two of them.
    const waiters: Waiter[] = ['m1', 'm2', 'm3'].map((holder) => ({
      holder,
      needs: migrationNeeds(fp({ copyFiles: 9 }), limits),
      bypassed: 0,
    }));
    const first = admit(state, waiters, limits);
    expect(first.admitted).toEqual(['m1', 'm2']);
    expect(Object.keys(first.waiting)).toEqual(['m3']);
    const blocker = first.waiting.m3;
    expect(blocker).toMatchObject({ key: 'host-streams:vc1/esx-a', held: 8, units: 4, limit: 8 });
    expect(blocker && describeBlocker(blocker)).toBe(
      'copy streams through host vc1/esx-a: 8 of 8 in use, needs 4',
    );
    expect(state.held['host-streams:vc1/esx-a']).toBe(8);

    expect(release(state, 'm1')).toBe(true);
    expect(release(state, 'm1')).toBe(false);
    const second = admit(state, waiters.slice(2), limits);
    expect(second.admitted).toEqual(['m3']);
    release(state, 'm2');
    release(state, 'm3');
    expect(state.held).toEqual({});
    expect(state.holders).toEqual({});
    expect(state.peak['host-streams:vc1/esx-a']).toBe(8);
    expect(overLimits(state, limits)).toEqual([]);
  });

  it('counts snapshots per source datastore against the limit', () => {
    const limits: BatchLimits = { snapshotsPerDatastore: 2, streamsPerHost: 100 };
    const state = emptyLedger();
    const waiters: Waiter[] = ['a', 'b', 'c'].map((holder) => ({
      holder,
      needs: migrationNeeds(fp(), limits),
      bypassed: 0,
    }));
    const { admitted, waiting } = admit(state, waiters, limits);
    expect(admitted).toEqual(['a', 'b']);
    expect(waiting.c?.key).toBe('datastore-snapshots:vc1/src1');
  });

  it('passes over a migration that does not fit, then reserves for it so it is not starved', () => {
    const limits: BatchLimits = { streamsPerHost: 8 };
    const state = emptyLedger();
    acquire(state, 'running', migrationNeeds(fp({ copyFiles: 3 }), limits), limits); // 3 streams on esx-a
    const big = { holder: 'big', needs: migrationNeeds(fp({ copyFiles: 9 }), limits), bypassed: 0 }; // 4
    const smalls: Waiter[] = Array.from({ length: 12 }, (_, i) => ({
      holder: `small${i}`,
      needs: migrationNeeds(fp({ copyFiles: 1 }), limits), // 1 stream each
      bypassed: 0,
    }));
    // 3 held + 4 for big = 7 ≤ 8: big fits at once; hold more first so it does not.
    acquire(state, 'running2', migrationNeeds(fp({ copyFiles: 2 }), limits), limits); // 2 more: 5 held
    const first = admit(state, [big, ...smalls], limits, 2);
    // big needs 4 of 3 free: passed over; the smalls take the 3 free streams.
    expect(first.admitted).toEqual(['small0', 'small1', 'small2']);
    expect(big.bypassed).toBe(1);
    release(state, 'small0');
    const second = admit(state, [big, ...smalls.slice(3)], limits, 2);
    expect(second.admitted).toEqual(['small3']);
    expect(big.bypassed).toBe(2);
    // Passed over twice: now it reserves its 4 streams; a freed stream is not given to a small one.
    release(state, 'small1');
    const third = admit(state, [big, ...smalls.slice(4)], limits, 2);
    expect(third.admitted).toEqual([]);
    expect(third.waiting.small4).toMatchObject({ key: 'host-streams:vc1/esx-a', reserved: 4 });
    expect(third.waiting.small4 && describeBlocker(third.waiting.small4)).toContain(
      '(+4 kept for a migration waiting longer)',
    );
    release(state, 'small2');
    release(state, 'small3');
    release(state, 'running2');
    const fourth = admit(state, [big, ...smalls.slice(4)], limits, 2);
    expect(fourth.admitted[0]).toBe('big');
  });

  it('keeps no global slot for a waiter it reserves for: the slot goes to one behind it that fits', () => {
    const limits: BatchLimits = { global: 3, snapshotsPerDatastore: 1, streamsPerHost: 16 };
    const state = emptyLedger();
    acquire(state, 'a', migrationNeeds(fp(), limits), limits); // the one snapshot on vc1/src1
    const x = { holder: 'x', needs: migrationNeeds(fp(), limits), bypassed: 5 }; // waits on src1
    const others: Waiter[] = ['y', 'z', 'w'].map((holder) => ({
      holder,
      needs: migrationNeeds(fp({ sourceDatastores: [`vc1/${holder}`], sourceHost: 'vc1/esx-c' }), limits),
      bypassed: 0,
    }));
    // x has been passed over enough to reserve: its snapshot on src1 is kept, but not a global slot,
    // so two migrations from other datastores take the two free ones.
    const first = admit(state, [x, ...others], limits, 2);
    expect(first.admitted).toEqual(['y', 'z']);
    expect(first.waiting.x).toMatchObject({ key: 'datastore-snapshots:vc1/src1' });
    expect(first.waiting.w).toMatchObject({ kind: 'global', reserved: 0 });
    // Once src1's snapshot is free, x takes the next global slot before w, which came after it.
    release(state, 'a');
    const second = admit(state, [x, others[2] as Waiter], limits, 2);
    expect(second.admitted).toEqual(['x']);
    expect(second.waiting.w).toMatchObject({ kind: 'global' });
  });

  it('reserves for one waiter at a time: the others behind it start where it needs nothing', () => {
    const limits: BatchLimits = { streamsPerHost: 6, snapshotsPerDatastore: 1 };
    const state = emptyLedger();
    // Two migrations fill the 6 streams of target host vc2/esx-b (3 each).
    for (const holder of ['a', 'b'])
      acquire(
        state,
        holder,
        migrationNeeds(fp({ sourceHost: 'vc1/esx-q', sourceDatastores: [`vc1/q-${holder}`] }), limits),
        limits,
      );
    const toB = (holder: string, host: string, datastore: string) => ({
      holder,
      needs: migrationNeeds(fp({ sourceHost: host, sourceDatastores: [datastore] }), limits),
      bypassed: 5,
    });
    const x1 = toB('x1', 'vc1/esx-a', 'vc1/s1');
    const x2 = toB('x2', 'vc1/esx-c', 'vc1/s2');
    // y goes elsewhere, from x2's host and datastore: only a reservation for x2 could stop it.
    const y: Waiter = {
      holder: 'y',
      needs: migrationNeeds(
        fp({ sourceHost: 'vc1/esx-c', sourceDatastores: ['vc1/s2'], targetHost: 'vc2/esx-y' }),
        limits,
      ),
      bypassed: 0,
    };
    const first = admit(state, [x1, x2, y], limits, 2);
    expect(first.admitted).toEqual(['y']);
    // x1 reserves: x2 waits on the target host's streams, 6 held and 3 kept for x1.
    expect(first.waiting.x2).toMatchObject({ key: 'host-streams:vc2/esx-b', held: 6, reserved: 3 });
    // When a target stream frees up enough, x1 starts first, and x2 reserves next.
    release(state, 'a');
    const second = admit(state, [x1, x2], limits, 2);
    expect(second.admitted).toEqual(['x1']);
    release(state, 'b');
    release(state, 'y'); // the one snapshot of vc1/s2
    expect(admit(state, [x2], limits, 2).admitted).toEqual(['x2']);
  });

  it('refuses to go over a limit or to hold twice (caller bugs)', () => {
    const limits: BatchLimits = { global: 1 };
    const state = emptyLedger();
    const needs = migrationNeeds(fp(), limits);
    acquire(state, 'a', needs, limits);
    expect(() => acquire(state, 'a', needs, limits)).toThrow('a holds resources already');
    expect(() => acquire(state, 'b', needs, limits)).toThrow(
      'no room for b: migrations running in the batch: 1 of 1 in use, needs 1',
    );
    expect(blockerOf(state, needs, limits)?.kind).toBe('global');
  });

  it('never exceeds a limit and leaks nothing over many random batches', () => {
    // A small deterministic PRNG: the same runs every time.
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)] as T;
    for (let run = 0; run < 50; run++) {
      const limits: BatchLimits = {
        global: pick([undefined, 3, 10]),
        perSourceHost: pick([undefined, 2, 4]),
        streamsPerHost: pick([2, 5, 8]),
        snapshotsPerDatastore: pick([1, 3, 15]),
      };
      const state: LedgerState = emptyLedger();
      const waiters: Waiter[] = Array.from({ length: 40 }, (_, i) => ({
        holder: `vm${i}`,
        needs: migrationNeeds(
          fp({
            sourceHost: pick(['vc1/esx-a', 'vc1/esx-b', 'vc1/esx-c']),
            targetHost: pick(['vc2/esx-x', 'vc2/esx-y', 'vc1/esx-a']),
            sourceDatastores: [pick(['vc1/s1', 'vc1/s2'])],
            targetDatastores: [pick(['vc2/t1', 'vc2/t2'])],
            copyFiles: pick([1, 3, 9]),
            snapshot: random() < 0.8,
          }),
          limits,
        ),
        bypassed: 0,
      }));
      let queue = waiters;
      const running: string[] = [];
      let done = 0;
      for (let step = 0; queue.length > 0 || running.length > 0; step++) {
        expect(step).toBeLessThan(1000);
        const { admitted } = admit(state, queue, limits, 3);
        running.push(...admitted);
        queue = queue.filter((w) => !admitted.includes(w.holder));
        // The ledger is never over a limit, checked after every admission.
        expect(overLimits(state, limits)).toEqual([]);
        // Something always runs while something waits: a migration alone always fits.
        if (queue.length > 0) expect(running.length).toBeGreaterThan(0);
        // One or two random running migrations end.
        for (let k = 0; k < 1 + Math.floor(random() * 2) && running.length > 0; k++) {
          const [ended] = running.splice(Math.floor(random() * running.length), 1);
          expect(release(state, ended as string)).toBe(true);
          done++;
        }
      }
      expect(done).toBe(40);
      expect(state.held).toEqual({});
      expect(state.holders).toEqual({});
    }
  });
});
