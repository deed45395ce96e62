/**
 * The commit window (options.commit.afterMs, issue 21 part 2) on a lab of its own with the quick profile:
 * a revert within the window brings the source back (name, moref, BIOS UUID, power state, the bytes of
 * its disks as they were at the switchover) and removes the target; a commit ends the window and deletes
 * the source as options.source says; after the window a revert is refused with the reason. Small disks
 * and a hard stop keep it short.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationRefusedError } from '../../src/client/failures';
import { QuickmigClient } from '../../src/client/migrations';
import type { LabInfo } from '../../src/lab/lab';
import type { TopologyVm } from '../../src/lab/topology';
import { FAILURE_TYPES } from '../../src/request/contract';
import type { MigrationRequestInput } from '../../src/request/request';
import type { VmFacts, VSphereClient } from '../../src/vsphere';
import { progressQuery } from '../../src/workflows/definitions';
import { quickMigration } from '../../src/workflows/quick-migration';
import { labEnv, runCli } from '../cli/support';
import { HistoryRecorder } from '../support/histories';
import { controlOf, startPrivateLab, stopPrivateLab, twoHostTopology } from '../support/lab';
import type { TestWorker } from '../support/worker';
import { progressUntil, startWorker } from '../support/worker';
import { connect } from '../vsphere/helpers';

let lab: LabInfo;
let worker: TestWorker;
let quickmig: QuickmigClient;
const clients: Record<string, VSphereClient> = {};
const client = (name: string) => clients[name] as VSphereClient;

const MiB = 2 ** 20;
/** Long enough never to end during a test: the tests end it by an update. */
const LONG_WINDOW_MS = 30 * 60_000;

function topology(): string {
  const vm = (name: string): TopologyVm => ({
    name,
    host: 'esx-a.lab',
    datastore: 'datastore1',
    memoryMiB: 256,
    power: 'poweredOn',
    disks: [{ sizeMiB: 4 }],
    // No background writes: the disks change only by the writes the tests make.
    guestWriteBytesPerSec: 0,
  });
  return twoHostTopology('commit-window', [vm('rev01'), vm('com01'), vm('end01'), vm('gone01')]);
}

beforeAll(async () => {
  lab = await startPrivateLab('commit-window', topology());
  worker = await startWorker(lab);
  quickmig = new QuickmigClient(worker.client, { taskQueue: worker.taskQueue });
  for (const name of ['esx-a', 'esx-b']) clients[name] = await connect(lab, name);
});

const histories = new HistoryRecorder();

afterAll(async () => {
  await histories.record();
  await Promise.all(Object.values(clients).map((c) => c.close()));
  await worker?.stop();
  if (lab) await stopPrivateLab(lab.dir);
});

async function vmNamed(endpoint: string, name: string): Promise<VmFacts | undefined> {
  const vm = (await client(endpoint).inventory.listVms()).find((v) => v.name === name);
  return vm ? client(endpoint).facts.vm(vm.ref) : undefined;
}

/** The folder of a VM on a lab datastore (both hosts have a `datastore1`). */
const vmDir = (endpoint: string, name: string) => join(lab.dir, 'datastores', endpoint, 'datastore1', name);

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

async function bytesAt(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, offset);
    return buffer;
  } finally {
    await handle.close();
  }
}

const request = (name: string, options: MigrationRequestInput['options']): MigrationRequestInput => ({
  source: { endpoint: 'esx-a', name },
  target: { endpoint: 'esx-b', datastore: 'datastore1' },
  options: { mode: 'cold', shutdown: { mode: 'power-off' }, ...options },
});

/** Starts a migration; its history is stored as `commit-window-<name>` when recording. */
async function start(input: MigrationRequestInput, id: string) {
  const handle = await worker.client.workflow.start(quickMigration, {
    taskQueue: worker.taskQueue,
    workflowId: `${id}-${Date.now()}`,
    args: [input],
  });
  histories.add(`commit-window-${id.replace(/^cw-/, '')}`, handle);
  return handle;
}

/** Polls the progress until `until` holds (generous bound: the machine is shared). */
/** The innermost message of an error. */
function rootOf(error: Error): string {
  let current = error;
  while (current.cause instanceof Error) current = current.cause;
  return current.message;
}

/** The refusal's reason (OperationRefusedError), failing the test when the call went through. */
async function refusal(call: Promise<unknown>): Promise<string> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OperationRefusedError);
  return (error as OperationRefusedError).reason;
}

describe('commit window (integration)', () => {
  it('a revert within the window brings the source back as at the switchover and removes the target', async () => {
    const before = await vmNamed('esx-a', 'rev01');
    expect(before?.powerState).toBe('poweredOn');
    const flat = join(vmDir('esx-a', 'rev01'), 'rev01-flat.vmdk');
    const marker = (text: string) => Buffer.from(text.padEnd(512, '.'));
    await controlOf(lab, 'esx-a').guestWrite('rev01', 0, 0, marker('written before the migration'));

    // A manual switchover holds the migration after its bulk copy: the guest writes into the
    // snapshot's delta, so the state at the switchover differs from the base the bulk copy read.
    const handle = await start(
      request('rev01', { switchover: 'manual', commit: { afterMs: LONG_WINDOW_MS } }),
      'cw-revert',
    );
    await progressUntil(handle, (p) => p.phase === 'awaiting-approval', 120_000);
    expect(await refusal(quickmig.revert(handle.workflowId))).toMatch(
      /the commit window has not opened yet: the migration is in phase awaiting-approval/,
    );
    await controlOf(lab, 'esx-a').guestWrite('rev01', 0, MiB, marker('written during the bulk copy'));
    await quickmig.approve(handle.workflowId);

    const inWindow = await progressUntil(handle, (p) => p.phase === 'committing', 120_000);
    const w = inWindow.commitWindow;
    expect(w?.state).toBe('open');
    expect(Date.parse(w?.endsAt ?? '') - Date.parse(w?.openedAt ?? '')).toBe(LONG_WINDOW_MS);
    expect(inWindow.plan?.steps.slice(-2)).toEqual(['commit-window', 'finalize-source']);
    // The source is kept off and renamed, still registered (same moref); the target runs under the name.
    const kept = await vmNamed('esx-a', 'rev01_migrated');
    expect(kept?.ref.value).toBe(before?.ref.value);
    expect(kept?.powerState).toBe('poweredOff');
    expect(kept?.snapshots).toEqual([]);
    const target = await vmNamed('esx-b', 'rev01');
    expect(target?.powerState).toBe('poweredOn');
    // The source's disk now is its state at the switchover: both writes, the delta merged into the base.
    const atSwitchover = await sha256(flat);
    expect((await bytesAt(flat, MiB, 28)).toString()).toBe('written during the bulk copy');
    // The target writes during the window: that change is what the revert loses.
    // (by moref: the lab knows a VM by the name it was registered under, here the temporary one)
    await controlOf(lab, 'esx-b').guestWrite(
      target?.ref.value ?? '',
      0,
      2 * MiB,
      marker('written on the target'),
    );
    expect((await bytesAt(join(vmDir('esx-b', 'rev01'), 'rev01-flat.vmdk'), 2 * MiB, 21)).toString()).toBe(
      'written on the target',
    );

    expect(await refusal(quickmig.cancel(handle.workflowId))).toMatch(/commit window.*quickmig revert/);
    expect(await refusal(quickmig.revert(handle.workflowId, { keepTargetChanges: true }))).toMatch(
      /keepTargetChanges is not supported: the target's disks are full copies/,
    );

    const outcome = await quickmig.revert(handle.workflowId);
    expect(outcome.source).toEqual({
      endpoint: 'esx-a',
      name: 'rev01',
      moref: before?.ref.value,
      powerState: 'poweredOn',
    });
    expect(outcome.warnings[0]).toMatch(/the target's changes since the switchover .* are lost/);
    const error = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    expect(((error as WorkflowFailedError).cause as { type?: string }).type).toBe(
      FAILURE_TYPES.migrationReverted,
    );
    const done = await handle.query(progressQuery);
    expect(done.phase).toBe('reverted');
    expect(done.commitWindow).toMatchObject({ state: 'reverted', endedBy: 'revert' });

    // The source: same identity, running again, its disk byte for byte as at the switchover.
    const after = await vmNamed('esx-a', 'rev01');
    expect(after?.ref.value).toBe(before?.ref.value);
    expect(after?.uuid).toBe(before?.uuid);
    expect(after?.powerState).toBe('poweredOn');
    expect(await vmNamed('esx-a', 'rev01_migrated')).toBeUndefined();
    expect(await sha256(flat)).toBe(atSwitchover);
    expect((await bytesAt(flat, 0, 28)).toString()).toBe('written before the migration');
    expect((await bytesAt(flat, 2 * MiB, 21)).toString()).not.toBe('written on the target');
    // The target: unregistered, its files gone.
    expect(await vmNamed('esx-b', 'rev01')).toBeUndefined();
    expect(existsSync(vmDir('esx-b', 'rev01'))).toBe(false);
  }, 240_000);

  it('a commit ends the window and deletes the source (source delete); a revert after it is refused', async () => {
    const handle = await start(
      request('com01', { source: 'delete', commit: { afterMs: LONG_WINDOW_MS } }),
      'cw-commit',
    );
    await progressUntil(handle, (p) => p.phase === 'committing', 120_000);
    // Not deleted before the commit: kept off, renamed, with its files.
    expect((await vmNamed('esx-a', 'com01_migrated'))?.powerState).toBe('poweredOff');
    expect(existsSync(vmDir('esx-a', 'com01'))).toBe(true);

    // As an operator does it: status shows the window, commit ends it.
    const cli = (...args: string[]) =>
      runCli([...args, handle.workflowId, '--task-queue', worker.taskQueue], labEnv(lab));
    const status = await cli('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      /committing\/commit-window .*waiting: the commit window ends at \S+: revert/,
    );
    expect(status.stdout).toMatch(/commit window open until \S+; the source is kept off as com01_migrated/);
    const committed = await cli('commit');
    expect(committed.code).toBe(0);
    expect(committed.stdout).toMatch(/^Committed \S+ at \S+; source deleted: deleted with its files/);
    const result = await handle.result();
    expect(result.source.action).toBe('deleted');
    expect(result.commitWindow).toMatchObject({ state: 'committed', endedBy: 'commit' });
    expect(result.target).toMatchObject({ name: 'com01', powerState: 'poweredOn' });
    expect(await vmNamed('esx-a', 'com01_migrated')).toBeUndefined();
    expect(existsSync(vmDir('esx-a', 'com01'))).toBe(false);

    expect(await refusal(quickmig.revert(handle.workflowId))).toMatch(
      /the commit window ended at .* \(by the commit update\) and the migration committed; the source was deleted/,
    );
  }, 240_000);

  it("commits at the window's end (source keep: unregistered then), after which a revert is refused with the reason", async () => {
    const handle = await start(request('end01', { commit: { afterMs: 2_000 } }), 'cw-end');
    const result = await handle.result();
    expect(result.commitWindow).toMatchObject({ state: 'committed', endedBy: 'window-end', afterMs: 2_000 });
    expect(result.source).toMatchObject({ action: 'kept', name: 'end01_migrated' });
    // keep: unregistered at the commit, its files stay.
    expect(await vmNamed('esx-a', 'end01_migrated')).toBeUndefined();
    expect(existsSync(join(vmDir('esx-a', 'end01'), 'end01.vmx'))).toBe(true);
    expect((await vmNamed('esx-b', 'end01'))?.powerState).toBe('poweredOn');

    const reason = await refusal(quickmig.revert(handle.workflowId));
    expect(reason).toMatch(
      /the commit window ended at \S+ \(at the window's end\) and the migration committed; the source is kept as end01_migrated/,
    );
    const cli = await runCli(['revert', handle.workflowId, '--task-queue', worker.taskQueue], labEnv(lab));
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain(`revert ${handle.workflowId} refused: the commit window ended at`);
  }, 240_000);

  it('a revert whose kept source was removed during the window touches nothing and leaves the window open', async () => {
    const handle = await start(request('gone01', { commit: { afterMs: LONG_WINDOW_MS } }), 'cw-gone');
    await progressUntil(handle, (p) => p.phase === 'committing', 120_000);
    const kept = await vmNamed('esx-a', 'gone01_migrated');
    if (!kept) throw new Error('the source was not kept as gone01_migrated');
    // An operator unregisters the kept source by hand during the window.
    await client('esx-a').vms.unregister(kept.ref);

    const error = await quickmig.revert(handle.workflowId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(rootOf(error as Error)).toMatch(
      /the kept source gone01_migrated \(vm-\d+\) cannot be read on esx-a, so the target was left running and the window stays open/,
    );
    expect((await vmNamed('esx-b', 'gone01'))?.powerState).toBe('poweredOn');
    expect((await handle.query(progressQuery)).commitWindow?.state).toBe('open');

    // The window still ends by a commit; keep's unregistration finds the source gone already.
    await quickmig.commit(handle.workflowId);
    const result = await handle.result();
    expect(result.commitWindow).toMatchObject({ state: 'committed', endedBy: 'commit' });
    expect(result.target).toMatchObject({ name: 'gone01', powerState: 'poweredOn' });
    expect(existsSync(join(vmDir('esx-a', 'gone01'), 'gone01.vmx'))).toBe(true);
  }, 240_000);
});
