/** `quickmig demo`, the README's first command, as a user runs it: exits 0 with a verified report. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { labStatus } from '../../src/lab/lab';
import { runCli } from './support';

describe('quickmig demo (integration)', () => {
  it('migrates the instant-recovery VM with SmartSwitch, reports verified bytes and measured downtime, stops the lab', async () => {
    const dir = join(inject('labRoot'), 'demo');
    const env = { ...process.env };
    delete env.TEMPORAL_ADDRESS;
    const run = await runCli(['demo', '--dir', dir], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(
      'Plan for ir-app01: Quick Migration (host+datastore) mode smartswitch — ready',
    );
    expect(run.stderr).toMatch(/bulk-copy\s+\[/);
    expect(run.stdout).toMatch(/method {8}Quick Migration, mode smartswitch/);
    expect(run.stdout).toMatch(/downtime {6}[\d.]+ m?s \(source suspended → target resumed\)/);
    expect(run.stdout).toMatch(/verification {2}\d+ files verified, SHA-256 of source = target/);
    expect(run.stdout).toMatch(/bytes {9}2\d\d\.\d MiB copied/);
    expect(run.stdout).toContain('IR-NFS unmounted');
    expect(run.stdout).toMatch(
      /Temporal UI {3}http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/quickmig-esx-a-ir-app01\/[0-9a-f-]+\/history/,
    );
    expect(run.stderr).toContain(`lab stopped and ${dir} removed`);
    expect(labStatus(dir).processes.some((p) => p.running)).toBe(false);
    // Nothing left on disk: the demo's lab held a copy of every VM's disks.
    expect(existsSync(dir)).toBe(false);
  });
});
