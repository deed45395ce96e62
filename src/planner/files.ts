/**
 * Which VM files a Quick Migration copies in which phase, where each lands on the target, and how the
 * text files that name other files (.vmx, disk descriptors) are rewritten. Pure, so the workflow can
 * call it and the tests can table it.
 */
import { parseDatastorePath } from '../request/datastore-path';
import type { DiskReuse } from './test-copy';

/** A VM file as layoutEx lists it. */
export interface VmFileRef {
  /** `[datastore] folder/file`. */
  name: string;
  /** layoutEx type: config, nvram, diskDescriptor, diskExtent, snapshotData, snapshotList, suspend, log, swap, ... */
  type: string;
  size: number;
}

/** One disk's chain of descriptor paths, newest (the one the VM writes) first. */
export interface DiskChain {
  key: number;
  /** Descriptor paths; chain[0] is the writable top. */
  chain: string[];
  /** Files of each chain level (descriptor and extents), base first, as layoutEx groups them. */
  layoutFiles: string[][];
}

/** A file to copy, with the literal replacements to apply when it is a text file naming other files. */
export interface FileCopyPlan {
  source: string;
  target: string;
  size: number;
  /** Set on .vmx and disk descriptors: pairs of [old, new] quoted path strings. */
  rewrite?: [string, string][];
  /** Set on a disk's base extent frozen by a snapshot: the copy may move only its allocated data. */
  disk?: { key: number; snapshot: string; reuse?: DiskReuse };
}

/**
 * layoutEx file types never copied: those that describe the running VM on one host only, and the
 * snapshot metadata (the target consolidates every delta, so its snapshot tree would only point at
 * a state file nobody needs).
 */
const NOT_COPIED_TYPES = new Set([
  'swap',
  'uwswap',
  'core',
  'stat',
  'screenshot',
  'guestCustomization',
  'snapshotData',
  'snapshotList',
  'snapshotMemory',
]);

/** Whether Quick Migration copies a file of this layoutEx type (swap, snapshot metadata and the like it does not). */
export function isCopiedType(type: string): boolean {
  return !NOT_COPIED_TYPES.has(type);
}

const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const baseOf = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** Where the VM's files go: its home folder on the config datastore, and a datastore per disk. */
export interface TargetLayout {
  /** Folder name on every target datastore, normally the VM's final name. */
  folder: string;
  /** Datastore of the .vmx and of every file not belonging to a relocated disk. */
  configDatastore: string;
  /** Disk key → target datastore, for disks whose files go elsewhere than the config datastore. */
  diskDatastores: Record<number, string>;
}

/** Where a plan puts the VM's files: a folder named after the VM on each target datastore. */
export function layoutOf(plan: {
  targetName: string;
  configDatastore: string;
  disks: { key: number; to: string }[];
}): TargetLayout {
  return {
    folder: plan.targetName,
    configDatastore: plan.configDatastore,
    diskDatastores: Object.fromEntries(
      plan.disks.filter((d) => d.to !== plan.configDatastore).map((d) => [d.key, d.to]),
    ),
  };
}

/** The folders of a layout, one per datastore used: `[ds] folder`. */
export function layoutFolders(layout: TargetLayout): string[] {
  const datastores = new Set([layout.configDatastore, ...Object.values(layout.diskDatastores)]);
  return [...datastores].map((ds) => `[${ds}] ${layout.folder}`);
}

/**
 * Maps a source file to its target path: files of a disk go to that disk's datastore, every other file
 * to the config datastore, all into `layout.folder` under their own file name.
 */
export function targetPathOf(source: string, disks: DiskChain[], layout: TargetLayout): string {
  const disk = disks.find(
    (d) => d.layoutFiles.some((level) => level.includes(source)) || d.chain.includes(source),
  );
  const datastore = (disk && layout.diskDatastores[disk.key]) ?? layout.configDatastore;
  return `[${datastore}] ${layout.folder}/${baseOf(parseDatastorePath(source).path)}`;
}

/**
 * The replacements that make a copied .vmx or descriptor name the target's files: a reference is
 * either relative to the file's own folder (`"disk.vmdk"`) or absolute through the datastore name
 * (`"/vmfs/volumes/ds/dir/disk.vmdk"`) or its URL (`"/vmfs/volumes/<uuid>/dir/disk.vmdk"`). Quotes are
 * part of each pair so that one file name never matches inside another.
 */
export function rewritePairs(
  textFile: { source: string; target: string },
  mapping: { source: string; target: string }[],
  datastoreUrls: Record<string, string> = {},
): [string, string][] {
  const pairs: [string, string][] = [];
  const home = parseDatastorePath(textFile.source);
  const targetHome = parseDatastorePath(textFile.target);
  for (const file of mapping) {
    const src = parseDatastorePath(file.source);
    const dst = parseDatastorePath(file.target);
    const sameSourceFolder = src.datastore === home.datastore && dirOf(src.path) === dirOf(home.path);
    const sameTargetFolder =
      dst.datastore === targetHome.datastore && dirOf(dst.path) === dirOf(targetHome.path);
    const newRef = sameTargetFolder ? baseOf(dst.path) : `/vmfs/volumes/${dst.datastore}/${dst.path}`;
    const oldRefs = [`/vmfs/volumes/${src.datastore}/${src.path}`];
    const url = datastoreUrls[src.datastore];
    if (url) oldRefs.push(`${url.replace(/^ds:\/\//, '').replace(/\/$/, '')}/${src.path}`);
    if (sameSourceFolder) oldRefs.push(baseOf(src.path));
    for (const old of oldRefs) if (old !== newRef) pairs.push([`"${old}"`, `"${newRef}"`]);
  }
  return pairs;
}

/** Whether a file names other files and is rewritten on copy. */
export function isRewritten(file: VmFileRef): boolean {
  return file.type === 'config' || file.type === 'diskDescriptor' || file.type === 'snapshotList';
}

/**
 * The files of the bulk phase: every level of every disk chain but the writable top, i.e. the disks
 * frozen by the migration's snapshot (and any older snapshot). The VM keeps running meanwhile.
 */
export function frozenDiskFiles(files: VmFileRef[], disks: DiskChain[]): VmFileRef[] {
  const frozen = new Set(
    disks.flatMap((d) => d.layoutFiles.slice(0, Math.max(0, d.layoutFiles.length - 1)).flat()),
  );
  return files.filter((f) => frozen.has(f.name));
}

/**
 * The files of the switchover phase: everything of the stopped or suspended VM not copied yet (the
 * writable deltas, the suspend state, the configuration), except host-local files such as swap and
 * the snapshot metadata.
 */
export function remainingFiles(files: VmFileRef[], alreadyCopied: ReadonlySet<string>): VmFileRef[] {
  return files.filter((f) => !NOT_COPIED_TYPES.has(f.type) && !alreadyCopied.has(f.name));
}

/**
 * Copy plans for `files`: target paths by {@link targetPathOf}, and for text files that name other
 * files the rewrite pairs against every file of the VM.
 */
export function planCopies(
  files: VmFileRef[],
  allFiles: VmFileRef[],
  disks: DiskChain[],
  layout: TargetLayout,
  datastoreUrls: Record<string, string> = {},
): FileCopyPlan[] {
  const mapping = allFiles.map((f) => ({ source: f.name, target: targetPathOf(f.name, disks, layout) }));
  return files.map((f) => {
    const target = targetPathOf(f.name, disks, layout);
    const plan: FileCopyPlan = { source: f.name, target, size: f.size };
    if (isRewritten(f)) {
      const rewrite = rewritePairs({ source: f.name, target }, mapping, datastoreUrls);
      if (rewrite.length > 0) plan.rewrite = rewrite;
    }
    return plan;
  });
}

/**
 * Marks, in copy plans of a snapshot's frozen files, each disk's base extent (the first chain level's
 * `diskExtent`) with the disk and the snapshot, so the copy can move only its allocated data; and makes
 * each base descriptor record the provisioning asked (`diskType`, see provisioningPairs).
 */
export function markBaseExtents(
  plans: FileCopyPlan[],
  files: VmFileRef[],
  disks: DiskChain[],
  snapshot: string,
  diskType: 'same' | 'thin' | 'thick' | 'thick-eager' = 'same',
): FileCopyPlan[] {
  const extents = new Map<string, number>();
  const descriptors = new Set<string>();
  for (const d of disks) {
    for (const name of d.layoutFiles[0] ?? []) {
      const type = files.find((f) => f.name === name)?.type;
      if (type === 'diskExtent') extents.set(name, d.key);
      if (type === 'diskDescriptor') descriptors.add(name);
    }
  }
  const pairs = provisioningPairs(diskType);
  return plans.map((p) => {
    const key = extents.get(p.source);
    if (key !== undefined) return { ...p, disk: { key, snapshot } };
    if (descriptors.has(p.source) && pairs.length > 0)
      return { ...p, rewrite: [...(p.rewrite ?? []), ...pairs] };
    return p;
  });
}

/**
 * The bulk copy of a snapshot: its frozen files (frozenDiskFiles) planned to the target layout, with
 * each disk's base extent marked for an allocated-areas copy (markBaseExtents).
 */
export function bulkCopies(
  listed: { files: VmFileRef[]; disks: DiskChain[] },
  layout: TargetLayout,
  datastoreUrls: Record<string, string>,
  snapshot: string,
  diskType: 'same' | 'thin' | 'thick' | 'thick-eager' = 'same',
): FileCopyPlan[] {
  const { files, disks } = listed;
  return markBaseExtents(
    planCopies(frozenDiskFiles(files, disks), files, disks, layout, datastoreUrls),
    files,
    disks,
    snapshot,
    diskType,
  );
}

/**
 * The rewrite pairs that record a disk's provisioning in its descriptor (`ddb.thinProvisioned`), when
 * the request asks for a type: none for `same`.
 */
export function provisioningPairs(diskType: 'same' | 'thin' | 'thick' | 'thick-eager'): [string, string][] {
  if (diskType === 'same') return [];
  return diskType === 'thin'
    ? [['ddb.thinProvisioned = "0"', 'ddb.thinProvisioned = "1"']]
    : [['ddb.thinProvisioned = "1"', 'ddb.thinProvisioned = "0"']];
}
