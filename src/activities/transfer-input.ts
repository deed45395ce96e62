/**
 * @internal The `copyFiles` activity's input check and what it reads back from an earlier attempt's
 * heartbeat (./transfer.ts).
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { CopyFileResult, MoRef, ThinChunkDone, VSphereClient } from '../vsphere';
import { parseDatastorePath } from '../vsphere';
import { SourceRestartedError } from './errors';
import type { CopyFilesInput } from './transfer';

/** The previous attempt's completed chunks of disks moved by their allocated areas; malformed ones are ignored. */
export function chunksFrom(details: unknown): ThinChunkDone[] {
  const list = (details as { chunks?: unknown } | null)?.chunks;
  if (!Array.isArray(list)) return [];
  return list.filter((c): c is ThinChunkDone => {
    const r = c as Record<string, unknown> | null;
    return (
      typeof r === 'object' &&
      r !== null &&
      typeof r.target === 'string' &&
      typeof r.sha256 === 'string' &&
      ['index', 'lo', 'hi', 'size'].every((k) => Number.isSafeInteger(r[k]) && (r[k] as number) >= 0)
    );
  });
}

/** Bytes of the chunk the previous attempt had in flight at its last heartbeat (0 when unknown). */
export function inFlightFrom(details: unknown): number {
  const n = (details as { chunkInFlight?: unknown } | null)?.chunkInFlight;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** The previous attempt's completed files from its last heartbeat; anything malformed is ignored. */
export function resumeFrom(details: unknown): CopyFileResult[] {
  if (typeof details !== 'object' || details === null) return [];
  const list = (details as { done?: unknown }).done;
  if (!Array.isArray(list)) return [];
  return list.filter(isResult).map((r) => ({ ...r, skipped: r.skipped === true }));
}

function isResult(v: unknown): v is CopyFileResult {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.source === 'string' &&
    typeof r.target === 'string' &&
    typeof r.size === 'number' &&
    Number.isSafeInteger(r.size) &&
    r.size >= 0 &&
    typeof r.sha256Source === 'string' &&
    (r.sha256Target === null || typeof r.sha256Target === 'string')
  );
}

function isPair(p: unknown): boolean {
  return (
    Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && p[0] !== '' && typeof p[1] === 'string'
  );
}

function isVmxEdit(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  return (
    Array.isArray(e.set) &&
    e.set.every(isPair) &&
    Array.isArray(e.disconnectIsoOn) &&
    e.disconnectIsoOn.every((d) => typeof d === 'string')
  );
}

/** Refuses an invalid input (non-retryable InvalidTransferInput naming every problem). */
export function validateInput(input: CopyFilesInput): void {
  const problems: string[] = [];
  if (typeof input.sourceEndpoint !== 'string' || input.sourceEndpoint === '')
    problems.push('sourceEndpoint is empty');
  if (typeof input.targetEndpoint !== 'string' || input.targetEndpoint === '')
    problems.push('targetEndpoint is empty');
  if (!['none', 'size', 'sha256'].includes(input.verify))
    problems.push(`verify must be none, size or sha256, not ${input.verify}`);
  if (input.concurrency !== undefined && !(Number.isInteger(input.concurrency) && input.concurrency >= 1)) {
    problems.push(`concurrency must be a positive integer, not ${input.concurrency}`);
  }
  if (input.diskType !== undefined && !['same', 'thin', 'thick', 'thick-eager'].includes(input.diskType))
    problems.push(`diskType must be same, thin, thick or thick-eager, not ${input.diskType}`);
  if (!Array.isArray(input.files)) problems.push('files is not a list');
  for (const [i, f] of (Array.isArray(input.files) ? input.files : []).entries()) {
    for (const side of ['source', 'target'] as const) {
      try {
        parseDatastorePath(f[side]);
      } catch (err) {
        problems.push(`files[${i}].${side}: ${(err as Error).message}`);
      }
    }
    if (f.size !== undefined && !(Number.isSafeInteger(f.size) && f.size >= 0)) {
      problems.push(
        `files[${i}].size must be a whole number of bytes (0 or more), not ${f.size}; or leave it out`,
      );
    }
    const d = f.disk;
    if (
      d !== undefined &&
      !(
        typeof d.vm?.value === 'string' &&
        typeof d.snapshot === 'string' &&
        d.snapshot !== '' &&
        Number.isInteger(d.diskKey)
      )
    ) {
      problems.push(
        `files[${i}].disk must be {vm: {type, value}, snapshot: name, diskKey: integer}; or leave it out`,
      );
    }
    const t = f.transform;
    if (t !== undefined) {
      const pairs: unknown = t.pairs;
      const vmx: unknown = t.vmx;
      const ok =
        t.kind === 'replace' &&
        Array.isArray(pairs) &&
        pairs.every(isPair) &&
        (vmx === undefined || isVmxEdit(vmx));
      if (!ok)
        problems.push(
          `files[${i}].transform must be {kind: 'replace', pairs: [[from, to], ...], vmx?: {set: [[key, value], ...], disconnectIsoOn: [datastore, ...]}} with non-empty "from" strings and keys`,
        );
    }
  }
  if (problems.length > 0) {
    throw ApplicationFailure.create({
      type: 'InvalidTransferInput',
      message: `copyFiles input is invalid: ${problems.join('; ')}`,
      nonRetryable: true,
      details: [problems],
    });
  }
}

/** A VM whose files are copied and the state it must keep meanwhile (CopyFilesInput.sourceStopped). */
export interface SourceStopped {
  readonly vm: MoRef;
  /** The VM's name, for the error. Default: its moref. */
  readonly name?: string | undefined;
  readonly expected: 'poweredOff' | 'suspended';
}

/** SourceRestartedError when the VM left the state it must keep during the copy; undefined otherwise. */
export async function sourceRestarted(
  client: VSphereClient,
  stopped: SourceStopped | undefined,
): Promise<SourceRestartedError | undefined> {
  if (stopped === undefined) return undefined;
  const { powerState } = await client.guest.state(stopped.vm);
  if (powerState === stopped.expected) return undefined;
  return new SourceRestartedError(
    `the source ${stopped.name ?? stopped.vm.value} is ${powerState} again during the final copy, after quickmig had it ${stopped.expected} (something powered it on: an operator, a scheduled task, a monitoring tool); its disks changed, so quickmig does not copy them as the final state; leave the source off during the switchover and migrate again`,
  );
}
