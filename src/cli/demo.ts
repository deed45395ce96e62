/**
 * `quickmig demo`: the README's first command. On a fresh machine it builds the lab's tools, starts the
 * lab and a worker in this process, shows the plan, migrates the instant-recovery VM `ir-app01` (a
 * 256 MiB disk with real data, its guest writing all along) from esx-a to esx-b with SmartSwitch while
 * showing progress, prints the report and the Temporal UI link of the finished workflow, and stops
 * everything unless `--keep`.
 */
import { Client, Connection } from '@temporalio/client';
import { QuickmigClient } from '../client/migrations';
import { loadWorkerConfig } from '../config/config';
import { labDirOf } from '../config/lab-paths';
import type { LabInfo } from '../lab/lab';
import { labDown, labStatus, labUp } from '../lab/lab';
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
  notes: `The demo migrates ir-app01 - an Instant Recovery VM running from the IR-NFS share of esx-a, 256 MiB
of disk, its guest writing 256 KiB/s - to datastore1 on esx-b with SmartSwitch, and finalizes the
Instant Recovery. It prints the plan, live progress, the report and the Temporal UI link.`,
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
          'ir-app01 runs from the Instant Recovery share IR-NFS on esx-a; its guest keeps writing',
        );
        await client.waitForWorker(60_000);
        const plan = await client.plan(DEMO_REQUEST);
        for (const line of explainPlan(plan)) out.progress(line);
        const started = await client.start(DEMO_REQUEST);
        out.progress(`started migration ${started.id}`);
        await followAndReport(client, started.id, out, args.json === true, { allowPrompt: false });
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
