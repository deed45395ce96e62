/**
 * Real-host faults of the data path and of sessions (issue 18, faults 4, 5 and 8), on the `quick` lab
 * profile with bandwidth rules to make a copy long enough:
 * - the connection to a host cut in the middle of a stream, on the source's GET and on the target's PUT,
 *   and the target host restarted mid-copy (`quickmig lab restart`): the copy resumes and completes with
 *   the bytes verified; the bytes re-sent are measured by the target (the bytes its PUTs wrote);
 * - the target datastore filled by another writer mid-copy: rollback, the source as it was, the target
 *   clean, and an error that names the datastore and the shortfall;
 * - the session idle past the host's timeout during a long copy: one re-login per endpoint, no failure.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MigrationFailedError } from '../../src/client/failures';
import type { LabInfo } from '../../src/lab/lab';
import { restartEndpoint } from '../../src/lab/lab';
import type { Topology } from '../../src/lab/topology';
import type { MigrationResult } from '../../src/workflows/definitions';
import { controlOf, startPrivateLab } from '../support/lab';
import type { Clients, Estate } from './support';
import {
  checkCompleted,
  checkRolledBack,
  Matrix,
  runningActivity,
  smallVm,
  tearDownRig,
  topologyWith,
  WorkerProcess,
  waitUntil,
  workerRig,
} from './support';

const MiB = 1024 * 1024;
const VMS = ['r-get', 'r-put', 'r-restart', 'r-full', 'r-session0', 'r-session'] as const;

let lab: LabInfo;
let worker: WorkerProcess;
let sessionWorker: WorkerProcess | undefined;
let clients: Clients;
let estate: Estate;
const matrix = new Matrix('realhost-datapath');

/** The reliability topology on the quick profile, with a 128 MiB datastore `small` on esx-b. */
function topology(): string {
  const file = topologyWith(
    VMS.map((name) =>
      smallVm(name, { guestWriteBytesPerSec: 0, ...(name === 'r-full' ? { memoryMiB: 32 } : {}) }),
    ),
  );
  const t = JSON.parse(readFileSync(file, 'utf8')) as Topology;
  t.profile = 'quick';
  const esxB = t.endpoints.find((e) => e.name === 'esx-b') as Topology['endpoints'][number];
  esxB.datastores.push({
    name: 'small',
    type: 'vmfs',
    capacityGiB: 0.125,
  } as (typeof esxB.datastores)[number]);
  (esxB.hosts[0] as { datastores: string[] }).datastores.push('small');
  writeFileSync(file, JSON.stringify(t));
  return file;
}

beforeAll(async () => {
  lab = await startPrivateLab('reliability-realhost-datapath', topology());
  ({ worker, clients, estate } = await workerRig(lab));
}, 600_000);

afterAll(async () => {
  matrix.write();
  // The worker's and the endpoints' logs of a failed run, for the diagnosis.
  if (matrix.rows.some((r) => !r.passed) && lab) {
    const out = join(tmpdir(), `realhost-datapath-logs-${process.pid}`);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'worker.log'), worker?.log ?? '');
    if (sessionWorker) writeFileSync(join(out, 'session-worker.log'), sessionWorker.log);
    cpSync(lab.dir, join(out, 'lab'), { recursive: true, filter: (f) => !f.includes('datastores') });
    process.stdout.write(`realhost-datapath: logs of the failed run in ${out}\n`);
  }
  await tearDownRig({ lab, worker, clients, estate });
});

/** Starts the migration of `vm` to esx-b `datastore` on `w`'s task queue; returns its workflow id. */
async function start(vm: string, w: WorkerProcess, datastore = 'datastore1'): Promise<string> {
  const id = `realhost-${vm}-${Date.now()}`;
  await clients.temporal.workflow.start('quickMigration', {
    taskQueue: w.taskQueue,
    workflowId: id,
    args: [
      { source: { endpoint: 'esx-a', name: vm }, target: { endpoint: 'esx-b', datastore } },
      { transferHeartbeatTimeout: '5s', controlRetryTimeout: '20s' },
    ],
  });
  return id;
}

/** The target's flat extents of `vm` on esx-b datastore1 with their sizes. */
function targetFlats(vm: string, datastore = 'datastore1'): Map<string, number> {
  const dir = join(estate.datastoreDir('esx-b', datastore), vm);
  const out = new Map<string, number>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('-flat.vmdk')))
    out.set(`[${datastore}] ${vm}/${f}`, statSync(join(dir, f)).size);
  return out;
}

/** Bytes the target's PUTs wrote beyond each flat extent's size, since `before` (a putBytes reading). */
async function resent(vm: string, before: Record<string, number>, extra: Record<string, number> = {}) {
  const after = await controlOf(lab, 'esx-b').putBytes();
  let total = 0;
  for (const [key, size] of targetFlats(vm)) {
    const written = (after[key] ?? 0) - (before[key] ?? 0) + (extra[key] ?? 0);
    expect(written, key).toBeGreaterThanOrEqual(size);
    total += written - size;
  }
  return total;
}

/** The bytes `size` of a file on the target, once it exists (0 otherwise). */
function sizeOn(datastore: string, vm: string, file: string): number {
  try {
    return statSync(join(estate.datastoreDir('esx-b', datastore), vm, file)).size;
  } catch {
    return 0;
  }
}

/** Names of the files in the source VM's folder. */
function sourceFiles(vm: string): string[] {
  return readdirSync(join(estate.datastoreDir('esx-a', 'datastore1'), vm)).sort();
}

/**
 * Migrates `vm` on a new worker with the GET of its first disk at 0.75 MiB/s: that 16 MiB disk streams for
 * ~21 s while every other file is copied at once, so neither endpoint's session makes an API call or
 * starts a request for ~21 s (an 8 s timeout expires each once; a request in flight is not activity).
 * Returns the Logins each endpoint accepted from the stream's start to the migration's end, and the
 * `/folder` requests esx-a and esx-b refused for an expired session.
 */
async function loginsDuringLongCopy(vm: string) {
  const w = new WorkerProcess(lab);
  sessionWorker = w;
  await w.start();
  await controlOf(lab, 'esx-a').addFault({
    kind: 'bandwidth',
    method: 'GET',
    path: `${vm}-flat.vmdk`,
    bytesPerSec: 0.75 * MiB,
  });
  try {
    const id = await start(vm, w);
    const handle = clients.temporal.workflow.getHandle(id);
    await waitUntil(
      'the bulk copy streaming',
      async () =>
        (await runningActivity(handle, 'copyFiles')) !== undefined &&
        sizeOn('datastore1', vm, `${vm}-flat.vmdk`) > 0,
      120_000,
    );
    const at = { a: await controlOf(lab, 'esx-a').sessions(), b: await controlOf(lab, 'esx-b').sessions() };
    await waitUntil(
      'the copy past 12 MiB',
      async () => sizeOn('datastore1', vm, `${vm}-flat.vmdk`) >= 12 * MiB,
      120_000,
    );
    await controlOf(lab, 'esx-a').clearFaults();
    const result = (await clients.quickmig.result(id)) as MigrationResult;
    expect(await checkCompleted(estate, vm, result)).toEqual([]);
    const end = { a: await controlOf(lab, 'esx-a').sessions(), b: await controlOf(lab, 'esx-b').sessions() };
    return {
      logins: { a: end.a.logins - at.a.logins, b: end.b.logins - at.b.logins },
      refused:
        end.a.refusedFolderRequests -
        at.a.refusedFolderRequests +
        end.b.refusedFolderRequests -
        at.b.refusedFolderRequests,
    };
  } finally {
    await controlOf(lab, 'esx-a').clearFaults();
    await w.stop();
  }
}

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

describe('real-host faults: the data path and sessions', () => {
  it('the source GET cut mid-stream: the copy resumes and completes, bytes verified', async () => {
    await matrix.run(
      'GET cut mid-stream (source)',
      async () => {
        const before = await controlOf(lab, 'esx-b').putBytes();
        await controlOf(lab, 'esx-a').addFault({
          kind: 'http-reset',
          method: 'GET',
          path: 'r-get-flat.vmdk',
          afterBytes: 6 * MiB,
          count: 1,
        });
        try {
          const id = await start('r-get', worker);
          const result = (await clients.quickmig.result(id)) as MigrationResult;
          expect(await checkCompleted(estate, 'r-get', result)).toEqual([]);
          const rules = (await controlOf(lab, 'esx-a').faults()) as { rules: { fired: number }[] };
          expect(rules.rules[0]?.fired).toBe(1);
          const again = await resent('r-get', before);
          // The cut file is sent again from its first byte: the part before the cut (≤ 6 MiB).
          expect(again).toBeGreaterThan(0);
          expect(again).toBeLessThanOrEqual(6 * MiB);
          return again;
        } finally {
          await controlOf(lab, 'esx-a').clearFaults();
        }
      },
      (n) => `completed, verified; re-sent ${mib(n)}`,
    );
  }, 200_000);

  it('the target PUT cut mid-stream: the copy resumes and completes, bytes verified', async () => {
    await matrix.run(
      'PUT cut mid-stream (target)',
      async () => {
        const before = await controlOf(lab, 'esx-b').putBytes();
        await controlOf(lab, 'esx-b').addFault({
          kind: 'http-reset',
          method: 'PUT',
          path: 'r-put-flat.vmdk',
          afterBytes: 6 * MiB,
          count: 1,
        });
        try {
          const id = await start('r-put', worker);
          const result = (await clients.quickmig.result(id)) as MigrationResult;
          expect(await checkCompleted(estate, 'r-put', result)).toEqual([]);
          const again = await resent('r-put', before);
          expect(again).toBeGreaterThan(0);
          expect(again).toBeLessThanOrEqual(6 * MiB);
          return again;
        } finally {
          await controlOf(lab, 'esx-b').clearFaults();
        }
      },
      (n) => `completed, verified; re-sent ${mib(n)}`,
    );
  }, 200_000);

  it('the target host restarts mid-copy: the copy resumes and completes, bytes verified', async () => {
    await matrix.run(
      'target host restart mid-copy',
      async () => {
        // 2 MiB/s from the source: the 16 MiB disk takes ~8 s, the restart lands in its middle.
        await controlOf(lab, 'esx-a').addFault({
          kind: 'bandwidth',
          method: 'GET',
          path: 'r-restart',
          bytesPerSec: 2 * MiB,
        });
        try {
          const id = await start('r-restart', worker);
          await waitUntil(
            '4 MiB of r-restart-flat.vmdk on the target',
            async () => sizeOn('datastore1', 'r-restart', 'r-restart-flat.vmdk') >= 4 * MiB,
            120_000,
          );
          // The PUT counter lives in the endpoint's process: what it counted before the restart.
          const beforeRestart = await controlOf(lab, 'esx-b').putBytes();
          await restartEndpoint('esx-b', lab.dir);
          await controlOf(lab, 'esx-a').clearFaults();
          const result = (await clients.quickmig.result(id)) as MigrationResult;
          expect(await checkCompleted(estate, 'r-restart', result)).toEqual([]);
          const again = await resent('r-restart', {}, beforeRestart);
          expect(again).toBeGreaterThanOrEqual(4 * MiB);
          return again;
        } finally {
          await controlOf(lab, 'esx-a').clearFaults();
        }
      },
      (n) =>
        `completed, verified; re-sent ${mib(n)} (at least: the count before the restart was read before it)`,
    );
  }, 200_000);

  it('the target datastore filled by another writer mid-copy: rollback, nothing left, the shortfall named', async () => {
    await matrix.run(
      'target datastore filled mid-copy',
      async () => {
        const filesBefore = sourceFiles('r-full');
        await controlOf(lab, 'esx-a').addFault({
          kind: 'bandwidth',
          method: 'GET',
          path: 'r-full',
          bytesPerSec: 2 * MiB,
        });
        let error: unknown;
        let filled = 0;
        try {
          const id = await start('r-full', worker, 'small');
          await waitUntil(
            '2 MiB of r-full-flat.vmdk on the target',
            async () => sizeOn('small', 'r-full', 'r-full-flat.vmdk') >= 2 * MiB,
            120_000,
          );
          // Another writer takes all but 4 MiB of what is free.
          const free = (await controlOf(lab, 'esx-b').datastoreFree()).small ?? 0;
          filled = (await controlOf(lab, 'esx-b').fillDatastore('small', free - 4 * MiB)).bytes;
          await controlOf(lab, 'esx-a').clearFaults();
          await clients.quickmig.result(id).catch((e: unknown) => {
            error = e;
          });
        } finally {
          await controlOf(lab, 'esx-a').clearFaults();
          await controlOf(lab, 'esx-b').clearFill();
        }
        expect(filled).toBeGreaterThan(0);
        expect(error).toBeInstanceOf(MigrationFailedError);
        const failure = error as MigrationFailedError;
        expect(failure.step).toBe('bulk-copy');
        expect(failure.message).toMatch(/datastore small is full/);
        expect(failure.message).toMatch(
          /needs [\d.]+ MiB .*, [\d.]+ MiB \(\d+ bytes\) free, short by [\d.]+ MiB/,
        );
        expect(await checkRolledBack(estate, 'r-full', 'poweredOn', 'small')).toEqual([]);
        // The files the source had, and the snapshot's descriptor file (`.vmsd`), which a host keeps, empty,
        // once a VM has had a snapshot.
        expect(sourceFiles('r-full').filter((f) => !f.endsWith('.vmsd'))).toEqual(filesBefore);
        return failure.message;
      },
      (m) => m.slice(0, 240),
    );
  }, 200_000);

  it('the session expires during a long copy: one re-login per endpoint, no failure', async () => {
    await matrix.run(
      'session expired during a long copy',
      async () => {
        // The same migration without and with the timeout, each on a worker of its own logged in for it
        // (a host watches a session from its Login): the logins beyond the first run's are re-logins.
        const without = await loginsDuringLongCopy('r-session0');
        for (const ep of ['esx-a', 'esx-b']) await controlOf(lab, ep).setSessionTimeout('8s');
        const withTimeout = await loginsDuringLongCopy('r-session');
        const relogins = {
          a: withTimeout.logins.a - without.logins.a,
          b: withTimeout.logins.b - without.logins.b,
        };
        expect(relogins).toEqual({ a: 1, b: 1 });
        expect(withTimeout.refused).toBeGreaterThanOrEqual(1);
        return { relogins, without: without.logins, refused: withTimeout.refused };
      },
      (r) =>
        `completed; re-logins esx-a ${r.relogins.a}, esx-b ${r.relogins.b} (logins beyond the run without a timeout: ${JSON.stringify(r.without)}); /folder 401s ${r.refused}`,
    );
  }, 400_000);
});
