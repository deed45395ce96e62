/**
 * The quickmig CLI end to end, as an operator uses it: every command is a spawned `node
 * bin/quickmig.js` process against a lab of this file's own and a `quickmig worker` process (JSON logs,
 * Prometheus metrics). Checks what the operator sees (exit codes, progress, reports) and what the
 * estate says afterwards (power states, snapshots, inventory).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import { freePorts } from '../../src/lab/processes';
import type { VSphereClient } from '../../src/vsphere';
import { startPrivateLab, stopPrivateLab } from '../support/lab';
import { connect } from '../vsphere/helpers';
import type { CliProcess } from './support';
import { labEnv, runCli, startCli, startWorkerProcess, stopProcess } from './support';

let lab: LabInfo;
let worker: CliProcess;
let env: NodeJS.ProcessEnv;
let metricsPort: number;
let esxA: VSphereClient;

/**
 * Every form `formatDuration` prints: `420 ms`, `1.23 s`, `12.3 s`, `1m03s`, `1h02m03s`. How long a
 * migration or its downtime takes depends on the lab's rates and the machine, so the report is checked
 * for a duration, never a particular unit.
 */
const DURATION = String.raw`(?:\d+ ms|\d+\.\d+ s|(?:\d+h)?\d+m\d\ds)`;

beforeAll(async () => {
  lab = await startPrivateLab('cli');
  env = labEnv(lab);
  [metricsPort] = (await freePorts(1)) as [number];
  worker = await startWorkerProcess(lab, [
    '--metrics-port',
    `127.0.0.1:${metricsPort}`,
    '--log-format',
    'json',
    '--log-level',
    'DEBUG',
  ]);
  esxA = await connect(lab, 'esx-a');
});

afterAll(async () => {
  await esxA?.close();
  await stopProcess(worker);
  if (lab) await stopPrivateLab(lab.dir);
});

async function vmOnEsxA(name: string) {
  const vm = (await esxA.inventory.listVms()).find((v) => v.name === name);
  return vm ? esxA.facts.vm(vm.ref) : undefined;
}

/** Polls `quickmig list` until the VM's migration reaches the phase (through the search attributes). */
async function waitForPhase(vm: string, phase: string): Promise<string> {
  for (let i = 0; i < 120; i++) {
    const run = await runCli(['list', '--vm', vm, '--phase', phase, '--status', 'running', '--json'], env);
    const items = JSON.parse(run.stdout || '[]') as { id: string }[];
    if (items[0]) return items[0].id;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${vm} never reached ${phase}`);
}

describe('quickmig CLI (integration)', () => {
  it('rejects a bad request with the field, the flag and the fix (exit 3), before contacting anything', async () => {
    const missing = await runCli(
      ['migrate', '--vm', 'esx-a/ir-app01', '--to', 'esx-b', '--mode', 'fast'],
      env,
    );
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('target.datastore (--datastore): is required');
    expect(missing.stderr).toContain(
      'options.mode (--mode): must be one of auto, smartswitch, cold, fastest (got "fast")',
    );

    const typo = await runCli(['plan', 'test/cli/fixtures/typo-request.json'], env);
    expect(typo.code).toBe(3);
    expect(typo.stderr).toMatch(/source\.nmae: unknown property 'nmae' — did you mean 'name'\?/);

    const unknownVm = await runCli(
      ['plan', '--vm', 'esx-a/nosuch', '--to', 'esx-b', '--datastore', 'datastore1'],
      env,
    );
    expect(unknownVm.code).toBe(3);
    expect(unknownVm.stderr).toMatch(/source\.name: .*nosuch/);

    const usage = await runCli(['migrate'], env);
    expect(usage.code).toBe(2);
  });

  it('plan: a dry run with method, mode and reasons; blocking findings exit 4; nothing changes', async () => {
    const ok = await runCli(
      ['plan', '--vm', 'esx-a/ir-app01', '--to', 'esx-b', '--datastore', 'datastore1', '--finalize-ir'],
      env,
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(
      'Plan for ir-app01: Quick Migration (host+datastore) mode smartswitch — ready',
    );
    expect(ok.stdout).toContain('[R3-smartswitch]');
    expect(ok.stdout).toContain('[R11-instant-recovery]');

    const blocked = await runCli(
      ['plan', '--vm', 'esx-a/ir-app01', '--to', 'esx-b', '--datastore', 'nope', '--json'],
      env,
    );
    expect(blocked.code).toBe(4);
    const plan = JSON.parse(blocked.stdout) as {
      blocked: boolean;
      findings: { code: string; field?: string }[];
    };
    expect(plan.blocked).toBe(true);
    expect(plan.findings).toContainEqual(expect.objectContaining({ field: 'target.datastore' }));
    expect(blocked.stderr).toContain('the plan is blocked by 1 finding(s)');

    const vm = await vmOnEsxA('ir-app01');
    expect(vm?.powerState).toBe('poweredOn');
    expect(vm?.snapshots).toEqual([]);
  });

  it('migrate: SmartSwitch of the instant-recovery VM with live progress and a report of verified bytes and downtime', async () => {
    // The switchover copies the suspend state, as large as the VM's memory: read it before the VM leaves.
    const memoryBytes = ((await vmOnEsxA('ir-app01'))?.memoryMB ?? 0) * 2 ** 20;
    expect(memoryBytes).toBeGreaterThan(0);
    const run = await runCli(
      ['migrate', '--vm', 'esx-a/ir-app01', '--to', 'esx-b', '--datastore', 'datastore1', '--finalize-ir'],
      env,
    );
    expect(run.code, run.stderr).toBe(0);
    // Progress on stderr: the plan, phases, a bar with bytes, the downtime at switchover.
    expect(run.stderr).toContain('started migration quickmig-esx-a-ir-app01 of esx-a/ir-app01');
    expect(run.stderr).toContain('plan: Quick Migration mode smartswitch');
    expect(run.stderr).toMatch(/bulk-copy\s+\[[#.]{24}\]\s+\d+%\s+[\d.]+ (MiB|KiB|B) \/ 256\.0 MiB/);
    // The downtime shows from the switchover on; a switchover of ~300 ms can fall between two polls
    // (500 ms apart), so the first line that shows it may already be a finalize one.
    expect(run.stderr).toMatch(/(switchover|finalize)\/\S+\s+.*downtime \d/);
    // The report on stdout.
    expect(run.stdout).toMatch(new RegExp(`Migration quickmig-esx-a-ir-app01 completed in ${DURATION}\\n`));
    expect(run.stdout).toMatch(/method {8}Quick Migration, mode smartswitch \(host\+datastore\)/);
    expect(run.stdout).toMatch(new RegExp(`downtime {6}${DURATION} \\(source suspended → target resumed\\)`));
    // The 256 MiB disk, the suspend state and the small files, as a size and as an exact count.
    const copied = /bytes {9}[\d.]+ (?:MiB|GiB) copied \((\d+) bytes\)/.exec(run.stdout);
    expect(copied, run.stdout).not.toBeNull();
    expect(Number(copied?.[1])).toBeGreaterThan((256 << 20) + memoryBytes);
    expect(run.stdout).toMatch(/verification {2}\d+ files verified, SHA-256 of source = target/);
    expect(run.stdout).toContain('source        kept: renamed ir-app01_migrated');
    expect(run.stdout).toContain('IR-NFS unmounted');
    expect(await vmOnEsxA('ir-app01')).toBeUndefined();

    // status --json gives the same result to scripts.
    const status = await runCli(['status', 'quickmig-esx-a-ir-app01', '--json'], env);
    expect(status.code).toBe(0);
    const body = JSON.parse(status.stdout) as {
      status: string;
      phase: string;
      result: { bytesCopied: number };
    };
    expect(body).toMatchObject({ status: 'COMPLETED', phase: 'done' });
    expect(body.result.bytesCopied).toBe(Number(copied?.[1]));
  });

  it('list filters by VM and phase through the search attributes', async () => {
    const done = await runCli(['list', '--vm', 'esx-a/ir-app01', '--phase', 'done'], env);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(
      /quickmig-esx-a-ir-app01\s+COMPLETED\s+esx-a\/ir-app01\s+done\s+quick-migration\/smartswitch/,
    );
    const none = await runCli(['list', '--vm', 'esx-a/ir-app01', '--phase', 'rolled-back', '--json'], env);
    expect(JSON.parse(none.stdout)).toEqual([]);
  });

  it('approve: a manual switchover waits, the source running on its snapshot, until approved', async () => {
    const migrate = startCli(
      [
        'migrate',
        '--vm',
        'esx-b/util01',
        '--to',
        'esx-a',
        '--datastore',
        'datastore1',
        '--switchover',
        'manual',
      ],
      env,
    );
    const id = await waitForPhase('esx-b/util01', 'awaiting-approval');
    expect(id).toBe('quickmig-esx-b-util01');
    await migrate.waitFor(/waiting for approval: quickmig approve quickmig-esx-b-util01/);
    const approve = await runCli(['approve', id], env);
    expect(approve.code, approve.stderr).toBe(0);
    expect(approve.stdout).toContain(`Approved the switchover of ${id}`);
    const run = await migrate.done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`Migration ${id} completed`);
    expect((await vmOnEsxA('util01'))?.powerState).toBe('poweredOn');

    const again = await runCli(['approve', id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('refused: the migration is already completed');
  });

  it('plan: the way back meets the source kept on esx-b (source: keep leaves its folder), before anything changes', async () => {
    // util01 came from esx-b above; its kept source still holds [datastore1] util01 there.
    const back = await runCli(
      ['plan', '--vm', 'esx-a/util01', '--to', 'esx-b', '--datastore', 'datastore1'],
      env,
    );
    expect(back.code).toBe(4);
    expect(back.stdout).toMatch(
      /error\s+target-folder-exists \(target\.datastore\): \[datastore1\] util01 already exists on esx-b and holds \d+ file\(s\) of another VM/,
    );
    // Renamed, it fits: the folder of the new name is free.
    const renamed = await runCli(
      ['plan', '--vm', 'esx-a/util01', '--to', 'esx-b', '--datastore', 'datastore1', '--name', 'util01-back'],
      env,
    );
    expect(renamed.stdout).not.toContain('target-folder-exists');
  });

  it('Ctrl-C detaches; a second start for the VM names the running migration; cancel rolls back', async () => {
    const migrate = startCli(
      [
        'migrate',
        '--vm',
        'esx-a/big01',
        '--to',
        'esx-b',
        '--datastore',
        'datastore1',
        '--switchover',
        'manual',
      ],
      env,
    );
    await migrate.waitFor(/waiting for approval/);
    const during = await vmOnEsxA('big01');
    expect(during?.snapshots.length).toBe(1);
    migrate.child.kill('SIGINT');
    const detached = await migrate.done;
    expect(detached.code).toBe(0);
    expect(detached.stderr).toContain('detached; the migration goes on');

    const twice = await runCli(
      ['migrate', '--vm', 'esx-a/big01', '--to', 'esx-b', '--datastore', 'datastore1'],
      env,
    );
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('esx-a/big01 is already being migrated by quickmig-esx-a-big01');

    const cancel = await runCli(['cancel', 'quickmig-esx-a-big01'], env);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain('Cancelled quickmig-esx-a-big01; rolled back:');
    expect(cancel.stdout).toContain('removed the migration snapshot from the source');

    const after = await vmOnEsxA('big01');
    expect(after?.powerState).toBe('poweredOn');
    expect(after?.snapshots).toEqual([]);
    const listed = await runCli(['list', '--vm', 'esx-a/big01', '--phase', 'rolled-back', '--json'], env);
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ id: 'quickmig-esx-a-big01', status: 'CANCELLED' }),
    ]);
  });

  it('the worker serves Prometheus metrics (SDK + bytes + downtime) and logs JSON lines with the migration id', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(text).toMatch(/^temporal_workflow_completed_total\{/m);
    const bytes = [...text.matchAll(/^quickmig_copied_bytes_total\{[^}]*\} (\d+)/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    expect(bytes).toBeGreaterThan(256 << 20);
    expect(text).toMatch(/^quickmig_downtime_seconds_count\{[^}]*mode="smartswitch"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^quickmig_migrations_total\{[^}]*outcome="cancelled"[^}]*\} 1/m);

    const lines = worker.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { migrationId?: string; level: string; message: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((l) => l.migrationId === 'quickmig-esx-a-big01')).toBe(true);
  });
});
