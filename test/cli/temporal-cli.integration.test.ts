/**
 * The README's "Temporal CLI and UI" section, run exactly as written: migrations started, queried,
 * found, approved and cancelled with the `temporal` CLI alone, against a lab of this file's own and a
 * `quickmig worker` process.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import { ensureTools } from '../../src/lab/tools';
import type { MigrationProgress, MigrationResult } from '../../src/workflows/definitions';
import { startPrivateLab, stopPrivateLab } from '../support/lab';
import type { CliProcess } from './support';
import { startWorkerProcess, stopProcess } from './support';

const run = promisify(execFile);
let lab: LabInfo;
let worker: CliProcess;
let temporalBin: string;

beforeAll(async () => {
  lab = await startPrivateLab('temporal-cli');
  temporalBin = ensureTools().temporal;
  worker = await startWorkerProcess(lab);
});

afterAll(async () => {
  await stopProcess(worker);
  if (lab) await stopPrivateLab(lab.dir);
});

/** `temporal ...args` against the lab; returns stdout. */
async function temporal(...args: string[]): Promise<string> {
  const { stdout } = await run(temporalBin, args, {
    env: { ...process.env, TEMPORAL_ADDRESS: lab.temporal.address, TEMPORAL_NAMESPACE: 'default' },
  });
  return stdout;
}

async function progress(id: string): Promise<MigrationProgress> {
  const out = JSON.parse(
    await temporal('workflow', 'query', '--workflow-id', id, '--name', 'progress', '-o', 'json'),
  );
  return (out as { queryResult: MigrationProgress[] }).queryResult[0] as MigrationProgress;
}

async function untilAwaitingApproval(id: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if ((await progress(id)).awaitingApproval) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${id} never waited for approval`);
}

/** Visibility (list) follows the workflow's state asynchronously: retry an assertion for a few seconds. */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      return await check();
    } catch (error) {
      if (i >= 20) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe('the temporal CLI drives quickmig (integration)', () => {
  it('start, query progress, list by VM and phase, approve the switchover, read the result', async () => {
    await temporal(
      'workflow',
      'start',
      '--task-queue',
      'quickmig',
      '--type',
      'quickMigration',
      '--workflow-id',
      'quickmig-esx-b-util01',
      '--input',
      '{"source":{"endpoint":"esx-b","name":"util01"},"target":{"endpoint":"esx-a","datastore":"datastore1"},"options":{"switchover":"manual"}}',
    );
    await untilAwaitingApproval('quickmig-esx-b-util01');
    expect(await progress('quickmig-esx-b-util01')).toMatchObject({
      phase: 'awaiting-approval',
      plan: { method: 'quick-migration', mode: 'smartswitch' },
    });

    await eventually(async () => {
      const listed = JSON.parse(
        await temporal(
          'workflow',
          'list',
          '--query',
          "QuickmigVm='esx-b/util01' AND QuickmigPhase='awaiting-approval'",
          '-o',
          'json',
        ),
      ) as { execution: { workflowId: string } }[];
      expect(listed.map((w) => w.execution.workflowId)).toEqual(['quickmig-esx-b-util01']);
    });

    const approved = await temporal(
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      'quickmig-esx-b-util01',
      '--name',
      'approveSwitchover',
    );
    expect(approved).toContain('approvedAt');

    const result = JSON.parse(
      await temporal('workflow', 'result', '--workflow-id', 'quickmig-esx-b-util01', '-o', 'json'),
    ) as { status: string; result: MigrationResult };
    expect(result.status).toBe('COMPLETED');
    expect(result.result).toMatchObject({
      method: 'quick-migration',
      target: { endpoint: 'esx-a', powerState: 'poweredOn' },
    });
    expect(result.result.downtimeMs).toBeGreaterThan(0);

    await eventually(async () => {
      const done = await temporal(
        'workflow',
        'list',
        '--query',
        "QuickmigVm='esx-b/util01' AND QuickmigPhase='done'",
      );
      expect(done).toContain('quickmig-esx-b-util01');
    });
  });

  it('cancel rolls the migration back; the query tells what was undone', async () => {
    await temporal(
      'workflow',
      'start',
      '--task-queue',
      'quickmig',
      '--type',
      'quickMigration',
      '--workflow-id',
      'quickmig-esx-a-big01',
      '--input',
      '{"source":{"endpoint":"esx-a","name":"big01"},"target":{"endpoint":"esx-b","datastore":"datastore1"},"options":{"switchover":"manual"}}',
    );
    await untilAwaitingApproval('quickmig-esx-a-big01');
    await temporal('workflow', 'cancel', '--workflow-id', 'quickmig-esx-a-big01');
    let status = '';
    for (let i = 0; i < 60 && !status.includes('CANCELED'); i++) {
      await new Promise((r) => setTimeout(r, 500));
      status = await temporal('workflow', 'describe', '--workflow-id', 'quickmig-esx-a-big01', '-o', 'json');
    }
    expect(status).toContain('WORKFLOW_EXECUTION_STATUS_CANCELED');
    const after = await progress('quickmig-esx-a-big01');
    expect(after.phase).toBe('rolled-back');
    expect(after.undone).toEqual([
      'removed the migration snapshot from the source',
      'deleted the target folders [datastore1] big01',
    ]);
    await eventually(async () => {
      const rolledBack = await temporal('workflow', 'list', '--query', "QuickmigPhase='rolled-back'");
      expect(rolledBack).toContain('quickmig-esx-a-big01');
    });
  });
});
