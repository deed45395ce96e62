/** The error of a PUT refused for space (no server): the datastore, what the file needs, what is free. */
import { describe, expect, it } from 'vitest';
import type { VSphereClient } from '../../src/vsphere';
import { ConnectionError, HttpStatusError, InsufficientResourcesError } from '../../src/vsphere';
import { targetSpaceError } from '../../src/vsphere/transfer/errors';

const MiB = 1024 * 1024;
const context = {
  endpoint: 'https://esx-b.lab/sdk',
  method: 'PUT /folder',
  object: '[small] vm/vm-flat.vmdk',
};
const dst = { datastore: 'small', path: 'vm/vm-flat.vmdk' };

/** A client whose datastore `small` reports `free` bytes (undefined: the lookup fails). */
function clientWith(free: number | undefined): VSphereClient {
  return {
    inventory: { findDatastore: async () => ({ ref: { type: 'Datastore', value: 'ds-1' } }) },
    facts: {
      datastore: async () => {
        if (free === undefined) throw new Error('lookup failed');
        return { freeBytes: free };
      },
    },
  } as unknown as VSphereClient;
}

describe('targetSpaceError', () => {
  it('names the datastore, the bytes needed, the bytes free and the shortfall', async () => {
    const err = await targetSpaceError(
      new HttpStatusError(context, 507, ''),
      clientWith(4 * MiB),
      dst,
      16 * MiB,
    );
    expect(err).toBeInstanceOf(InsufficientResourcesError);
    expect((err as Error).message).toContain(
      'datastore small is full: [small] vm/vm-flat.vmdk needs 16.0 MiB (16777216 bytes), 4.0 MiB (4194304 bytes) free, short by 12.0 MiB (12582912 bytes) (HTTP 507)',
    );
  });

  it('says so when the datastore reports enough space, and without the lookup', async () => {
    const enough = await targetSpaceError(
      new HttpStatusError(context, 507, ''),
      clientWith(64 * MiB),
      dst,
      MiB,
    );
    expect((enough as Error).message).toMatch(
      /datastore small refused the file as full \(HTTP 507\).*64\.0 MiB/,
    );
    const unknown = await targetSpaceError(
      new HttpStatusError(context, 507, ''),
      clientWith(undefined),
      dst,
      MiB,
    );
    expect((unknown as Error).message).toContain(
      'datastore small is full: [small] vm/vm-flat.vmdk needs 1.0 MiB',
    );
  });

  it('leaves other errors as they are', async () => {
    const reset = new ConnectionError(context, 'socket hang up', 'ECONNRESET');
    expect(await targetSpaceError(reset, clientWith(0), dst, MiB)).toBe(reset);
    const other = new HttpStatusError(context, 500, 'no space left on device');
    expect(await targetSpaceError(other, clientWith(0), dst, MiB)).toBe(other);
  });
});
