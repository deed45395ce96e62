/**
 * The thin-disk copy against the lab (integration): a running VM's 8 GiB thin disk, about 10 % allocated
 * in scattered runs, its guest writing, copied esx-a → esx-b moving only the allocated data; the target is
 * thin (allocated bytes by the backing file's blocks, `du`) and holds the same content (SHA-256 of the
 * logical content); a copy interrupted at 60 % resumes without sending its completed chunks again.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import { projectRoot } from '../../src/lab/tools';
import type { MoRef, VSphereClient } from '../../src/vsphere';
import { parseDatastorePath } from '../../src/vsphere';
import type { ThinChunkDone } from '../../src/vsphere/transfer/thin';
import { copyThinDisk } from '../../src/vsphere/transfer/thin';
import { controlOf, startPrivateLab, stopPrivateLab } from '../support/lab';
import { connect } from './helpers';

const MiB = 1024 * 1024;
let info: LabInfo;
let a: VSphereClient;
let b: VSphereClient;

/** endpoint → datastore name → backing folder on this machine. */
const backing = new Map<string, Map<string, string>>();

/** The local file behind a datastore path of a lab endpoint. */
function local(endpointName: string, path: string): string {
  const p = parseDatastorePath(path);
  const dir = backing.get(endpointName)?.get(p.datastore);
  if (dir === undefined) throw new Error(`no backing folder for ${endpointName} ${p.datastore}`);
  return join(dir, p.path);
}

/** Bytes the file occupies on disk (its blocks), as `du` counts them. */
function allocated(file: string): number {
  return Number(execFileSync('du', ['--block-size=1', file], { encoding: 'utf8' }).split(/\s/)[0]);
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Snapshots a VM with change tracking on; returns what the copy needs of its first disk. */
async function frozenDisk(name: string) {
  const item = await a.inventory.findVm({ name });
  // The guest writes from now on (into the snapshot's delta once it is taken): writes long before it
  // would land in the base as scattered 4 KiB blocks, which change tracking reports as 64 KiB areas.
  await controlOf(info, 'esx-a').setGuestRate(name, 262144);
  await a.disks.enableChangeTracking(item.ref);
  const snapshot: MoRef = await a.vms.createSnapshot(item.ref, { name: `thin-test-${name}` });
  const facts = await a.facts.vm(item.ref);
  const disk = facts.disks[0];
  if (disk === undefined) throw new Error(`${name} has no disk`);
  const extent = disk.layoutFiles[0]?.find((f) => f.endsWith('-flat.vmdk'));
  if (extent === undefined) throw new Error(`${name}: no flat extent in ${disk.layoutFiles[0]}`);
  return { vm: item.ref, snapshot, deviceKey: disk.key, capacityBytes: disk.capacityBytes, extent };
}

beforeAll(async () => {
  info = await startPrivateLab('thin-vsphere', join(projectRoot, 'test/vsphere/fixtures/thin-topology.json'));
  a = await connect(info, 'esx-a');
  b = await connect(info, 'esx-b');
  for (const name of ['esx-a', 'esx-b']) {
    const list = await controlOf(info, name).call<{ name: string; path: string }[]>('GET', '/datastores');
    backing.set(name, new Map(list.map((d) => [d.name, d.path])));
  }
}, 600_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  if (info) await stopPrivateLab(info.dir);
});

describe('thin disk copy', () => {
  it('moves only the allocated data of an 8 GiB thin disk while its guest writes, and the target stays thin', async () => {
    const disk = await frozenDisk('thin01');
    const source = local('esx-a', disk.extent);
    const sourceAllocated = allocated(source);
    expect(statSync(source).size).toBe(8192 * MiB);
    expect(sourceAllocated).toBeLessThan(0.15 * 8192 * MiB);
    const target = '[datastore1] thin01/thin01-flat.vmdk';
    const result = await copyThinDisk(
      { client: a, ...disk },
      { client: b, path: target },
      { diskType: 'thin' },
    );
    const { report } = result;
    expect(report.transport).toBe('allocated-areas');
    expect(report.logicalBytes).toBe(8192 * MiB);
    // Allocated as change tracking reports it: the file's blocks, rounded out to 64 KiB.
    expect(report.allocatedBytes).toBeGreaterThanOrEqual(sourceAllocated);
    expect(report.allocatedBytes).toBeLessThanOrEqual(sourceAllocated * 1.05);
    // Headers: a 512-byte header and 2 KiB of tables per 32 MiB of logical range, per chunk.
    const headers = report.chunks * (64 * 1024) + (8192 / 32) * 2048;
    expect(report.wireBytes).toBeLessThanOrEqual(1.05 * sourceAllocated + headers);
    expect(report.resentBytes).toBe(0);
    const copy = local('esx-b', target);
    expect(statSync(copy).size).toBe(8192 * MiB);
    const targetAllocated = allocated(copy);
    // Within the block granularity: the file system's own extent blocks come on top.
    expect(targetAllocated).toBeLessThanOrEqual(report.allocatedBytes + MiB);
    expect(targetAllocated).toBeGreaterThan(0.9 * sourceAllocated);
    expect(result.sha256Target).toBe(result.sha256Source);
    expect(await sha256File(copy)).toBe(await sha256File(source));
    // Nothing staged is left on the target.
    expect(await b.files.exists('[datastore1] thin01/thin01.quickmig-thin')).toBe(false);
  }, 600_000);

  it('resumes a copy interrupted at 60 % without sending its completed chunks again', async () => {
    const disk = await frozenDisk('thin02');
    const target = '[datastore1] thin02/thin02-flat.vmdk';
    const chunkBytes = 64 * MiB;
    const done: ThinChunkDone[] = [];
    const abort = new AbortController();
    let sentBeforeKill = 0;
    let inFlightAtKill = 0;
    let total = 0;
    await expect(
      copyThinDisk(
        { client: a, ...disk },
        { client: b, path: target },
        {
          diskType: 'thin',
          chunkBytes,
          signal: abort.signal,
          onChunkDone: (c) => done.push(c),
          onProgress: (p) => {
            total = p.totalBytes;
            if (!abort.signal.aborted && p.wireBytes >= 0.6 * p.totalBytes) {
              sentBeforeKill = p.wireBytes;
              inFlightAtKill = p.inFlight;
              abort.abort(new Error('killed at 60 %'));
            }
          },
        },
      ),
    ).rejects.toThrow('killed at 60 %');
    expect(done.length).toBeGreaterThan(0);
    const resumed = await copyThinDisk(
      { client: a, ...disk },
      { client: b, path: target },
      { diskType: 'thin', chunkBytes, chunksDone: done, partialBytes: inFlightAtKill },
    );
    expect(resumed.report.chunksKept).toBe(done.length);
    // What both attempts uploaded, over the disk's extents: at most one chunk went twice.
    const resent = sentBeforeKill + resumed.report.wireBytes - total;
    expect(resent).toBeLessThanOrEqual(chunkBytes + MiB);
    expect(resumed.report.resentBytes).toBe(inFlightAtKill);
    expect(resumed.report.resentBytes).toBeLessThanOrEqual(256 * MiB);
    const source = local('esx-a', disk.extent);
    const copy = local('esx-b', target);
    expect(allocated(copy)).toBeLessThan(statSync(copy).size / 5);
    expect(resumed.sha256Target).toBe(resumed.sha256Source);
    expect(await sha256File(copy)).toBe(await sha256File(source));
  }, 600_000);
});
