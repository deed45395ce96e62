/**
 * Helpers of the deployment consistency tests: the files a worker configuration names, and a stand-in for a
 * container's filesystem built from what a deployment mounts, so the worker's own configuration loader can
 * be run against exactly the files that would be there.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A raw worker configuration as written in deploy/ (JSON). */
export type RawWorkerConfig = Record<string, unknown>;

/**
 * Every file path a worker configuration names: any string under a key ending in `File` (passwordFile,
 * tls.caFile, encryption.keyFile, and whatever such key is added later), with where it is.
 */
export function pathsNamedBy(config: unknown, at = ''): { field: string; path: string }[] {
  if (typeof config !== 'object' || config === null) return [];
  return Object.entries(config).flatMap(([key, value]) => {
    const field = at ? `${at}.${key}` : key;
    if (typeof value === 'string' && /File$/.test(key)) return [{ field, path: value }];
    return pathsNamedBy(value, field);
  });
}

/** One file or directory a deployment makes visible inside the container. */
export interface Mount {
  /** Absolute path inside the container. */
  target: string;
  /** What provides it (for messages): a host file, a compose config or secret, a ConfigMap key. */
  source: string;
  /** The names of the files when the mount is a directory (a ConfigMap or Secret volume). */
  files?: string[];
}

/** The mount that provides `path` inside the container, if any. */
export function mountFor(mounts: readonly Mount[], path: string): Mount | undefined {
  return mounts.find((m) => (m.files ? m.files.some((f) => join(m.target, f) === path) : m.target === path));
}

/**
 * A temporary directory laid out as the container would see the mounted files: each mounted file is created
 * under it at its target path, with the content given (or a placeholder). Returns the directory and a
 * function mapping a container path into it.
 */
export function containerFiles(
  mounts: readonly Mount[],
  content: (target: string) => string | undefined = () => undefined,
): { root: string; at: (path: string) => string } {
  const root = mkdtempSync(join(tmpdir(), 'quickmig-container-'));
  const at = (path: string) => join(root, path);
  for (const m of mounts) {
    for (const target of m.files ? m.files.map((f) => join(m.target, f)) : [m.target]) {
      mkdirSync(dirname(at(target)), { recursive: true });
      writeFileSync(at(target), content(target) ?? `mounted from ${m.source}\n`);
    }
  }
  return { root, at };
}

/**
 * The worker configuration with every path it names moved into the container stand-in, as the worker in
 * the container would read it.
 */
export function relocatePaths(config: RawWorkerConfig, at: (path: string) => string): RawWorkerConfig {
  const visit = (value: unknown, key: string): unknown => {
    if (typeof value === 'string' && /File$/.test(key)) return at(value);
    if (Array.isArray(value)) return value.map((v) => visit(v, ''));
    if (typeof value === 'object' && value !== null)
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visit(v, k)]));
    return value;
  };
  return visit(config, '') as RawWorkerConfig;
}

/** An image reference's tag is pinned: a version with at least major.minor (or a digest), never `latest`. */
export function isPinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const tag = /:([^:/]+)$/.exec(image)?.[1];
  return tag !== undefined && /^v?\d+\.\d+(\.\d+)?([-.][\w.-]+)?$/.test(tag);
}
