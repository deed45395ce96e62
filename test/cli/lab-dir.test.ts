/**
 * One way to point every command at a lab: `--lab DIR` (or `--dir` on lab commands) and QUICKMIG_LAB,
 * for the client's connection, the worker's configuration and the lab commands; `lab down` removes the
 * lab's folder unless `--keep-files`. No server: the labs here are state files in temporary folders.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { command, runCommandLine } from '../../src/cli/command';
import { connectCli } from '../../src/cli/connect';
import { CliError } from '../../src/cli/errors';
import { labCommand } from '../../src/cli/lab';
import type { Output } from '../../src/cli/output';
import { resolveConnection } from '../../src/client/connection';
import { workerConfigPath } from '../../src/config/config';
import { labDown } from '../../src/lab/lab';

const silent: Output = { text() {}, json() {}, progress() {}, live() {}, interactive: false };

/** A folder with a lab's state file, as `lab up --lab DIR` leaves it (no processes). */
function fakeLab(address: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'quickmig-labdir-'));
  writeFileSync(join(dir, '.quickmig-lab'), 'marker\n');
  writeFileSync(
    join(dir, 'state.json'),
    JSON.stringify({
      startedAt: new Date().toISOString(),
      processes: [],
      info: { temporal: { address, namespace: 'labns', uiUrl: 'http://lab-ui' } },
    }),
  );
  return dir;
}

const emptyProfile = () => {
  const dir = mkdtempSync(join(tmpdir(), 'quickmig-profile-'));
  writeFileSync(join(dir, 'temporal.toml'), '');
  return join(dir, 'temporal.toml');
};

describe('--lab DIR and QUICKMIG_LAB', () => {
  it('the client connects to the named lab: --lab wins over TEMPORAL_ADDRESS, QUICKMIG_LAB comes after it', () => {
    const lab = fakeLab('127.0.0.1:4321');
    const TEMPORAL_CONFIG_FILE = emptyProfile();
    const cwd = mkdtempSync(join(tmpdir(), 'quickmig-cwd-'));
    expect(
      resolveConnection({ cwd, labDir: lab, env: { TEMPORAL_CONFIG_FILE, TEMPORAL_ADDRESS: 'prod:7233' } }),
    ).toMatchObject({ address: '127.0.0.1:4321', namespace: 'labns', source: 'lab', uiUrl: 'http://lab-ui' });
    expect(resolveConnection({ cwd, env: { TEMPORAL_CONFIG_FILE, QUICKMIG_LAB: lab } })).toMatchObject({
      address: '127.0.0.1:4321',
      source: 'lab',
    });
    expect(
      resolveConnection({
        cwd,
        env: { TEMPORAL_CONFIG_FILE, QUICKMIG_LAB: lab, TEMPORAL_ADDRESS: 'prod:7233' },
      }),
    ).toMatchObject({ address: 'prod:7233', source: 'environment' });
  });

  it('a named lab that does not run is an error naming the folder, not a silent localhost', async () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'quickmig-nolab-')), 'lab');
    const error = await connectCli({ lab: missing }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(1);
    expect((error as CliError).message).toBe(
      `no lab runs in ${missing} (named by --lab); start one with: quickmig lab up --lab ${missing}`,
    );
  });

  it("the worker reads the named lab's worker configuration", () => {
    expect(workerConfigPath(undefined, {}, '/labs/one')).toBe('/labs/one/worker-config.json');
    expect(workerConfigPath(undefined, { QUICKMIG_LAB: '/labs/two' })).toBe('/labs/two/worker-config.json');
    expect(workerConfigPath('/etc/w.json', { QUICKMIG_LAB: '/labs/two' })).toBe('/etc/w.json');
  });

  it('lab status exits 1 when no lab is in the folder, whether named by --lab, --dir or QUICKMIG_LAB', async () => {
    const root = command({ meta: { name: 'quickmig' }, subCommands: { lab: labCommand } });
    const empty = mkdtempSync(join(tmpdir(), 'quickmig-empty-'));
    for (const flag of ['--lab', '--dir']) {
      const error = await runCommandLine(root, ['lab', 'status', flag, empty], silent).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).exitCode).toBe(1);
      expect((error as CliError).message).toBe(`no lab in ${empty}; start one with: quickmig lab up`);
    }
    const before = process.env.QUICKMIG_LAB;
    process.env.QUICKMIG_LAB = empty;
    try {
      const error = await runCommandLine(root, ['lab', 'status'], silent).catch((e: unknown) => e);
      expect((error as CliError).message).toContain(`no lab in ${empty}`);
    } finally {
      if (before === undefined) delete process.env.QUICKMIG_LAB;
      else process.env.QUICKMIG_LAB = before;
    }
  });
});

describe('lab outage', () => {
  it('refuses SECONDS that is not a number of seconds, before contacting the lab', async () => {
    const root = command({ meta: { name: 'quickmig' }, subCommands: { lab: labCommand } });
    const empty = mkdtempSync(join(tmpdir(), 'quickmig-empty-'));
    const error = await runCommandLine(
      root,
      ['lab', 'outage', 'esx-a', 'soon', '--lab', empty],
      silent,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toBe(
      "lab outage: SECONDS must be a number of seconds ≥ 0, got 'soon'",
    );
  });
});

describe('lab down', () => {
  it("removes the lab's folder unless asked to keep it, and never a folder that is not a lab's", async () => {
    const lab = fakeLab('127.0.0.1:1');
    mkdirSync(join(lab, 'endpoints', 'esx-a'), { recursive: true });
    writeFileSync(join(lab, 'endpoints', 'esx-a', 'disk-flat.vmdk'), Buffer.alloc(1024));
    expect(await labDown(lab, { removeFiles: false })).toEqual({ stopped: [], removed: false });
    expect(existsSync(join(lab, 'endpoints', 'esx-a', 'disk-flat.vmdk'))).toBe(true);

    const root = command({ meta: { name: 'quickmig' }, subCommands: { lab: labCommand } });
    await runCommandLine(root, ['lab', 'down', '--lab', lab], silent);
    expect(existsSync(lab)).toBe(false);

    const notALab = mkdtempSync(join(tmpdir(), 'quickmig-notlab-'));
    writeFileSync(join(notALab, 'precious.txt'), 'keep me');
    expect((await labDown(notALab, { removeFiles: true })).removed).toBe(false);
    expect(existsSync(join(notALab, 'precious.txt'))).toBe(true);
  });
});
