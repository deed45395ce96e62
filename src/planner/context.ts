/**
 * What every decision of the planner reads (the request and the facts) and where it records its
 * reasons and findings; internal to src/planner.
 */
import type { MigrationRequest } from '../request/request';
import type { MigrationFacts } from './facts';
import type { DiskPlacementPlan, FactValue, Relocation, RuleId } from './model';

export const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** Bytes as GiB with one decimal, as findings quote them. */
export const gib = (bytes: number): string => `${(bytes / GiB).toFixed(1)} GiB`;
/** A comma-separated list, as reasons and findings quote names. */
export const list = (items: readonly string[]): string => items.join(', ');

/** What every decision reads, and where it records reasons and findings. */
export interface Context {
  request: MigrationRequest;
  facts: MigrationFacts;
  sameEndpoint: boolean;
  reason(rule: RuleId, decision: string, used: Record<string, FactValue>): void;
  error(code: string, message: string, field?: string): void;
  warn(code: string, message: string, field?: string): void;
}

/** Where the VM's parts go and what that changes. */
export interface Where {
  placements: Placement[];
  /** Disks that end up on another datastore (every disk when the endpoint changes). */
  changedDisks: Placement[];
  hostChanges: boolean;
  datastoreChanges: boolean;
  relocation: Relocation | null;
}

/** A disk placement with the request field that chose its datastore. */
export type Placement = DiskPlacementPlan & { field: string };
