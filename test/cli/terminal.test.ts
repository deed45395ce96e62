/**
 * The CLI in a terminal and in pipes, without a server: the live progress line on an 80-column terminal
 * (tmux), a reader that closes the pipe early, and errors as JSON under `--json`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { displayWidth, fitToWidth } from '../../src/cli/output';
import { projectRoot } from '../../src/lab/tools';
import { CLI, runCli } from './support';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const socket = `quickmig-test-${process.pid}`;
const tmux = (...args: string[]) => spawnSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });

afterAll(() => {
  // Only this file's own tmux server, on its own socket.
  if (hasTmux) tmux('kill-server');
});

describe('the live progress line', () => {
  it('measures and cuts by terminal columns, wide characters and escape codes included', () => {
    expect(displayWidth('\x1b[32mok\x1b[0m')).toBe(2);
    expect(displayWidth('移行')).toBe(4);
    expect(fitToWidth('abcdef', 4)).toBe('abc…');
    expect(fitToWidth('移行移行', 5)).toBe('移行…');
    expect(fitToWidth('short', 80)).toBe('short');
  });

  it.skipIf(!hasTmux)(
    'on an 80-column terminal is rewritten in place: no wrapped rows, no stale or repeated lines',
    async () => {
      const driver = join(projectRoot, 'test', 'cli', 'fixtures', 'follow-driver.ts');
      const command = `${process.execPath} --import tsx ${driver}; echo __EXIT__$?; sleep 60`;
      expect(
        tmux('new-session', '-d', '-x', '80', '-y', '30', '-s', 'follow', '-c', projectRoot, command).status,
      ).toBe(0);
      let screen = '';
      for (let i = 0; i < 600 && !screen.includes('__EXIT__'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        screen = tmux('capture-pane', '-p', '-t', 'follow').stdout;
      }
      const rows = screen.split('\n').filter((row) => row.trim() !== '');
      expect(rows.at(-1)).toBe('__EXIT__0');
      expect(rows).toEqual([
        // A progress line wraps like any printed line; only the live line is kept to one row.
        'quickmig: started migration quickmig-esx-a-ha-datacenter-vm-big01 of esx-a//ha-d',
        'atacenter/vm/big01',
        expect.stringMatching(/^done {22}\[#{24}\] 100% {2}1\.0 GiB \/ 1\.0 GiB .*…$/),
        'REPORT',
        '__EXIT__0',
      ]);
      for (const row of rows) expect(displayWidth(row)).toBeLessThanOrEqual(80);
      expect(screen).not.toContain('waiting for approval');
    },
  );
});

describe('pipes', () => {
  it('a reader that closes the pipe early ends the CLI quietly (no EPIPE, no stack), exit 0', async () => {
    const child = spawn(process.execPath, [CLI, 'migrate', '--help'], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // As `| head -0` would: the reading end is gone before the CLI writes.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('--json errors', () => {
  const env = { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' };

  it('an invalid request: one JSON object on stdout with the problems and the exit code; the message on stderr', async () => {
    const run = await runCli(['migrate', '--vm', 'esx-a/app01', '--max-downtime', 'soon', '--json'], env);
    expect(run.code).toBe(3);
    expect(JSON.parse(run.stdout)).toEqual({
      error: {
        name: 'RequestValidationError',
        message: expect.stringContaining('invalid migration request'),
        exitCode: 3,
        problems: [
          {
            path: 'options.maxDowntimeMs (--max-downtime)',
            message: expect.stringContaining('give a duration: 2s'),
          },
        ],
      },
    });
    expect(run.stderr).toContain('--max-downtime');
  });

  it('a wrong command line and an unreachable Temporal are JSON too', async () => {
    const usage = await runCli(['status', '--json'], env);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toEqual({
      error: { name: 'CliError', message: 'status: Missing required positional argument: ID', exitCode: 2 },
    });
    const unreachable = await runCli(['status', 'quickmig-esx-a-x', '--json'], env);
    expect(unreachable.code).toBe(1);
    const { error } = JSON.parse(unreachable.stdout) as { error: { message: string; exitCode: number } };
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain('cannot reach Temporal at 127.0.0.1:1');
  });
});
