/**
 * The Temporal UI's "Current Details" of a migration: phase, step, bytes, downtime and what it waits
 * for, kept current as the progress changes. Not a command: the UI reads it through the workflow's
 * metadata query, so it may change freely without a patch. Workflow code: no Node builtins.
 */
import { setCurrentDetails } from '@temporalio/workflow';
import type { MigrationProgress } from '../definitions';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

function ms(n: number): string {
  return n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(2)} s`;
}

/** The Current Details text (Markdown, as the UI renders it) of a migration's progress. */
export function currentDetailsOf(p: MigrationProgress): string {
  const lines = [`**Phase** ${p.phase} · **step** ${p.step}`];
  if (p.plan)
    lines.push(
      `**Plan** ${p.plan.method === 'vmotion' ? 'vMotion' : 'Quick Migration'}${p.plan.mode ? ` (${p.plan.mode})` : ''} → ${p.plan.targetName}`,
    );
  if (p.bytesTotal > 0)
    lines.push(
      `**Bytes** ${bytes(p.bytesDone)} of ${bytes(p.bytesTotal)} copied (in-flight bytes: the copyFiles activity's heartbeat)`,
    );
  if (p.downtimeMs !== null) lines.push(`**Downtime** ${ms(p.downtimeMs)}`);
  else if (p.sourceStoppedAt !== null)
    lines.push(`**Downtime** under way: source stopped at ${new Date(p.sourceStoppedAt).toISOString()}`);
  const round = p.precopy?.rounds.length ?? 0;
  if (round > 0 && p.downtimeMs === null && p.sourceStoppedAt === null)
    lines.push(
      `**Pre-copy** round ${round}${p.precopy?.projection ? `, switchover projected ${ms(p.precopy.projection.ms)}` : ''}${p.precopy?.budgetMs ? ` (budget ${ms(p.precopy.budgetMs)})` : ''}`,
    );
  if (p.awaitingApproval) lines.push(`**Waiting for approval**${p.waitingFor ? `: ${p.waitingFor}` : ''}`);
  else if (p.waitingFor) lines.push(`**Waiting** ${p.waitingFor}`);
  const w = p.commitWindow;
  if (w?.state === 'open')
    lines.push(`**Commit window** open until ${w.endsAt}; source kept as ${w.sourceKeptAs}`);
  if (p.undone.length > 0)
    lines.push(`**${p.phase === 'reverted' ? 'Reverted' : 'Rolled back'}** ${p.undone.join('; ')}`);
  if (p.error) lines.push(`**Error** ${p.error}`);
  return lines.join('\n\n');
}

/**
 * The progress, kept in the UI's Current Details: every assignment to one of its fields (the phase, the
 * step, the bytes, the downtime, ...) refreshes them, wherever in the workflow it happens.
 */
export function withCurrentDetails(progress: MigrationProgress): MigrationProgress {
  setCurrentDetails(currentDetailsOf(progress));
  return new Proxy(progress, {
    set(target, key, value) {
      const ok = Reflect.set(target, key, value);
      setCurrentDetails(currentDetailsOf(target));
      return ok;
    },
  });
}
