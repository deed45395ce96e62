/**
 * Resource admission end to end on a lab of its own (fixtures/admission-topology.json, quick profile):
 * six small running VMs on two source hosts (one datastore each) to one target host, in a batch whose
 * limits are low enough to make migrations wait: 6 copy streams per host (each migration copies 3
 * files at once: two migrations fill the target host) and 1 migration snapshot per datastore. The
 * limits are checked against the lab's own counters, not the batch's word: the most `/folder` streams
 * each host held at once (GET /quickmig/streams) and the snapshots open on each source datastore, from
 * the call log's CreateSnapshot_Task and RemoveSnapshot_Task in the order the lab received them.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuickmigClient } from '../../src/client/migrations';
import { mostAtOnce, openSnapshots, suspendSpans, vmFolders } from '../../src/lab/call-log';
import type { LabInfo } from '../../src/lab/lab';
import { projectRoot } from '../../src/lab/tools';
import { parsePlan } from '../../src/request/batch-plan';
import type { VSphereClient } from '../../src/vsphere';
import { HistoryRecorder } from '../support/histories';
import { controlOf, startPrivateLab, stopPrivateLab } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { startWorker } from '../support/worker';
import { connect } from '../vsphere/helpers';

const TOPOLOGY = `${projectRoot}/test/workflows/fixtures/admission-topology.json`;
const STREAMS_PER_HOST = 6;
const SNAPSHOTS_PER_DATASTORE = 2;
const SUSPENDS_PER_HOST = 1;
const HOSTS: Record<string, string> = { 'src-a': 'src-a.lab', 'src-b': 'src-b.lab', dst: 'dst.lab' };

let lab: LabInfo;
let worker: TestWorker;
let quickmig: QuickmigClient;
let dst: VSphereClient;
const histories = new HistoryRecorder();

beforeAll(async () => {
  lab = await startPrivateLab('admission', TOPOLOGY);
  worker = await startWorker(lab);
  quickmig = new QuickmigClient(worker.client, { taskQueue: worker.taskQueue });
  dst = await connect(lab, 'dst');
});

afterAll(async () => {
  if (worker) await histories.record();
  await dst?.close();
  await worker?.stop();
  if (lab) await stopPrivateLab(lab.dir);
});

describe('resource admission (integration)', () => {
  it('keeps copy streams per host and snapshots per datastore within the limits, and shows what waits', async () => {
    for (const name of Object.keys(HOSTS)) {
      await controlOf(lab, name).resetStreams();
      await controlOf(lab, name).clearCalls();
    }
    // The VMs' morefs (names change at the switchover), to read the call logs by VM.
    const nameOf = new Map<string, string>();
    for (const endpoint of ['src-a', 'src-b'])
      for (const v of await controlOf(lab, endpoint).call<{ moref: string; name: string }[]>('GET', '/vms'))
        nameOf.set(`${endpoint}/${v.moref}`, v.name);
    const name = `adm-${randomBytes(3).toString('hex')}`;
    const plan = parsePlan(
      `name: ${name}
defaults:
  source: { endpoint: src-a }
  target: { endpoint: dst, datastore: ds1, host: dst.lab }
limits: { streamsPerHost: ${STREAMS_PER_HOST}, snapshotsPerDatastore: ${SNAPSHOTS_PER_DATASTORE}, suspendsPerHost: ${SUSPENDS_PER_HOST} }
migrations:
  - source: { name: a1 }
  - source: { name: a2 }
  - source: { name: a3 }
  - source: { endpoint: src-b, name: b1 }
  - source: { endpoint: src-b, name: b2 }
  - source: { endpoint: src-b, name: b3 }
`,
      'admission.yaml',
    );
    const { id } = await quickmig.startBatch(plan);
    histories.add('batch-admission', worker.client.workflow.getHandle(id));

    // Follow it as `quickmig watch` does: what each queued VM waits on, as the batch says it.
    const waits = new Map<string, string>();
    const deadline = Date.now() + 280_000;
    for (;;) {
      const p = await quickmig.batchProgress(id);
      for (const vm of p.vms) if (vm.waitingOn) waits.set(vm.waitingOn, vm.vm);
      if (p.status !== 'RUNNING' || Date.now() > deadline) break;
      await sleep(250);
    }
    const result = await quickmig.batchResult(id);

    expect(result.vms.map((v) => [v.vm, v.state, v.error?.message ?? null])).toEqual(
      ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'].map((vm) => [
        `${vm.startsWith('a') ? 'src-a' : 'src-b'}/${vm}`,
        'succeeded',
        null,
      ]),
    );
    // The targets are there and run.
    const onTarget = await dst.inventory.listVms();
    for (const vm of ['a1', 'a2', 'a3', 'b1', 'b2', 'b3']) {
      const ref = onTarget.find((v) => v.name === vm)?.ref;
      expect(ref, `${vm} on the target`).toBeDefined();
      expect((await dst.facts.vm(ref as NonNullable<typeof ref>)).powerState).toBe('poweredOn');
    }

    // The lab's own counters: streams each host held at once, snapshots open on each source datastore.
    const streams: Record<string, number> = {};
    for (const [endpoint, host] of Object.entries(HOSTS))
      streams[endpoint] = (await controlOf(lab, endpoint).streams())[host]?.max ?? 0;
    const snapshots = {
      'src-a': openSnapshots(await controlOf(lab, 'src-a').calls()),
      'src-b': openSnapshots(await controlOf(lab, 'src-b').calls()),
    };
    console.log(
      `admission: streams max per host ${JSON.stringify(streams)}, snapshots ${JSON.stringify(snapshots)}, batch peaks ${JSON.stringify(result.maxRunning)}, waits seen: ${[...waits.keys()].join(' | ')}`,
    );
    for (const [endpoint, max] of Object.entries(streams)) {
      expect(max, `streams through ${endpoint}`).toBeGreaterThan(0);
      expect(max, `streams through ${endpoint}`).toBeLessThanOrEqual(STREAMS_PER_HOST);
    }
    for (const [endpoint, s] of Object.entries(snapshots)) {
      expect(s.created, `snapshots taken on ${endpoint}`).toBe(3);
      expect(s.max, `snapshots open at once on ${endpoint}`).toBeLessThanOrEqual(SNAPSHOTS_PER_DATASTORE);
    }
    // Suspends per source host: from each source's suspend (its call log) to its target's power-on (the
    // target's call log), never more than the limit at once.
    const target = {
      calls: await controlOf(lab, 'dst').calls(),
      folderOf: await vmFolders(controlOf(lab, 'dst')),
    };
    for (const endpoint of ['src-a', 'src-b']) {
      const { spans, unmatched } = suspendSpans(
        await controlOf(lab, endpoint).calls(),
        (moref) => nameOf.get(`${endpoint}/${moref}`),
        [target],
      );
      expect(unmatched, `suspends on ${endpoint} with no target power-on after them`).toEqual([]);
      expect(spans.map((s) => s.vm).sort()).toEqual(
        endpoint === 'src-a' ? ['a1', 'a2', 'a3'] : ['b1', 'b2', 'b3'],
      );
      expect(mostAtOnce(spans), `suspends at once on ${endpoint}`).toBeLessThanOrEqual(SUSPENDS_PER_HOST);
    }
    // The batch's own ledger agrees, and says what the queued ones waited on.
    expect(Math.max(...Object.values(result.maxRunning.streamsPerHost ?? {}))).toBeLessThanOrEqual(
      STREAMS_PER_HOST,
    );
    for (const peak of Object.values(result.maxRunning.snapshotsPerDatastore ?? {}))
      expect(peak).toBeLessThanOrEqual(SNAPSHOTS_PER_DATASTORE);
    for (const peak of Object.values(result.maxRunning.suspendsPerHost ?? {}))
      expect(peak).toBeLessThanOrEqual(SUSPENDS_PER_HOST);
    expect(Object.keys(result.maxRunning.suspendsPerHost ?? {}).sort()).toEqual([
      'src-a/src-a.lab',
      'src-b/src-b.lab',
    ]);
    expect(
      [...waits.keys()].some((w) =>
        /^copy streams through host (dst\/dst|src-[ab]\/src-[ab])\.lab: \d of 6 in use, needs 3$/.test(w),
      ),
    ).toBe(true);
    expect(result.counts.waitingOn).toBeUndefined();

    // One search-attribute filter lists the batch's migrations, as the Temporal UI does (visibility
    // catches up within seconds).
    let listed: string[] = [];
    for (let i = 0; i < 40 && listed.length < 6; i++) {
      listed = [];
      for await (const wf of worker.client.workflow.list({ query: `QuickmigBatch = '${id}'` }))
        listed.push(`${wf.workflowId} ${wf.status.name}`);
      if (listed.length < 6) await sleep(500);
    }
    expect(listed.sort()).toEqual(result.vms.map((v) => `${v.migrationId} COMPLETED`).sort());
  });
});
