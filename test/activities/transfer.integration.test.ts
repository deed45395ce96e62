/**
 * The copyFiles activity against the lab (integration): through its context seam (heartbeat cadence and
 * content, resume from a previous attempt's heartbeat, cancellation, permanent failures), then once for
 * real in a Temporal Worker on the lab's server, where a reset fails the first attempt and the retry
 * resumes from the heartbeat the server recorded.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CopyFilesHeartbeat, CopyFilesInput, TransferDeps } from '../../src/activities/transfer';
import { createTransferActivities, runCopyFiles } from '../../src/activities/transfer';
import type { LabControl } from '../../src/lab/control';
import type { LabInfo } from '../../src/lab/lab';
import { VSphereClient } from '../../src/vsphere';
import { controlOf, endpoint, passwordOf, startLab } from '../support/lab';

const MiB = 1024 * 1024;
const folder = `qm-transfer-act-${randomBytes(4).toString('hex')}`;
let info: LabInfo;
let controlA: LabControl;
let controlB: LabControl;
const clients = new Map<string, Promise<VSphereClient>>();

const deps: TransferDeps = {
  clientFor(name) {
    let client = clients.get(name);
    if (client === undefined) {
      const ep = endpoint(info, name);
      client = VSphereClient.connect({
        url: ep.url,
        username: ep.username,
        password: passwordOf(ep),
        tls: { thumbprint: ep.thumbprint },
      });
      clients.set(name, client);
    }
    return client;
  },
};

/** Files of the powered-off and the suspended VM (content stable while copied), into `sub`. */
function input(sub: string, concurrency = 2): CopyFilesInput {
  const names = ['off01/off01.vmx', 'off01/off01-flat.vmdk', 'off01/off01.nvram', 'susp01/susp01-flat.vmdk'];
  return {
    sourceEndpoint: 'esx-a',
    targetEndpoint: 'esx-b',
    verify: 'sha256',
    concurrency,
    files: names.map((n) => ({
      source: `[datastore1] ${n}`,
      target: `[datastore1] ${folder}/${sub}/${n}`,
      ...(n.endsWith('.vmx')
        ? { transform: { kind: 'replace' as const, pairs: [['off01', 'off01-copy'] as const] } }
        : {}),
    })),
  };
}

async function putsSince(seq: number): Promise<string[]> {
  return (await controlB.calls(seq))
    .filter((c) => c.method === 'HTTP PUT' && c.ok)
    .map((c) => c.object)
    .sort();
}

async function lastSeq(): Promise<number> {
  return (await controlB.calls()).at(-1)?.seq ?? 0;
}

describe('copyFiles activity (integration)', () => {
  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    info = await startLab();
    controlA = controlOf(info, 'esx-a');
    controlB = controlOf(info, 'esx-b');
  });

  afterAll(async () => {
    await controlA?.clearFaults();
    const b = await clients.get('esx-b');
    await b?.files.delete(`[datastore1] ${folder}`).catch(() => undefined);
    await Promise.all([...clients.values()].map(async (c) => (await c).close()));
  });

  it("resumes from a previous attempt's heartbeat, re-checking each target", async () => {
    const beats: { at: number; details: CopyFilesHeartbeat }[] = [];
    const signal = new AbortController().signal;
    const first = await runCopyFiles(deps, input('seam'), {
      heartbeat: (details) => beats.push({ at: performance.now(), details: structuredClone(details) }),
      heartbeatDetails: undefined,
      signal,
    });
    expect(first.files.every((f) => !f.skipped && f.sha256Target === f.sha256Source)).toBe(true);
    expect(first.bytesCopied).toBe(first.bytesTotal);
    expect(beats.length).toBeGreaterThanOrEqual(1);
    for (let i = 1; i < beats.length; i++) {
      expect((beats[i]?.at ?? 0) - (beats[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(1_950);
    }
    for (const { details } of beats) {
      expect(details).toEqual({
        done: expect.any(Array),
        current: expect.any(Array),
        bytesDone: expect.any(Number),
        bytesTotal: expect.any(Number),
        rateBytesPerSec: expect.any(Number),
      });
    }

    // A previous attempt's heartbeat, recorded a little behind (the vmx not in it yet), and a disk whose
    // target has since lost its bytes: only these two are copied again.
    const previous: CopyFilesHeartbeat = {
      done: first.files.filter((f) => !f.target.endsWith('.vmx')),
      current: [],
      bytesDone: 0,
      bytesTotal: 0,
      rateBytesPerSec: 0,
    };
    const b = await deps.clientFor('esx-b');
    const emptied = `[datastore1] ${folder}/seam/susp01/susp01-flat.vmdk`;
    await b.files.put(emptied, Readable.from([Buffer.from('x')]), 1);
    const mark = await lastSeq();
    const second = await runCopyFiles(deps, input('seam'), {
      heartbeat: () => undefined,
      heartbeatDetails: previous,
      signal,
    });
    const vmx = `[datastore1] ${folder}/seam/off01/off01.vmx`;
    expect(await putsSince(mark)).toEqual([emptied, vmx].sort());
    expect(second.files.filter((f) => !f.skipped).map((f) => f.target)).toEqual([vmx, emptied]);
    expect(second.files.map((f) => f.sha256Target)).toEqual(first.files.map((f) => f.sha256Target));
  });

  it('heartbeats at most every interval while a large disk moves, with the file, its phase and the totals', async () => {
    const beats: { at: number; details: CopyFilesHeartbeat }[] = [];
    // Slow source storage (256 MiB at 128 MiB/s, about 2 s), so the copy lasts several intervals on any box.
    await controlA.addFault({
      kind: 'bandwidth',
      method: 'GET',
      path: 'ir-app01-flat.vmdk',
      bytesPerSec: 128 << 20,
    });
    const result = await runCopyFiles(
      deps,
      {
        sourceEndpoint: 'esx-a',
        targetEndpoint: 'esx-b',
        verify: 'sha256',
        files: [
          {
            source: '[IR-NFS] ir-app01/ir-app01-flat.vmdk',
            target: `[datastore1] ${folder}/beats/disk-flat.vmdk`,
          },
        ],
      },
      {
        heartbeat: (details) => beats.push({ at: performance.now(), details: structuredClone(details) }),
        heartbeatDetails: undefined,
        signal: new AbortController().signal,
      },
      // 2 s by default; shorter here so a copy of a second or two shows several beats.
      { heartbeatIntervalMs: 200 },
    ).finally(() => controlA.clearFaults());
    const size = 256 * 1024 * 1024;
    expect(result.bytesCopied).toBe(size);
    const moving = beats.filter((b) => b.details.current.length > 0);
    expect(moving.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < beats.length; i++) {
      expect((beats[i]?.at ?? 0) - (beats[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(190);
    }
    for (let i = 1; i < moving.length; i++) {
      const [before, after] = [moving[i - 1]?.details, moving[i]?.details];
      expect(after?.bytesDone ?? 0).toBeGreaterThanOrEqual(before?.bytesDone ?? 0);
    }
    for (const { details } of moving) {
      expect(details.bytesTotal).toBe(size);
      expect(details.current[0]).toMatchObject({ file: '[IR-NFS] ir-app01/ir-app01-flat.vmdk', size });
      expect(['copy', 'verify']).toContain(details.current[0]?.phase);
    }
    expect(moving.some((b) => b.details.rateBytesPerSec > 0)).toBe(true);
  });

  it('tells bytesMoved the bytes as they move, before the copy ends, and all of them by its end', async () => {
    // Slow source storage again, so the copy is still under way at several heartbeats.
    await controlA.addFault({
      kind: 'bandwidth',
      method: 'GET',
      path: 'ir-app01-flat.vmdk',
      bytesPerSec: 128 << 20,
    });
    let moved = 0;
    const seen: { moved: number; phase: string | undefined }[] = [];
    const result = await runCopyFiles(
      deps,
      {
        sourceEndpoint: 'esx-a',
        targetEndpoint: 'esx-b',
        verify: 'sha256',
        files: [
          {
            source: '[IR-NFS] ir-app01/ir-app01-flat.vmdk',
            target: `[datastore1] ${folder}/moved/disk-flat.vmdk`,
          },
        ],
      },
      {
        heartbeat: (details) => seen.push({ moved, phase: details.current[0]?.phase }),
        heartbeatDetails: undefined,
        signal: new AbortController().signal,
        bytesMoved: (bytes) => {
          expect(bytes).toBeGreaterThan(0);
          moved += bytes;
        },
      },
      { heartbeatIntervalMs: 200 },
    ).finally(() => controlA.clearFaults());
    const size = 256 * 1024 * 1024;
    expect(result.bytesCopied).toBe(size);
    // Counted while the upload was under way, not in one lump when the copy finished.
    expect(seen.some((s) => s.phase === 'copy' && s.moved > 0 && s.moved < size)).toBe(true);
    expect(moved).toBe(size);
  });

  it('stops promptly on cancellation with the cancellation as its failure', async () => {
    const controller = new AbortController();
    const reason = new CancelledFailure('CANCELLED');
    // It rejects at the cancellation, long before the 256 MiB disk is through (bytes, not time).
    let seen = 0;
    const run = runCopyFiles(
      deps,
      {
        sourceEndpoint: 'esx-a',
        targetEndpoint: 'esx-b',
        verify: 'sha256',
        files: [
          {
            source: '[IR-NFS] ir-app01/ir-app01-flat.vmdk',
            target: `[datastore1] ${folder}/cancel/disk-flat.vmdk`,
          },
        ],
      },
      {
        heartbeat: (d) => {
          seen = d.bytesDone;
          if (d.bytesDone > 0) controller.abort(reason);
        },
        heartbeatDetails: undefined,
        signal: controller.signal,
      },
      { heartbeatIntervalMs: 100 },
    );
    await expect(run).rejects.toBe(reason);
    expect(seen).toBeLessThan(256 * MiB);
  });

  it('fails non-retryably, typed by class, when a source file is missing', async () => {
    const error = await runCopyFiles(
      deps,
      {
        sourceEndpoint: 'esx-a',
        targetEndpoint: 'esx-b',
        verify: 'size',
        files: [
          { source: '[datastore1] off01/no-such-file.vmdk', target: `[datastore1] ${folder}/missing/x.vmdk` },
        ],
      },
      { heartbeat: () => undefined, heartbeatDetails: undefined, signal: new AbortController().signal },
    ).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ApplicationFailure);
    expect(error).toMatchObject({ type: 'FileNotFoundError', nonRetryable: true });
  });

  it('runs in a real Worker: a reset fails the first attempt, the retry resumes from the recorded heartbeat', async () => {
    const taskQueue = `transfer-test-${randomBytes(4).toString('hex')}`;
    const worker = await Worker.create({
      connection: await NativeConnection.connect({ address: info.temporal.address }),
      namespace: info.temporal.namespace,
      taskQueue,
      workflowsPath: fileURLToPath(new URL('./fixtures/transfer-workflow.ts', import.meta.url)),
      activities: createTransferActivities(deps),
    });
    const connection = await Connection.connect({ address: info.temporal.address });
    const client = new Client({ connection, namespace: info.temporal.namespace });
    // Late in the second disk, so the first disk (in flight beside it) is complete when the attempt fails.
    await controlA.clearFaults();
    await controlA.addFault({
      kind: 'http-reset',
      path: 'susp01-flat.vmdk',
      method: 'GET',
      afterBytes: 30 * 1024 * 1024,
      count: 1,
    });
    const job = input('worker');
    try {
      const handle = await worker.runUntil(async () => {
        const h = await client.workflow.start('copyFilesWorkflow', {
          taskQueue,
          workflowId: `${taskQueue}-wf`,
          args: [job],
        });
        await h.result();
        return h;
      });
      const result = (await handle.result()) as Awaited<ReturnType<typeof runCopyFiles>>;
      const attempts = (await handle.fetchHistory()).events
        ?.map((e) => e.activityTaskStartedEventAttributes?.attempt)
        .filter((a) => a != null);
      expect(attempts).toEqual([2]);
      const byTarget = new Map(result.files.map((f) => [f.target.split(`${folder}/worker/`)[1], f]));
      expect(byTarget.get('off01/off01-flat.vmdk')?.skipped).toBe(true);
      expect(byTarget.get('susp01/susp01-flat.vmdk')?.skipped).toBe(false);
      expect(result.files.every((f) => f.sha256Target === f.sha256Source)).toBe(true);
    } finally {
      await controlA.clearFaults();
      await connection.close();
    }
  });
});
