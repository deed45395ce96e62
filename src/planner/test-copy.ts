/**
 * The disks a test migration leaves on the target for a later real migration (options.test.keepDisks;
 * README "Test migration"): the marker file that describes them, and when a migration may build on them.
 * The copy itself decides per disk whether the kept copy is still valid (activities/thin-disks.ts).
 */
import type { MigrationFacts } from './facts';
import type { FileCopyPlan } from './files';

/** The marker a kept test copy leaves in each of its target folders. */
export const TEST_MARKER_FILE = 'quickmig-test.json';

/** A disk a test migration left on the target: where, and the point of the source disk it holds. */
export interface DiskReuse {
  /** The test migration's id. */
  readonly migrationId: string;
  /** The source disk's changeId at the test's snapshot. */
  readonly changeId: string;
  readonly capacityBytes: number;
  /** The kept flat extent (`[ds] folder/disk-flat.vmdk`), its size and modification time when kept. */
  readonly target: string;
  readonly size: number;
  readonly modified: string;
}

/** The content of `quickmig-test.json`. */
export interface TestCopyMarker {
  readonly version: 1;
  readonly migrationId: string;
  /** When the disks were kept, ISO 8601. */
  readonly keptAt: string;
  /** The source VM the copy was made from. */
  readonly source: {
    readonly endpoint: string;
    readonly name: string;
    readonly moref: string;
    readonly instanceUuid: string | null;
  };
  /** Per disk: device key, the kept base's descriptor, and what DiskReuse holds. */
  readonly disks: readonly {
    readonly key: number;
    readonly changeId: string;
    readonly capacityBytes: number;
    readonly descriptor: string;
    readonly target: string;
    readonly size: number;
    readonly modified: string;
  }[];
}

const isStr = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The marker in a file's text; undefined when it is not one (malformed, another version). */
export function parseTestMarker(text: string): TestCopyMarker | undefined {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const source = m?.source as Record<string, unknown> | undefined;
  const disks = m?.disks;
  const ok =
    m?.version === 1 &&
    isStr(m.migrationId) &&
    isStr(m.keptAt) &&
    typeof source === 'object' &&
    source !== null &&
    isStr(source.endpoint) &&
    isStr(source.name) &&
    isStr(source.moref) &&
    (source.instanceUuid === null || isStr(source.instanceUuid)) &&
    Array.isArray(disks) &&
    disks.every((d: Record<string, unknown>) => {
      return (
        Number.isInteger(d?.key) &&
        isStr(d.changeId) &&
        isCount(d.capacityBytes) &&
        isStr(d.descriptor) &&
        isStr(d.target) &&
        isCount(d.size) &&
        isStr(d.modified)
      );
    });
  return ok ? (m as unknown as TestCopyMarker) : undefined;
}

/** Whether a marker was left by a test of this VM (its instance UUID, else its moref, on that endpoint). */
export function markerOfVm(
  marker: TestCopyMarker,
  endpoint: string,
  vm: { moref: string; instanceUuid: string | undefined },
): boolean {
  if (marker.source.endpoint !== endpoint) return false;
  return marker.source.instanceUuid !== null && vm.instanceUuid !== undefined
    ? marker.source.instanceUuid === vm.instanceUuid
    : marker.source.moref === vm.moref;
}

/**
 * The kept test copy a migration builds on: every target folder that exists holds a marker of a test
 * of this VM, made by that test (its owner marker), the same test in each. Undefined otherwise.
 */
export function testCopyOf(facts: MigrationFacts, endpoint: string): TestCopyMarker | undefined {
  const folders = (facts.targetFolders?.folders ?? []).filter((f) => f.exists);
  const first = folders[0]?.test;
  if (first === undefined) return undefined;
  const vm = { moref: facts.vm.moref, instanceUuid: facts.vm.instanceUuid };
  const all = folders.every(
    (f) =>
      f.test !== undefined &&
      f.test.migrationId === first.migrationId &&
      f.owner === first.migrationId &&
      markerOfVm(f.test, endpoint, vm),
  );
  return all ? first : undefined;
}

/** The reuse input of each disk the marker holds, by device key. */
export function reuseByKey(marker: TestCopyMarker): Map<number, DiskReuse> {
  return new Map(
    marker.disks.map((d) => [
      d.key,
      {
        migrationId: marker.migrationId,
        changeId: d.changeId,
        capacityBytes: d.capacityBytes,
        target: d.target,
        size: d.size,
        modified: d.modified,
      },
    ]),
  );
}

/** The copies with each base extent the marker holds marked for reuse (its `disk.reuse`). */
export function withReuse(plans: FileCopyPlan[], marker: TestCopyMarker | undefined): FileCopyPlan[] {
  if (marker === undefined) return plans;
  const byKey = reuseByKey(marker);
  return plans.map((p) => {
    const reuse = p.disk ? byKey.get(p.disk.key) : undefined;
    return p.disk && reuse ? { ...p, disk: { ...p.disk, reuse } } : p;
  });
}
