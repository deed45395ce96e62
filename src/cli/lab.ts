/** `quickmig lab up|status|down|restart`: the local lab of Temporal and simulated vSphere endpoints. */
import { parseArgs } from 'node:util';
import type { FaultRule } from '../lab/control';
import { LabControl } from '../lab/control';
import type { LabInfo } from '../lab/lab';
import { defaultLabDir, labDown, labStatus, labUp, restartEndpoint } from '../lab/lab';
import { CliError, ExitCode } from './errors';
import type { Output } from './output';

const LAB_USAGE = `Usage: quickmig lab <up|status|down|restart> [options]

  up       Start Temporal (dev server, UI) and one simulator per vSphere endpoint
           --topology FILE  lab topology (default lab/topology.json)
  status   Show the lab's endpoints and whether its processes run
  down     Stop every process the lab started
  restart  NAME  Restart one vSphere endpoint on the same port (as a host reboot)
  fault    add NAME JSON | list NAME | clear NAME
           Inject faults into endpoint NAME, e.g.
           quickmig lab fault add esx-b '{"kind":"soap","method":"PowerOnVM_Task","fault":"InvalidState","count":1}'
  calls    NAME  The mutating vSphere calls endpoint NAME received

Options for all: --dir DIR (default .quickmig/lab), --json`;

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

function controlFor(dir: string, name: string | undefined): LabControl {
  const info = labStatus(dir).info;
  if (!info) throw new CliError(`No lab in ${dir}. Start one with: quickmig lab up`);
  const ep = info.endpoints.find((e) => e.name === name);
  if (!ep) {
    throw new CliError(
      `name an endpoint of the lab: ${info.endpoints.map((e) => e.name).join(', ')}`,
      ExitCode.usage,
    );
  }
  return new LabControl(ep);
}

/** Runs a `lab` subcommand. */
export async function labCommand(args: string[], out: Output): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      topology: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [sub, ...rest] = positionals;
  if (values.help || !sub) {
    out.text(LAB_USAGE);
    if (!sub && !values.help) throw new CliError('lab: name a subcommand', ExitCode.usage);
    return;
  }
  const dir = values.dir ?? defaultLabDir();
  switch (sub) {
    case 'up': {
      const info = await labUp({
        dir,
        ...(values.topology ? { topology: values.topology } : {}),
        log: (line) => out.progress(line),
      });
      if (values.json) out.json(info);
      else out.text(describeLab(info));
      return;
    }
    case 'status': {
      const status = labStatus(dir);
      if (values.json) out.json(status);
      else if (!status.info) out.text(`No lab in ${status.dir}. Start one with: quickmig lab up`);
      else {
        out.text(
          `${status.up ? 'Lab is up' : 'Lab is NOT fully running'} (${status.dir}, started ${status.startedAt})`,
        );
        out.text(describeLab(status.info));
        for (const p of status.processes)
          out.text(`  ${p.running ? 'running' : 'stopped'}  ${p.role} pid ${p.pid}`);
      }
      if (status.info && !status.up)
        throw new CliError('some lab processes are not running', ExitCode.failed);
      return;
    }
    case 'down': {
      const stopped = await labDown(dir);
      if (values.json) out.json({ stopped });
      else
        out.text(
          stopped.length
            ? `Stopped ${stopped.map((p) => p.role).join(', ')}`
            : `No lab was running in ${dir}`,
        );
      return;
    }
    case 'restart': {
      const name = rest[0];
      if (!name)
        throw new CliError('lab restart: name the endpoint, e.g. quickmig lab restart esx-a', ExitCode.usage);
      await restartEndpoint(name, dir);
      if (values.json) out.json({ restarted: name });
      else out.text(`Restarted ${name}`);
      return;
    }
    case 'fault': {
      const [action, name, rule] = rest;
      const control = controlFor(dir, name);
      if (action === 'add') {
        if (!rule)
          throw new CliError(
            'lab fault add: give the rule as JSON (see lab/vcsim/README.md)',
            ExitCode.usage,
          );
        let parsed: FaultRule;
        try {
          parsed = JSON.parse(rule) as FaultRule;
        } catch (error) {
          throw new CliError(
            `lab fault add: the rule is not JSON: ${(error as Error).message}`,
            ExitCode.invalidInput,
          );
        }
        out.json(await control.addFault(parsed));
      } else if (action === 'list') out.json(await control.faults());
      else if (action === 'clear') {
        await control.clearFaults();
        if (!values.json) out.text(`Cleared the faults of ${name}`);
      } else throw new CliError(`lab fault: use add, list or clear\n${LAB_USAGE}`, ExitCode.usage);
      return;
    }
    case 'calls': {
      const calls = await controlFor(dir, rest[0]).calls();
      if (values.json) out.json(calls);
      else
        for (const c of calls)
          out.text(`${c.time}  ${c.method.padEnd(28)} ${c.object}${c.ok ? '' : `  FAULT ${c.fault}`}`);
      return;
    }
    default:
      throw new CliError(`lab: unknown subcommand '${sub}'\n${LAB_USAGE}`, ExitCode.usage);
  }
}
