/** `quickmig lab up|status|down|restart|fault|calls`: the local lab of Temporal and simulated vSphere endpoints. */
import type { ArgsDef } from 'citty';
import { LAB_ENVIRONMENT, labDirOf } from '../config/lab-paths';
import type { FaultRule } from '../lab/control';
import { LabControl } from '../lab/control';
import type { LabInfo } from '../lab/lab';
import { labDown, labStatus, labUp, restartEndpoint } from '../lab/lab';
import { JSON_ARG } from './args';
import { command, outputOf } from './command';
import { CliError, ExitCode } from './errors';

/** Options of every lab command. */
const LAB_ARGS = {
  lab: {
    type: 'string',
    alias: 'dir',
    valueHint: 'DIR',
    description: `Lab folder; every command takes the same --lab DIR (default: ${LAB_ENVIRONMENT}, else .quickmig/lab)`,
  },
  ...JSON_ARG,
} as const satisfies ArgsDef;

/** The lab folder of a lab command: --lab (or --dir), else QUICKMIG_LAB, else .quickmig/lab. */
const dirOf = (args: { lab?: string | undefined }) => labDirOf(args.lab).dir;

/** The endpoint a lab command acts on. */
const ENDPOINT_ARG = {
  name: { type: 'positional', valueHint: 'NAME', description: 'An endpoint of the lab, e.g. esx-a' },
} as const satisfies ArgsDef;

/** Prints the endpoints of a lab as a person reads them. */
export function describeLab(info: LabInfo): string {
  const lines = [
    `Temporal   ${info.temporal.address}  namespace ${info.temporal.namespace}`,
    `Web UI     ${info.temporal.uiUrl}`,
    ...info.endpoints.map(
      (ep) =>
        `${ep.kind === 'vcenter' ? 'vCenter' : 'ESXi   '}    ${ep.name.padEnd(8)} ${ep.url}  user ${ep.username}  thumbprint ${ep.thumbprint.slice(0, 23)}...`,
    ),
    `Worker config  ${info.workerConfig}`,
  ];
  return lines.join('\n');
}

/** The control API of one endpoint of the lab in `dir`. */
function controlFor(dir: string | undefined, name: string | undefined): LabControl {
  const folder = labDirOf(dir).dir;
  const info = labStatus(folder).info;
  if (!info) throw new CliError(`No lab in ${folder}. Start one with: quickmig lab up`);
  const ep = info.endpoints.find((e) => e.name === name);
  if (!ep) {
    throw new CliError(
      `name an endpoint of the lab: ${info.endpoints.map((e) => e.name).join(', ')}`,
      ExitCode.usage,
    );
  }
  return new LabControl(ep);
}

const upCommand = command({
  meta: { name: 'up', description: 'Start Temporal (dev server, UI) and one simulator per vSphere endpoint' },
  args: {
    topology: { type: 'string', valueHint: 'FILE', description: 'Lab topology (default lab/topology.json)' },
    ...LAB_ARGS,
  },
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const info = await labUp({
      dir: dirOf(args),
      ...(args.topology ? { topology: args.topology } : {}),
      log: (line) => out.progress(line),
    });
    if (args.json) out.json(info);
    else out.text(describeLab(info));
  },
});

const statusCommand = command({
  meta: {
    name: 'status',
    description: "The lab's endpoints and whether its processes run (exit 1 if not all)",
  },
  args: LAB_ARGS,
  run(context) {
    const { args } = context;
    const out = outputOf(context);
    const status = labStatus(dirOf(args));
    if (args.json) out.json(status);
    if (!status.info)
      throw new CliError(`no lab in ${status.dir}; start one with: quickmig lab up`, ExitCode.failed);
    if (!args.json) {
      out.text(
        `${status.up ? 'Lab is up' : 'Lab is NOT fully running'} (${status.dir}, started ${status.startedAt})`,
      );
      out.text(describeLab(status.info));
      for (const p of status.processes)
        out.text(`  ${p.running ? 'running' : 'stopped'}  ${p.role} pid ${p.pid}`);
    }
    if (status.info && !status.up) throw new CliError('some lab processes are not running', ExitCode.failed);
  },
});

const downCommand = command({
  meta: {
    name: 'down',
    description: 'Stop every process the lab started and remove the files lab up created',
  },
  args: {
    'keep-files': {
      type: 'boolean',
      description: "Keep the lab's folder (datastores, logs, Temporal's database) for inspection",
    },
    ...LAB_ARGS,
  },
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const dir = dirOf(args);
    const { stopped, removed } = await labDown(dir, { removeFiles: args['keep-files'] !== true });
    if (args.json) out.json({ stopped, removed });
    else {
      out.text(
        stopped.length ? `Stopped ${stopped.map((p) => p.role).join(', ')}` : `No lab was running in ${dir}`,
      );
      if (removed) out.text(`Removed ${dir}`);
      else if (stopped.length) out.text(`Kept the files in ${dir}`);
    }
  },
});

const restartCommand = command({
  meta: { name: 'restart', description: 'Restart one vSphere endpoint on the same port (as a host reboot)' },
  args: { ...ENDPOINT_ARG, ...LAB_ARGS },
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const name = args.name as string;
    await restartEndpoint(name, dirOf(args));
    if (args.json) out.json({ restarted: name });
    else out.text(`Restarted ${name}`);
  },
});

const outageCommand = command({
  meta: {
    name: 'outage',
    description:
      'Take an endpoint away for SECONDS (every vSphere connection reset; VMs and sessions kept); 0 ends it',
  },
  args: {
    ...ENDPOINT_ARG,
    seconds: { type: 'positional', valueHint: 'SECONDS', description: 'How long; 0 brings it back now' },
    ...LAB_ARGS,
  },
  async run(context) {
    const { args } = context;
    const seconds = Number(args.seconds);
    if (!Number.isFinite(seconds) || seconds < 0)
      throw new CliError(
        `lab outage: SECONDS must be a number of seconds ≥ 0, got '${args.seconds}'`,
        ExitCode.invalidInput,
      );
    const control = controlFor(args.lab, args.name);
    if (seconds === 0) await control.endOutage();
    else await control.outage(seconds);
    if (args.json) outputOf(context).json({ endpoint: args.name, down: seconds > 0, seconds });
    else
      outputOf(context).text(
        seconds > 0 ? `${args.name} unreachable for ${seconds} s` : `${args.name} reachable again`,
      );
  },
});

const faultAddCommand = command({
  meta: { name: 'add', description: 'Inject a fault into an endpoint' },
  args: {
    ...ENDPOINT_ARG,
    rule: {
      type: 'positional',
      valueHint: 'JSON',
      description: `The rule (lab/vcsim/README.md), e.g. '{"kind":"soap","method":"PowerOnVM_Task","fault":"InvalidState","count":1}'`,
    },
    ...LAB_ARGS,
  },
  async run(context) {
    const { args } = context;
    const control = controlFor(args.lab, args.name);
    let rule: FaultRule;
    try {
      rule = JSON.parse(args.rule as string) as FaultRule;
    } catch (error) {
      throw new CliError(
        `lab fault add: the rule is not JSON: ${(error as Error).message}`,
        ExitCode.invalidInput,
      );
    }
    outputOf(context).json(await control.addFault(rule));
  },
});

const faultListCommand = command({
  meta: { name: 'list', description: 'The faults of an endpoint, as JSON' },
  args: { ...ENDPOINT_ARG, ...LAB_ARGS },
  async run(context) {
    outputOf(context).json(await controlFor(context.args.lab, context.args.name).faults());
  },
});

const faultClearCommand = command({
  meta: { name: 'clear', description: 'Remove the faults of an endpoint' },
  args: { ...ENDPOINT_ARG, ...LAB_ARGS },
  async run(context) {
    const { args } = context;
    await controlFor(args.lab, args.name).clearFaults();
    if (!args.json) outputOf(context).text(`Cleared the faults of ${args.name}`);
  },
});

const faultCommand = command({
  meta: {
    name: 'fault',
    description: 'Inject faults into an endpoint: add NAME JSON | list NAME | clear NAME',
  },
  subCommands: { add: faultAddCommand, list: faultListCommand, clear: faultClearCommand },
});

const callsCommand = command({
  meta: { name: 'calls', description: 'The mutating vSphere calls an endpoint received' },
  args: { ...ENDPOINT_ARG, ...LAB_ARGS },
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const calls = await controlFor(args.lab, args.name).calls();
    if (args.json) out.json(calls);
    else
      for (const c of calls)
        out.text(`${c.time}  ${c.method.padEnd(28)} ${c.object}${c.ok ? '' : `  FAULT ${c.fault}`}`);
  },
});

/** `quickmig lab ...`. */
export const labCommand = command({
  meta: { name: 'lab', description: 'Manage the local lab (Temporal + simulated vSphere)' },
  subCommands: {
    up: upCommand,
    status: statusCommand,
    down: downCommand,
    restart: restartCommand,
    outage: outageCommand,
    fault: faultCommand,
    calls: callsCommand,
  },
});
