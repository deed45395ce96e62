/**
 * The copies this worker process measured, per source and target endpoint: what preflight gives the
 * planner as "a recent measured copy" for its downtime projection. In memory only; a fresh worker
 * projects with the datastore defaults until it has copied something.
 */
import type { MeasuredCopy } from '../planner/downtime';

const latest = new Map<string, MeasuredCopy>();
const key = (source: string, target: string) => `${source}\n${target}`;

/** Records a finished copy; copies of no bytes (every file already there) say nothing about a rate. */
export function recordCopy(sourceEndpoint: string, targetEndpoint: string, bytes: number, ms: number): void {
  if (bytes <= 0 || ms <= 0) return;
  latest.set(key(sourceEndpoint, targetEndpoint), {
    sourceEndpoint,
    targetEndpoint,
    bytes,
    ms,
    at: Date.now(),
  });
}

/** The latest copy between these endpoints, if this worker made one. */
export function latestCopy(sourceEndpoint: string, targetEndpoint: string): MeasuredCopy | undefined {
  return latest.get(key(sourceEndpoint, targetEndpoint));
}
