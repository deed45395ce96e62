/**
 * `quickmig demo`: the README's first command. On a fresh machine it builds the lab's tools, starts the
 * lab (default topology, realistic profile) and a worker in this process, shows the plan, migrates the
 * instant-recovery VM `ir-app01` (512 MiB of memory, a 256 MiB disk with real data, its guest writing all
 * along) from esx-a to esx-b with SmartSwitch while showing progress, prints the report with the lab
 * profile it ran on and the Temporal UI link of the finished workflow, and stops everything unless
 * `--keep`. The run is short because the VM is small, not because the lab is fast: every rate and guest
 * time is the realistic profile's.
 */
import { Client, Connection } from '@temporalio/client';
import { QuickmigClient } from '../client/migrations';
import { loadWorkerConfig } from '../config/config';
import { labDirOf } from '../config/lab-paths';
import { LabControl } from '../lab/control';
import type { LabInfo } from '../lab/lab';
import { labDown, labStatus, labUp } from '../lab/lab';
import type { EffectiveProfile } from '../lab/topology';
import { explainPlan } from '../planner/explain';
import type { MigrationRequestInput } from '../request/request';
import { createWorkers } from '../worker';
import { command, outputOf } from './command';
import { CliError } from './errors';
import { followAndReport } from './follow';
import type { Output } from './output';

/** The demo's migration: an instant-recovery VM to production storage on another host. */
export const DEMO_REQUEST: MigrationRequestInput = {
  source: { endpoint: 'esx-a', name: 'ir-app01' },
  target: { endpoint: 'esx-b', datastore: 'datastore1' },
  options: { mode: 'smartswitch', finalizeInstantRecovery: true, verify: 'sha256' },
};

/** The endpoints the demo's migration touches: their profiles go into the report. */
const DEMO_ENDPOINTS = ['esx-a', 'esx-b'] as const;

/** The report's lines about the lab's times and rates, as each endpoint's simulator reports them. */
export function labProfileLines(
  profiles: readonly { endpoint: string; profile: EffectiveProfile }[],
): string[] {
  const names = [...new Set(profiles.map((p) => p.profile.profile))].join(', ');
  const guest = (p: EffectiveProfile) =>
    `guest boot ${p.bootSec} s, resume ${p.resumeSec} s, shutdown ${p.shutdownSec} s; suspend state = memory${p.suspendScale === 1 ? '' : ` ÷ ${p.suspendScale}`}`;
  const guests = [...new Set(profiles.map((p) => guest(p.profile)))];
  const lines = [`  lab profile   ${names} (lab/vcsim/profiles.json), as the simulators report it`];
  for (const { endpoint, profile } of profiles) {
    const datastores = profile.datastores
      .map((d) => `${d.name} ${rate(d.readMBps)}/${rate(d.writeMBps)}`)
      .join(', ');
    const hosts = profile.hosts
      .map((h) => `link ${h.linkGbps > 0 ? `${h.linkGbps} Gb/s` : 'unpaced'}, ${h.maxFolderStreams} streams`)
      .join('; ');
    lines.push(`                ${endpoint}: ${datastores} MB/s read/write; ${hosts}`);
    if (guests.length > 1) lines.push(`                ${endpoint}: ${guest(profile)}`);
  }
  if (guests.length === 1) lines.push(`                ${guests[0]}`);
  return lines;
}

/** A datastore rate: 0 means the profile does not pace it. */
function rate(mbps: number): string {
  return mbps > 0 ? String(mbps) : 'unpaced';
}

/** `quickmig demo [--keep] [--dir DIR]`. */
export const demoCommand = command({
  meta: {
    name: 'demo',
    description: 'Start the lab and a worker, migrate an Instant Recovery VM live with SmartSwitch, report',
  },
  args: {
    keep: { type: 'boolean', description: 'Leave the lab running afterwards (quickmig lab down stops it)' },
    lab: {
      type: 'string',
      alias: 'dir',
      valueHint: 'DIR',
      description: 'Lab folder (default: QUICKMIG_LAB, else .quickmig/lab); removed afterwards unless --keep',
    },
    json: { type: 'boolean', description: 'The report as JSON on stdout' },
  },
  notes: `The demo migrates ir-app01 - an Instant Recovery VM with 512 MiB of memory running from the IR-NFS
share of esx-a, 256 MiB of disk, its guest writing 256 KiB/s - to datastore1 on esx-b with SmartSwitch,
and finalizes the Instant Recovery. The lab runs its realistic profile (lab/vcsim/profiles.json): IR-NFS
serves 100 MB/s, so suspending writes the 512 MiB of memory for about 5 s and the copy reads it back
for as long: the plan projects 13.6 s of downtime (more where the copy is CPU-bound on a busy machine).
It prints the plan, live progress, the report with the lab profile read from the simulators, and the
Temporal UI link.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const dir = labDirOf(args.lab).dir;
    if (labStatus(dir).processes.some((p) => p.running)) {
      throw new CliError(
        `a lab is already running in ${dir}; the demo starts a fresh one. Stop it with: quickmig lab down${args.lab ? ` --lab ${dir}` : ''} (or pass --lab DIR)`,
      );
    }
    out.progress('starting the lab (the first run builds the temporal CLI and the simulator: a few minutes)');
    const info = await labUp({ dir, log: (line) => out.progress(line) });
    let stopWorker: (() => Promise<void>) | undefined;
    try {
      out.progress(`Temporal Web UI: ${info.temporal.uiUrl}`);
      stopWorker = await startDemoWorker(info, out);
      const connection = await Connection.connect({ address: info.temporal.address });
      const client = new QuickmigClient(new Client({ connection, namespace: info.temporal.namespace }), {
        uiUrl: info.temporal.uiUrl,
        address: info.temporal.address,
      });
      try {
        out.progress(
          'ir-app01 (512 MiB of memory) runs from the Instant Recovery share IR-NFS on esx-a; its guest keeps writing',
        );
        await client.waitForWorker(60_000);
        const profiles = await Promise.all(
          DEMO_ENDPOINTS.map(async (name) => {
            const ep = info.endpoints.find((e) => e.name === name);
            if (!ep)
              throw new CliError(`the lab has no endpoint ${name}; the demo needs the default topology`);
            return { endpoint: name, profile: await new LabControl(ep).profile() };
          }),
        );
        const plan = await client.plan(DEMO_REQUEST);
        for (const line of explainPlan(plan)) out.progress(line);
        const started = await client.start(DEMO_REQUEST);
        out.progress(`started migration ${started.id}`);
        await followAndReport(client, started.id, out, args.json === true, {
          allowPrompt: false,
          appendix: { lines: labProfileLines(profiles), json: { labProfile: profiles } },
        });
      } finally {
        await connection.close();
      }
    } finally {
      await stopWorker?.();
      if (args.keep) {
        out.progress(
          `the lab keeps running (UI ${info.temporal.uiUrl}); start a worker with 'quickmig worker' to migrate more, stop it with 'quickmig lab down${args.lab ? ` --lab ${dir}` : ''}'`,
        );
      } else {
        await labDown(info.dir, { removeFiles: true });
        out.progress(`lab stopped and ${info.dir} removed (run with --keep to leave it running)`);
      }
    }
  },
});

/** A worker in this process for the lab, logging warnings only so the demo's output stays readable. */
async function startDemoWorker(info: LabInfo, out: Output): Promise<() => Promise<void>> {
  const config = loadWorkerConfig(info.workerConfig, {});
  out.progress('starting a worker (bundling the workflow code takes a few seconds)');
  const workers = await createWorkers(config, { telemetry: { logLevel: 'WARN' } });
  const running = workers.run();
  return async () => {
    workers.shutdown();
    await running;
  };
}
