/**
 * The README's runnable command blocks, executed: each block after a `<!-- readme-test: ... -->` marker
 * runs line by line, in order, as `node bin/quickmig.js ...` against a lab of this file's own, found
 * only through QUICKMIG_LAB (no TEMPORAL_ADDRESS), with a `quickmig worker` that finds it the same way.
 * An id, a flag or a file that drifts from what the CLI does fails here. Along the way it checks what
 * an operator sees around that block: the UI's Current Details, `status | head`, a refusal, the dry-run
 * mark, `plan` once the worker stopped, and `lab down` removing the lab.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApplicationFailure,
  Client,
  Connection,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { workflowMetadataQuery } from '@temporalio/workflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import { labDown } from '../../src/lab/lab';
import { projectRoot } from '../../src/lab/tools';
import { startPrivateLab } from '../support/lab';
import type { CliProcess } from './support';
import { CLI, runCli, startCli, stopProcess } from './support';

let lab: LabInfo;
let worker: CliProcess | undefined;
let env: NodeJS.ProcessEnv;
let connection: Connection;
let temporal: Client;

beforeAll(async () => {
  lab = await startPrivateLab('readme');
  const profile = join(mkdtempSync(join(tmpdir(), 'quickmig-readme-')), 'temporal.toml');
  // A profile that names nothing: the lab must be found through QUICKMIG_LAB alone.
  writeFileSync(profile, '[profile.default]\n');
  env = { ...process.env, QUICKMIG_LAB: lab.dir, TEMPORAL_CONFIG_FILE: profile };
  for (const key of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'QUICKMIG_CONFIG', 'FORCE_COLOR'])
    delete env[key];
  worker = startCli(['worker'], env);
  await worker.waitFor(/Worker state changed[\s\S]*?RUNNING/, 'stderr', 90_000);
  connection = await Connection.connect({ address: lab.temporal.address });
  temporal = new Client({ connection, namespace: lab.temporal.namespace });
});

afterAll(async () => {
  await stopProcess(worker);
  await connection?.close();
  if (lab && existsSync(lab.dir)) await labDown(lab.dir, { removeFiles: true });
});

/** The command lines of the README's blocks marked runnable, comments and the lab's own start left out. */
function runnableLines(): string[] {
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/<!-- readme-test:[^>]*-->\s*```sh\n([\s\S]*?)```/g)];
  expect(blocks.length).toBeGreaterThan(0);
  return blocks
    .flatMap((b) => (b[1] ?? '').split('\n'))
    .map((line) => line.replace(/\s+#\s.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('node bin/quickmig.js lab up'));
}

/** Runs `quickmig a b c` as the README writes it (no quotes in those lines). */
function run(line: string) {
  expect(line.startsWith('quickmig '), line).toBe(true);
  return runCli(line.split(/\s+/).slice(1), env);
}

describe('README (integration)', () => {
  it('runs the CLI block as written: every id it names is the one the CLI printed', async () => {
    const printedIds = new Set<string>();
    const outputs: Record<string, string> = {};
    for (const line of runnableLines()) {
      const named = /\bquickmig-[\w-]+/.exec(line.replace(/^quickmig /, ''))?.[0];
      if (named) expect([...printedIds], `${line}: an id no command printed`).toContain(named);
      if (line.startsWith('quickmig approve ')) await beforeApproval(named as string);
      let result = await run(line);
      // `list` answers what is true now; the README says to run it once the bulk copy is done.
      for (let i = 0; line.startsWith('quickmig list ') && /No migrations match/.test(result.stdout); i++) {
        expect(i, `${line} never listed anything`).toBeLessThan(240);
        await new Promise((r) => setTimeout(r, 500));
        result = await run(line);
      }
      expect(result.code, `${line}\n${result.stdout}\n${result.stderr}`).toBe(0);
      for (const id of result.stdout.match(/\bquickmig-[\w-]+/g) ?? []) printedIds.add(id);
      outputs[line] = result.stdout;
    }
    const lines = runnableLines();
    const watched = lines.find((l) => l.startsWith('quickmig watch ')) as string;
    expect(outputs[watched]).toMatch(/^Migration quickmig-esx-a-ha-datacenter-vm-big01 completed in /m);
    const approved = lines.find((l) => l.startsWith('quickmig approve ')) as string;
    expect(outputs[approved]).toMatch(/ at \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/m);
  });

  it('a migration preflight refuses: JSON error on stdout, phase refused with its error, a typed non-retryable failure', async () => {
    const blocked = await runCli(
      ['migrate', '--vm', 'esx-a/off01', '--to', 'esx-b', '--datastore', 'nope', '--json'],
      env,
    );
    expect(blocked.code).toBe(4);
    expect(JSON.parse(blocked.stdout)).toMatchObject({
      error: {
        name: 'MigrationFailedError',
        type: 'PreflightBlockedError',
        migrationId: 'quickmig-esx-a-off01',
        blocked: true,
        exitCode: 4,
        message: expect.stringContaining("datastore 'nope' does not exist on esx-b"),
      },
    });
    const status = await runCli(['status', 'quickmig-esx-a-off01', '--json'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({
      status: 'FAILED',
      phase: 'refused',
      error: expect.stringContaining("datastore 'nope' does not exist"),
    });
    const failure = await temporal.workflow
      .getHandle('quickmig-esx-a-off01')
      .result()
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('PreflightBlockedError');
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
  });

  it('a refused approval is a typed, non-retryable failure with the reason', async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const started = await runCli(
      [
        'migrate',
        '--vm',
        'esx-b/util01',
        '--to',
        'esx-a',
        '--datastore',
        'datastore1',
        '--not-before',
        tomorrow,
        '--detach',
      ],
      env,
    );
    expect(started.code, started.stderr).toBe(0);
    const id = started.stdout.trim();
    // It switches over by itself once the window opens: there is nothing to approve, before or after preflight.
    const refusal = await temporal.workflow
      .getHandle(id)
      .executeUpdate('approveSwitchover')
      .catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (refusal as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('ApprovalRefused');
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
    // In preflight it has no plan yet; after it, the plan says it switches over by itself.
    expect((cause as ApplicationFailure).message).toMatch(
      /^(this migration switches over automatically; nothing to approve|the migration is still in preflight; approve it once it has a plan \(quickmig status ID\))$/,
    );
    const cancelled = await runCli(['cancel', id], env);
    expect(cancelled.code, cancelled.stderr).toBe(0);
  });

  it('dry runs are marked: the saved view the README gives lists migrations without them', async () => {
    const ids = async (query: string) => {
      const found: string[] = [];
      for await (const wf of temporal.workflow.list({ query })) found.push(`${wf.type}:${wf.workflowId}`);
      return found;
    };
    const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
    const view = /temporal workflow list --query "(QuickmigVm IS NOT NULL AND QuickmigDryRun IS NULL)"/.exec(
      readme,
    )?.[1] as string;
    expect(view).toBeDefined();
    const migrations = await ids(view);
    expect(migrations).toContain('quickMigration:quickmig-esx-a-ha-datacenter-vm-big01');
    expect(migrations.filter((m) => m.startsWith('planMigration:'))).toEqual([]);
    const dryRuns = await ids("QuickmigDryRun = true AND QuickmigVm = 'esx-a/ir-app01'");
    expect(dryRuns.length).toBeGreaterThan(0);
    expect(dryRuns.every((m) => m.startsWith('planMigration:'))).toBe(true);
  });

  it('plan once the worker stopped exits 1 with NoWorkerError; lab down removes the lab', async () => {
    await stopProcess(worker);
    worker = undefined;
    const plan = await runCli(
      ['plan', '--vm', 'esx-a/off01', '--to', 'esx-b', '--datastore', 'datastore1'],
      env,
    );
    expect(plan.code).toBe(1);
    expect(plan.stderr).toContain("no quickmig worker polls task queue 'quickmig'");
    const down = await runCli(['lab', 'down'], env);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain(`Removed ${lab.dir}`);
    expect(existsSync(lab.dir)).toBe(false);
    const status = await runCli(['lab', 'status'], env);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain(`no lab in ${lab.dir}`);
  });
});

/**
 * While the README's manual switchover waits: the UI's Current Details say so, and `status ID | head -3`
 * shows three lines without an EPIPE from the CLI.
 */
async function beforeApproval(id: string): Promise<void> {
  const { currentDetails } = await temporal.workflow.getHandle(id).query(workflowMetadataQuery);
  expect(currentDetails).toContain('**Phase** awaiting-approval');
  expect(currentDetails).toMatch(/\*\*Bytes\*\* [\d.]+ \w+ of [\d.]+ \w+ copied/);
  expect(currentDetails).toContain('**Waiting for approval**');
  const piped = spawnSync(
    'bash',
    ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" status ${id} | head -3`],
    { cwd: projectRoot, env, encoding: 'utf8' },
  );
  expect(piped.stderr).not.toContain('EPIPE');
  expect(piped.status).toBe(0);
  expect(piped.stdout.trimEnd().split('\n')).toHaveLength(3);
}
