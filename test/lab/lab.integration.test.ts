/**
 * The lab as a newcomer meets it: `quickmig lab up --json` in a fresh folder, every server answering,
 * `lab status`, and `lab down` leaving no process behind. Runs the real CLI, Temporal and simulators.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../src/config/config';
import type { LabInfo, LabStatus } from '../../src/lab/lab';
import { probeVsphere } from '../../src/lab/probe';
import { projectRoot } from '../../src/lab/tools';

const run = promisify(execFile);
const cli = join(projectRoot, 'bin', 'quickmig.js');
const dir = mkdtempSync(join(tmpdir(), 'quickmig-lab-'));

async function quickmig(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args, '--dir', dir], {
      cwd: projectRoot,
      timeout: 240_000,
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

/** A process that runs: it exists and is not a zombie waiting for init to reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('quickmig lab (integration)', () => {
  let info: LabInfo;

  beforeAll(async () => {
    const up = await quickmig('lab', 'up', '--json');
    expect(up.code, up.stderr).toBe(0);
    info = JSON.parse(up.stdout) as LabInfo;
  });

  afterAll(async () => {
    await quickmig('lab', 'down');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints Temporal, the UI and every endpoint with kind, credentials reference and thumbprint', () => {
    expect(info.temporal.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(info.temporal.namespace).toBe('default');
    expect(info.temporal.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.endpoints.map((e) => [e.name, e.kind])).toEqual([
      ['vcenter', 'vcenter'],
      ['esx-a', 'esx'],
      ['esx-b', 'esx'],
    ]);
    for (const ep of info.endpoints) {
      expect(ep.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/sdk$/);
      const cert = new X509Certificate(readFileSync(ep.certFile));
      expect(ep.thumbprint).toBe(cert.fingerprint256);
      expect(statSync(ep.credentials.passwordFile).mode & 0o777).toBe(0o600);
    }
    // the password is referenced, never printed
    const passwords = info.endpoints.map((ep) => readFileSync(ep.credentials.passwordFile, 'utf8').trim());
    for (const pw of passwords) expect(JSON.stringify(info)).not.toContain(pw);
    expect(new Set(info.endpoints.map((e) => e.thumbprint)).size).toBe(3);
  });

  it('every endpoint answers the versions document and a login with the worker configuration it wrote', async () => {
    const config = loadWorkerConfig(info.workerConfig, {});
    expect(config.temporalAddress).toBe(info.temporal.address);
    for (const ep of info.endpoints) {
      const configured = config.endpoints.get(ep.name);
      expect(configured?.tls.thumbprint).toBe(ep.thumbprint);
      await probeVsphere(
        ep.url,
        ep.certFile,
        configured?.username as string,
        configured?.password.reveal() as string,
      );
      await expect(probeVsphere(ep.url, ep.certFile, ep.username, 'wrong-password')).rejects.toThrow(
        /Login as .* failed/,
      );
    }
  });

  it('Temporal accepts a connection with the search attributes registered, and the UI serves a page', async () => {
    const connection = await Connection.connect({ address: info.temporal.address });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: 'default',
      });
      expect(Object.keys(customAttributes ?? {})).toEqual(
        expect.arrayContaining(['QuickmigVm', 'QuickmigPhase', 'QuickmigMethod', 'QuickmigMode']),
      );
    } finally {
      await connection.close();
    }
    const page = await fetch(info.temporal.uiUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
  });

  it('refuses a second lab up in the same folder, then lab down leaves no lab process running', async () => {
    const again = await quickmig('lab', 'up', '--json');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('A lab is already running');

    const status = JSON.parse((await quickmig('lab', 'status', '--json')).stdout) as LabStatus;
    expect(status.up).toBe(true);
    expect(status.processes.map((p) => p.role)).toEqual([
      'temporal',
      'vcsim:vcenter',
      'vcsim:esx-a',
      'vcsim:esx-b',
    ]);
    const pids = status.processes.map((p) => p.pid);
    expect(pids.every(alive)).toBe(true);

    const down = await quickmig('lab', 'down', '--json');
    expect(down.code, down.stderr).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    const after = await quickmig('lab', 'status', '--json');
    expect((JSON.parse(after.stdout) as LabStatus).up).toBe(false);
  });
});
