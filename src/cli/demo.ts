/**
 * `quickmig demo`: the README's first command. Today it starts the lab, shows its endpoints and stops
 * it again; the migration issue turns it into a full SmartSwitch migration of an instant-recovery VM.
 */
import { parseArgs } from 'node:util';
import { labDown, labUp } from '../lab/lab';
import { describeLab } from './lab';
import type { Output } from './output';

/** Runs the demo. `--keep` leaves the lab running; `--dir` chooses its folder. */
export async function demoCommand(args: string[], out: Output): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      keep: { type: 'boolean', default: false },
      dir: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const info = await labUp({ ...(values.dir ? { dir: values.dir } : {}), log: (line) => out.progress(line) });
  try {
    if (values.json) out.json(info);
    else {
      out.text('The lab is up:');
      out.text(describeLab(info));
    }
  } finally {
    if (!values.keep) {
      await labDown(info.dir);
      out.progress(
        'lab stopped (run with --keep to leave it running; stop it later with: quickmig lab down)',
      );
    }
  }
}
