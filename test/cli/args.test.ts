/**
 * Unit tests of the CLI's command line (citty commands, strict options, generated help), its request
 * flags, connection resolution and rendering (no server: every command line here fails or ends before
 * a command would connect).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { parseArgs } from 'citty';
import { describe, expect, it } from 'vitest';
import { REQUEST_ARGS } from '../../src/cli/args';
import { command, helpOf, runCommandLine } from '../../src/cli/command';
import { CliError } from '../../src/cli/errors';
import { labCommand } from '../../src/cli/lab';
import { listCommand } from '../../src/cli/list';
import { migrateCommand } from '../../src/cli/migrate';
import type { Output } from '../../src/cli/output';
import { planCommand } from '../../src/cli/plan';
import { bar, formatBytes, listLines, progressLine } from '../../src/cli/render';
import { requestFrom } from '../../src/cli/request';
import { statusCommand } from '../../src/cli/status';
import { resolveConnection } from '../../src/client/connection';
import { migrationIdOf } from '../../src/client/ids';
import type { LiveProgress } from '../../src/client/progress';
import { RequestValidationError } from '../../src/request/errors';

const problemsOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    if (error instanceof RequestValidationError) return error.problems;
    throw error;
  }
  throw new Error('no error');
};

/** An Output that keeps what a command printed. */
function captured(): Output & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    interactive: false,
    text: (line) => lines.push(line),
    json: (value) => lines.push(JSON.stringify(value)),
    progress: (line) => lines.push(line),
    live: (line) => lines.push(line),
  };
}

const root = command({
  meta: { name: 'quickmig', description: 'test root' },
  subCommands: {
    plan: planCommand,
    migrate: migrateCommand,
    status: statusCommand,
    list: listCommand,
    lab: labCommand,
  },
});

/** The error a command line ends with (it must end with one, before connecting anywhere). */
async function failureOf(argv: string[]): Promise<Error> {
  try {
    await runCommandLine(root, argv, captured());
  } catch (error) {
    return error as Error;
  }
  throw new Error(`quickmig ${argv.join(' ')} did not fail`);
}

describe('the command line (citty)', () => {
  it('parses every documented request flag of plan and migrate into the request', () => {
    // The README's flags, as a user types them (space or =).
    const argv = [
      '--vm=vcenter//DC1/vm/web01',
      '--to',
      'vcenter',
      '--host',
      'esx02.lab',
      '--datastore',
      'shared-ds',
      '--pool=Resources',
      '--folder',
      'Prod',
      '--name',
      'web01-new',
      '--method',
      'quick-migration',
      '--mode',
      'cold',
      '--switchover',
      'manual',
      '--source-action',
      'delete',
      '--disk-type',
      'thin',
      '--finalize-ir',
      '--verify',
      'size',
      '--max-downtime',
      '1500',
      '--on-budget-miss',
      'abort',
      '--not-before',
      '2026-11-28T22:00:00Z',
      '--not-after',
      '2026-11-29T02:00:00Z',
      '--on-window-miss',
      'wait-approval',
    ];
    const request = requestFrom(undefined, parseArgs<typeof REQUEST_ARGS>(argv, REQUEST_ARGS));
    expect(request.source).toEqual({ endpoint: 'vcenter', inventoryPath: '/DC1/vm/web01' });
    expect(request.target).toMatchObject({ endpoint: 'vcenter', host: 'esx02.lab', datastore: 'shared-ds' });
    expect(request.target).toMatchObject({ resourcePool: 'Resources', folder: 'Prod', name: 'web01-new' });
    expect(request.options).toMatchObject({
      method: 'quick-migration',
      mode: 'cold',
      switchover: 'manual',
      source: 'delete',
      diskType: 'thin',
      finalizeInstantRecovery: true,
      verify: 'size',
      maxDowntimeMs: 1500,
      precopy: { onBudgetMiss: 'abort' },
      window: {
        notBefore: '2026-11-28T22:00:00Z',
        notAfter: '2026-11-29T02:00:00Z',
        onMiss: 'wait-approval',
      },
    });
  });

  it("generates each command's help from its option definitions", async () => {
    const help = await helpOf(migrateCommand, ['migrate'], captured());
    for (const flag of Object.keys(REQUEST_ARGS)) expect(help).toContain(`--${flag}`);
    for (const flag of [
      '--id=<ID>',
      '--detach',
      '--data-mover-queue=<Q>',
      '--plan=<FILE>',
      '--wait',
      '--address=<HOST:PORT>',
      '--json',
    ])
      expect(help).toContain(flag);
    expect(help).toContain('--vm=<ENDPOINT/NAME>');
    expect(help).toMatch(/USAGE quickmig migrate \[OPTIONS\] \[REQUEST\]/);
    expect(help).toBe(stripVTControlCharacters(help)); // no colour codes outside a terminal

    const out = captured();
    await runCommandLine(root, ['lab', 'fault', '--help'], out);
    expect(out.lines.join('\n')).toMatch(/add\s+Inject a fault/);
    const top = captured();
    await runCommandLine(root, ['--help'], top);
    expect(top.lines.join('\n')).toMatch(/plan\s+Dry run: method, mode, reasons/);
  });

  it('refuses unknown options, missing values and stray arguments with exit 2 and a clear message', async () => {
    const unknown = await failureOf(['plan', '--bogus', '--vm', 'esx-a/app01']);
    expect(unknown).toBeInstanceOf(CliError);
    expect((unknown as CliError).exitCode).toBe(2);
    expect(unknown.message).toBe(
      "unknown option '--bogus' for plan ('quickmig plan --help' lists its options)",
    );
    // citty alone would have taken the camelCase spelling and `--no-` negations; quickmig's options are as documented.
    expect((await failureOf(['migrate', '--dataMoverQueue', 'q', '--vm', 'a/b'])).message).toContain(
      "unknown option '--dataMoverQueue'",
    );
    expect((await failureOf(['plan', '--vm'])).message).toBe('--vm needs a value (--vm ENDPOINT/NAME)');
    expect((await failureOf(['plan', '--vm', '--datastore', 'x'])).message).toContain('--vm needs a value');
    expect((await failureOf(['migrate', '--detach=yes'])).message).toContain('--detach is a switch');
    expect((await failureOf(['lab', 'up', 'extra'])).message).toMatch(
      /^lab up takes no arguments \(got 'extra'\)/,
    );
    for (const argv of [
      ['plan', '--bogus'],
      ['bogus'],
      [],
      ['lab'],
      ['lab', 'fault', 'nope'],
      ['status'],
      ['status', 'a', 'b'],
    ]) {
      const error = await failureOf(argv);
      expect(error, argv.join(' ')).toBeInstanceOf(CliError);
      expect((error as CliError).exitCode, argv.join(' ')).toBe(2);
    }
    expect((await failureOf(['bogus'])).message).toMatch(
      /^unknown command 'bogus'\n\n.*\n\nUSAGE quickmig /s,
    );
    expect((await failureOf(['status'])).message).toMatch(
      /^status: Missing required positional argument: ID/,
    );
    expect((await failureOf(['status', 'a', 'b'])).message).toMatch(/^give one migration id\n/);
  });

  it('keeps the messages of plan and migrate for a missing or doubled request and misplaced batch flags', async () => {
    expect((await failureOf(['migrate'])).message).toMatch(
      /^give a request file or flags such as --vm and --datastore\n/,
    );
    expect((await failureOf(['plan', 'a.json', 'b.json'])).message).toMatch(/^give one request file\n/);
    expect((await failureOf(['migrate', '--wait', '--vm', 'a/b'])).message).toMatch(
      /^--wait goes with --plan\n/,
    );
    expect((await failureOf(['migrate', '--plan', 'p.yaml', '--vm', 'a/b'])).message).toMatch(
      /^--plan takes no request file or request flags/,
    );
    expect((await failureOf(['list', '--limit', '0'])).message).toBe(
      '--limit: give a whole number of at least 1',
    );
    // Bad values reach the request's validation: field, flag and fix (exit 3 in main).
    const invalid = await failureOf(['migrate', '--vm', 'esx-a/app01', '--to', 'esx-b', '--mode', 'fast']);
    expect(invalid).toBeInstanceOf(RequestValidationError);
    expect((invalid as RequestValidationError).problems).toEqual([
      { path: 'target.datastore (--datastore)', message: 'is required' },
      {
        path: 'options.mode (--mode)',
        message: 'must be one of auto, smartswitch, cold, fastest (got "fast")',
      },
    ]);
  });
});

describe('requestFrom (flags → request)', () => {
  it('maps the README example to a request with defaults', () => {
    const request = requestFrom(undefined, { vm: 'esx-a/app01', to: 'esx-b', datastore: 'LocalDS_0' });
    expect(request.source).toEqual({ endpoint: 'esx-a', name: 'app01' });
    expect(request.target).toMatchObject({ endpoint: 'esx-b', datastore: 'LocalDS_0', disks: [] });
    expect(request.options).toMatchObject({
      method: 'auto',
      mode: 'auto',
      switchover: 'auto',
      source: 'keep',
    });
  });

  it('maps every flag', () => {
    const request = requestFrom(undefined, {
      vm: 'vcenter//DC1/vm/web01',
      host: 'esx02.lab',
      datastore: 'shared-ds',
      pool: 'Resources',
      folder: 'Prod',
      name: 'web01-new',
      method: 'quick-migration',
      mode: 'cold',
      switchover: 'manual',
      'source-action': 'delete',
      'disk-type': 'thin',
      'finalize-ir': true,
      verify: 'size',
      'max-downtime': '1500',
      'on-budget-miss': 'abort',
      'not-before': '2026-11-28T22:00:00Z',
      'not-after': '2026-11-29T02:00:00Z',
      'on-window-miss': 'wait-approval',
    });
    expect(request.source).toEqual({ endpoint: 'vcenter', inventoryPath: '/DC1/vm/web01' });
    expect(request.target).toMatchObject({
      endpoint: 'vcenter',
      host: 'esx02.lab',
      resourcePool: 'Resources',
      folder: 'Prod',
      name: 'web01-new',
    });
    expect(request.options).toMatchObject({
      method: 'quick-migration',
      mode: 'cold',
      switchover: 'manual',
      source: 'delete',
      diskType: 'thin',
      finalizeInstantRecovery: true,
      verify: 'size',
      maxDowntimeMs: 1500,
      precopy: { onBudgetMiss: 'abort', maxRounds: 8, refreshIntervalMs: 30_000 },
      window: {
        notBefore: '2026-11-28T22:00:00Z',
        notAfter: '2026-11-29T02:00:00Z',
        onMiss: 'wait-approval',
      },
    });
  });

  it('names the field, the flag and the fix', () => {
    expect(problemsOf(() => requestFrom(undefined, { vm: 'esx-a/app01', mode: 'fast' }))).toEqual([
      { path: 'target.datastore (--datastore)', message: 'is required' },
      {
        path: 'options.mode (--mode)',
        message: 'must be one of auto, smartswitch, cold, fastest (got "fast")',
      },
    ]);
    expect(
      problemsOf(() =>
        requestFrom(undefined, {
          vm: 'esx-a/app01',
          datastore: 'x',
          'max-downtime': 'soon',
          'not-before': 'tomorrow',
        }),
      ),
    ).toEqual([
      {
        path: 'options.maxDowntimeMs (--max-downtime)',
        message: 'give a duration: 2s, 1500ms, 1.5s, 2m or 1h (a bare number is milliseconds; got "soon")',
      },
      {
        path: 'options.window.notBefore (--not-before)',
        message:
          'give a time in RFC 3339 with a time zone: 2026-11-28T22:00:00Z, 2026-11-28T23:00:00+01:00, 2026-11-28T22:00Z or 2026-11-28T22:00:00.000Z (got "tomorrow")',
      },
    ]);
    expect(problemsOf(() => requestFrom(undefined, { vm: 'app01', datastore: 'x' }))[0]?.message).toContain(
      'write ENDPOINT/NAME',
    );
  });

  it('reads --max-downtime as a duration with a unit, a bare number as milliseconds', () => {
    const budget = (value: string) =>
      requestFrom(undefined, { vm: 'esx-a/app01', datastore: 'x', 'max-downtime': value }).options
        .maxDowntimeMs;
    expect(budget('2s')).toBe(2000);
    expect(budget('1.5s')).toBe(1500);
    expect(budget('1500ms')).toBe(1500);
    expect(budget('2m')).toBe(120_000);
    expect(budget('1h')).toBe(3_600_000);
    expect(budget('1500')).toBe(1500);
    expect(problemsOf(() => budget('1.5'))[0]?.path).toBe('options.maxDowntimeMs (--max-downtime)');
    expect(problemsOf(() => budget('2 days'))[0]?.message).toContain('got "2 days"');
  });

  it('reads --commit-window as a duration, and names the flag when the window cannot apply', () => {
    const window = (value: string, extra: Record<string, string> = {}) =>
      requestFrom(undefined, { vm: 'esx-a/app01', datastore: 'x', 'commit-window': value, ...extra }).options
        .commit;
    expect(window('1h')).toEqual({ afterMs: 3_600_000 });
    expect(window('0')).toEqual({ afterMs: 0 });
    expect(problemsOf(() => window('a while'))).toEqual([
      {
        path: 'options.commit.afterMs (--commit-window)',
        message: 'give a duration: 30m, 1h, 90s or 0 (a bare number is milliseconds; got "a while")',
      },
    ]);
    expect(problemsOf(() => window('1h', { method: 'vmotion' }))).toEqual([
      {
        path: 'options.commit.afterMs (--commit-window)',
        message: expect.stringContaining('a commit window applies to Quick Migration only'),
      },
    ]);
  });

  it('a request file with a malformed window time gets an example, not a regular expression', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quickmig-args-'));
    const file = join(dir, 'r.json');
    writeFileSync(
      file,
      JSON.stringify({
        source: { endpoint: 'esx-a', name: 'ir-app01' },
        target: { endpoint: 'esx-b', datastore: 'datastore1' },
        options: { window: { notAfter: 'tonight' } },
      }),
    );
    expect(problemsOf(() => requestFrom(file, {}))).toEqual([
      {
        path: 'options.window.notAfter',
        message: 'must be written like "2026-11-28T22:00:00Z" (got "tonight")',
      },
    ]);
  });

  it('flags override a request file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quickmig-args-'));
    const file = join(dir, 'r.json');
    writeFileSync(
      file,
      JSON.stringify({
        source: { endpoint: 'esx-a', name: 'ir-app01' },
        target: { endpoint: 'esx-b', datastore: 'datastore1' },
      }),
    );
    const request = requestFrom(file, { switchover: 'manual', datastore: 'other' });
    expect(request.target.datastore).toBe('other');
    expect(request.options.switchover).toBe('manual');
  });

  it('keeps every key of a request file for validation, the top level included: nothing is dropped', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quickmig-args-'));
    const write = (name: string, body: unknown) => {
      writeFileSync(join(dir, name), JSON.stringify(body));
      return join(dir, name);
    };
    const good = {
      source: { endpoint: 'esx-a', name: 'ir-app01' },
      target: { endpoint: 'esx-b', datastore: 'datastore1' },
    };
    // With and without flags: the flags must not rebuild the request from the keys they know.
    for (const flags of [{}, { switchover: 'manual' }]) {
      expect(problemsOf(() => requestFrom(write('top.json', { ...good, optoins: {} }), flags))).toEqual([
        {
          path: 'optoins',
          message: expect.stringMatching(/unknown property 'optoins'.*did you mean 'options'/),
        },
      ]);
      expect(
        problemsOf(() =>
          requestFrom(write('nested.json', { ...good, target: { ...good.target, pool: 'x' } }), flags),
        ),
      ).toEqual([{ path: 'target.pool', message: expect.stringMatching(/unknown property 'pool'/) }]);
    }
    expect(
      problemsOf(() => requestFrom(write('shape.json', { ...good, source: 'esx-a/ir-app01' }), {})),
    ).toEqual([{ path: 'source', message: 'must be an object (got a string)' }]);
    expect(problemsOf(() => requestFrom(write('array.json', [good]), {}))).toEqual([
      { path: '(request)', message: 'must be an object (got an array)' },
    ]);
  });
});

describe('migration ids', () => {
  it('derive from the VM, sanitised', () => {
    expect(
      migrationIdOf({
        source: { endpoint: 'esx-a', name: 'app 01/x' },
        target: { endpoint: 'b', datastore: 'd' },
      }),
    ).toBe('quickmig-esx-a-app-01-x');
    expect(
      migrationIdOf({
        source: { endpoint: 'vcenter', inventoryPath: '/DC1/vm/web01' },
        target: { endpoint: 'vcenter', datastore: 'd' },
      }),
    ).toBe('quickmig-vcenter-DC1-vm-web01');
  });
});

describe('resolveConnection', () => {
  const emptyConfig = () => {
    const dir = mkdtempSync(join(tmpdir(), 'quickmig-conn-'));
    writeFileSync(join(dir, 'temporal.toml'), '');
    return { dir, TEMPORAL_CONFIG_FILE: join(dir, 'temporal.toml') };
  };

  it('prefers options, then the environment, then the lab, then localhost', () => {
    const { dir, TEMPORAL_CONFIG_FILE } = emptyConfig();
    mkdirSync(join(dir, '.quickmig', 'lab'), { recursive: true });
    writeFileSync(
      join(dir, '.quickmig', 'lab', 'state.json'),
      JSON.stringify({
        info: { temporal: { address: '127.0.0.1:1234', namespace: 'default', uiUrl: 'http://ui' } },
      }),
    );
    expect(resolveConnection({ cwd: dir, env: { TEMPORAL_CONFIG_FILE } })).toMatchObject({
      address: '127.0.0.1:1234',
      source: 'lab',
      uiUrl: 'http://ui',
    });
    expect(
      resolveConnection({ cwd: dir, env: { TEMPORAL_CONFIG_FILE, TEMPORAL_ADDRESS: 'temporal:7233' } }),
    ).toMatchObject({ address: 'temporal:7233', source: 'environment' });
    expect(resolveConnection({ cwd: dir, env: { TEMPORAL_CONFIG_FILE }, address: 'x:1' })).toMatchObject({
      address: 'x:1',
      source: 'option',
    });
    const elsewhere = emptyConfig();
    expect(resolveConnection({ cwd: elsewhere.dir, env: elsewhere })).toMatchObject({
      address: 'localhost:7233',
      namespace: 'default',
      source: 'default',
      taskQueue: 'quickmig',
    });
  });
});

describe('rendering', () => {
  it('formats bytes and bars', () => {
    expect(formatBytes(256 * 1024 * 1024)).toBe('256.0 MiB');
    expect(bar(1, 2, 10)).toBe('[#####.....]');
  });

  it('shows phase, bar, bytes, rate, ETA and downtime on one line', () => {
    const p = {
      phase: 'bulk-copy',
      step: 'bulk-copy',
      bytes: { done: 128 << 20, total: 256 << 20 },
      rateBytesPerSec: 64 << 20,
      etaSeconds: 2,
      downtimeSoFarMs: null,
      downtimeMs: null,
      awaitingApproval: false,
      transfer: null,
    } as unknown as LiveProgress;
    expect(progressLine(p, 'id')).toBe(
      'bulk-copy                 [############............]  50%  128.0 MiB / 256.0 MiB  64.0 MiB/s  ETA 2 s',
    );
    const switching = { ...p, phase: 'switchover', step: 'delta-copy', downtimeSoFarMs: 420 } as LiveProgress;
    expect(progressLine(switching, 'id')).toContain('downtime 420 ms (source stopped)');
    const precopy = {
      ...p,
      phase: 'awaiting-approval',
      step: 'await-switchover',
      bytes: { done: 0, total: 0 },
      awaitingApproval: true,
      waitingFor: 'projected switchover 9.0 s > 1.6 s (maxDowntimeMs 2.0 s less 20 % headroom)',
      precopy: {
        budgetMs: 2000,
        targetMs: 1600,
        rounds: [{ round: 1 }, { round: 2 }],
        projection: { ms: 9000 },
        verdict: 'x',
      },
    } as unknown as LiveProgress;
    expect(progressLine(precopy, 'id')).toContain(
      'pre-copy round 2, switchover ~9.00 s (budget 2.00 s, aim 1.60 s)  waiting for approval (projected switchover 9.0 s > 1.6 s (maxDowntimeMs 2.0 s less 20 % headroom)): quickmig approve id',
    );
  });

  it('lists migrations as a table', () => {
    const lines = listLines([
      {
        id: 'quickmig-esx-a-app01',
        runId: 'r',
        status: 'RUNNING',
        vm: 'esx-a/app01',
        phase: 'bulk-copy',
        method: 'quick-migration',
        mode: 'smartswitch',
        startedAt: new Date('2026-01-01T00:00:00Z'),
        closedAt: null,
      },
    ]);
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+VM\s+PHASE\s+METHOD\s+STARTED$/);
    expect(lines[1]).toContain(
      'quickmig-esx-a-app01  RUNNING  esx-a/app01  bulk-copy  quick-migration/smartswitch',
    );
  });
});

describe('--test and --keep-test', () => {
  const base = ['--vm', 'esx-a/app01', '--to', 'esx-b', '--datastore', 'datastore1'];
  it('set options.test, which the request normalizes', () => {
    const plain = requestFrom(undefined, parseArgs<typeof REQUEST_ARGS>(base, REQUEST_ARGS));
    expect(plain.options.test).toBeUndefined();
    const test = requestFrom(undefined, parseArgs<typeof REQUEST_ARGS>([...base, '--test'], REQUEST_ARGS));
    expect(test.options.test).toEqual({ keep: false, keepDisks: true });
    const kept = requestFrom(
      undefined,
      parseArgs<typeof REQUEST_ARGS>([...base, '--test', '--keep-test'], REQUEST_ARGS),
    );
    expect(kept.options.test).toEqual({ keep: true, keepDisks: true });
  });

  it("keep a request file's options.test settings, --keep-test adding keep", () => {
    const dir = mkdtempSync(join(tmpdir(), 'quickmig-args-'));
    const file = join(dir, 'test.json');
    writeFileSync(
      file,
      JSON.stringify({
        source: { endpoint: 'esx-a', name: 'app01' },
        target: { endpoint: 'esx-b', datastore: 'datastore1' },
        options: { test: { keep: true, keepDisks: false } },
      }),
    );
    const read = (flags: string[]) =>
      requestFrom(file, parseArgs<typeof REQUEST_ARGS>(flags, REQUEST_ARGS)).options.test;
    expect(read([])).toEqual({ keep: true, keepDisks: false });
    expect(read(['--test'])).toEqual({ keep: true, keepDisks: false });
    expect(read(['--keep-test'])).toEqual({ keep: true, keepDisks: false });
    expect(read(['--test-network', 'test-isolated'])).toEqual({
      keep: true,
      keepDisks: false,
      network: 'test-isolated',
    });
  });

  it('--test-network sets options.test.network and implies --test; a bad name names the flag', () => {
    const net = requestFrom(
      undefined,
      parseArgs<typeof REQUEST_ARGS>([...base, '--test-network', 'test-isolated'], REQUEST_ARGS),
    );
    expect(net.options.test).toEqual({ keep: false, keepDisks: true, network: 'test-isolated' });
    expect(() =>
      requestFrom(
        undefined,
        parseArgs<typeof REQUEST_ARGS>([...base, '--test-network', 'x'.repeat(81)], REQUEST_ARGS),
      ),
    ).toThrow(/options\.test\.network \(--test-network\)/);
  });

  it('refuse --test with --method vmotion, naming the option and the fix', () => {
    expect(() =>
      requestFrom(
        undefined,
        parseArgs<typeof REQUEST_ARGS>([...base, '--test', '--method', 'vmotion'], REQUEST_ARGS),
      ),
    ).toThrow(/options.test.*set options.method to 'auto' or 'quick-migration'/s);
  });
});
