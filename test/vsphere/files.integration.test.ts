/** Integration: datastore files streamed between two standalone ESXi endpoints of the lab. */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VSphereClient } from '../../src/vsphere';
import { startLab } from '../support/lab';
import { connect, copyFile, readAll, scratchName } from './helpers';

let a: VSphereClient;
let b: VSphereClient;
const folder = `[datastore1] ${scratchName('qm-copy (ü)')}`;

beforeAll(async () => {
  const info = await startLab();
  [a, b] = await Promise.all([connect(info, 'esx-a'), connect(info, 'esx-b')]);
  await b.files.mkdir(folder);
});

afterAll(async () => {
  await b?.files.delete(folder).catch(() => undefined);
  await Promise.all([a?.close(), b?.close()]);
});

const sha256 = async (client: VSphereClient, path: string) =>
  createHash('sha256')
    .update(await readAll((await client.files.get(path)).stream))
    .digest('hex');

describe('streaming between endpoints', () => {
  it('copies a disk from esx-a to esx-b byte for byte', async () => {
    const source = '[datastore1] off01/off01-flat.vmdk';
    const target = `${folder}/off01-flat.vmdk`;
    await copyFile(a, source, b, target);
    const [stat, srcStat] = await Promise.all([b.files.stat(target), a.files.stat(source)]);
    expect(stat.size).toBe(srcStat.size);
    expect(await sha256(b, target)).toBe(await sha256(a, source));
  });

  it('reads the tail of a file with a range, as a resumed copy would', async () => {
    const target = `${folder}/off01-flat.vmdk`;
    const size = (await b.files.stat(target)).size as number;
    const tail = await b.files.get(target, { range: { start: size - 4096 } });
    expect(tail.status).toBe(206);
    expect(tail.length).toBe(4096);
    expect(tail.totalSize).toBe(size);
    expect((await readAll(tail.stream)).length).toBe(4096);
  });

  it('aborts an upload on the signal', async () => {
    const controller = new AbortController();
    let sent = 0;
    const endless = new Readable({
      read() {
        this.push(Buffer.alloc(64 * 1024));
      },
    });
    const upload = b.files.put(`${folder}/aborted.bin`, endless, 1024 * 1024 * 1024, {
      signal: controller.signal,
      onProgress: (n) => {
        sent = n;
        if (n > 4 * 1024 * 1024) controller.abort(new Error('stop'));
      },
    });
    await expect(upload).rejects.toThrow('stop');
    expect(sent).toBeGreaterThan(4 * 1024 * 1024);
    expect(sent).toBeLessThan(1024 * 1024 * 1024);
  });
});
