/** `quickmig endpoints`: each endpoint of the worker: reachability, certificate, login, API version. */
import type { EndpointState } from '../activities/endpoints';
import { CONNECTION_ARGS } from './args';
import { command, outputOf } from './command';
import { withClient } from './connect';
import { CliError, ExitCode } from './errors';
import type { Column } from './table';
import { FORMAT_ARG, renderTable, tableFormatOf } from './table';

const yesNo = (v: boolean) => (v ? 'yes' : 'no');

/** The table's columns; `MISSING PRIVILEGES`: the roles' privileges held on no object (docs/privileges.md), `not checked` when the endpoint could not say. */
export const ENDPOINT_COLUMNS: readonly Column<EndpointState>[] = [
  { header: 'ENDPOINT', cell: (s) => s.name },
  { header: 'URL', cell: (s) => s.url },
  { header: 'REACHABLE', cell: (s) => yesNo(s.reachable) },
  { header: 'CERTIFICATE', cell: (s) => s.certificate ?? '-' },
  { header: 'LOGIN', cell: (s) => s.login },
  { header: 'API', cell: (s) => s.apiVersion ?? '-' },
  { header: 'KIND', cell: (s) => s.kind ?? '-' },
  {
    header: 'MISSING PRIVILEGES',
    cell: (s) => (s.missingPrivileges === null ? 'not checked' : s.missingPrivileges.join(' ') || 'none'),
  },
];

/** `quickmig endpoints [NAME...]`. */
export const endpointsCommand = command({
  meta: {
    name: 'endpoints',
    description: "Check the worker's endpoints: reachability, certificate pin, login, API version",
  },
  args: {
    names: {
      type: 'positional',
      required: false,
      valueHint: 'ENDPOINT...',
      description: 'Endpoints to check (default: every endpoint of the worker)',
    },
    ...FORMAT_ARG,
    ...CONNECTION_ARGS,
  },
  notes: `The worker logs in to each endpoint afresh (the CLI holds no credentials) and logs out. A problem
names the field of the worker configuration to fix; a certificate that fails its pin shows the
thumbprint it presented. Exits 1 when any endpoint has a problem.`,
  async run(context) {
    const { args } = context;
    const out = outputOf(context);
    const format = tableFormatOf(args.format);
    const states = await withClient(args, (client) => client.endpoints(args._));
    if (args.json) out.json(states);
    else {
      for (const line of renderTable(states, ENDPOINT_COLUMNS, format)) out.text(line);
      if (format === 'text')
        for (const s of states) {
          if (s.problem) out.text(`${s.name}: ${s.problem}`);
          if (s.presentedThumbprint) out.text(`${s.name}: presented thumbprint ${s.presentedThumbprint}`);
        }
    }
    const bad = states.filter((s) => s.problem !== null);
    if (bad.length > 0)
      throw new CliError(
        `${bad.length} of ${states.length} endpoint(s) have a problem: ${bad.map((s) => s.name).join(', ')}`,
        ExitCode.failed,
      );
  },
});
