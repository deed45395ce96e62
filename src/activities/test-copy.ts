/**
 * A test migration's copied disks, kept on the target for a later real migration of the same VM
 * (options.test.keepDisks; planner/test-copy.ts): the changeIds the test's snapshot froze, and the
 * cleanup that keeps the base disks with a marker and deletes the rest of the test copy.
 */
import { Readable } from 'node:stream';
import type { TestCopyMarker } from '../planner/test-copy';
import { TEST_MARKER_FILE } from '../planner/test-copy';
import type { MoRef } from '../vsphere';
import { FileNotFoundError, NotFoundError } from '../vsphere';
import { OWNER_FILE, ownerOf } from './datastore';
import type { EndpointPool } from './endpoints';
import { findSnapshot } from './vm';

/** The marker as the workflow knows it before the kept files are looked at. */
export type TestMarkerDraft = Omit<TestCopyMarker, 'keptAt' | 'disks'> & {
  disks: Omit<TestCopyMarker['disks'][number], 'size' | 'modified'>[];
};

/** Builds the test-copy activities over the endpoint pool. */
export function createTestCopyActivities(pool: EndpointPool) {
  return {
    /**
     * The changeId and capacity of each disk in a VM's snapshot (empty when change tracking was off
     * at the snapshot). Throws NotFoundError when the snapshot is gone.
     */
    async snapshotChangeIds(input: {
      endpoint: string;
      vm: MoRef;
      name: string;
    }): Promise<{ key: number; changeId: string; capacityBytes: number }[]> {
      const client = await pool.clientFor(input.endpoint);
      const facts = await client.facts.vm(input.vm);
      const snapshot = findSnapshot(facts.snapshots, input.name);
      if (snapshot === undefined)
        throw new NotFoundError(
          { endpoint: input.endpoint, method: 'snapshotChangeIds', object: input.vm.value },
          { type: 'NotFound', message: `snapshot ${input.name} of ${facts.name} does not exist`, detail: {} },
        );
      return client.disks.snapshotChangeIds(snapshot);
    },

    /**
     * The cleanup of a test copy that keeps its base disks: in each folder this migration made,
     * deletes everything but `keep` (the base descriptors and extents) and the owner marker, then
     * writes `quickmig-test.json` with each kept extent's size and modification time. Idempotent.
     */
    async keepTestDisks(input: {
      endpoint: string;
      folders: string[];
      migrationId: string;
      keep: string[];
      marker: TestMarkerDraft;
    }): Promise<{ deleted: string[]; marker: TestCopyMarker }> {
      const client = await pool.clientFor(input.endpoint);
      const keep = new Set(input.keep);
      const deleted: string[] = [];
      const folders: string[] = [];
      for (const folder of input.folders) {
        if ((await ownerOf(client, folder)) !== input.migrationId) continue;
        folders.push(folder);
        for (const entry of await client.files.list(folder)) {
          if (entry.name === OWNER_FILE || entry.name === TEST_MARKER_FILE || keep.has(entry.path)) continue;
          try {
            await client.files.delete(entry.path);
            deleted.push(entry.path);
          } catch (error) {
            // A disk's descriptor may take its extent with it.
            if (!(error instanceof FileNotFoundError || error instanceof NotFoundError)) throw error;
          }
        }
      }
      const disks: TestCopyMarker['disks'][number][] = [];
      for (const d of input.marker.disks) {
        const info = await client.files.stat(d.target);
        disks.push({ ...d, size: info.size ?? 0, modified: info.modified?.toISOString() ?? '' });
      }
      const marker: TestCopyMarker = { ...input.marker, keptAt: new Date().toISOString(), disks };
      const text = Buffer.from(`${JSON.stringify(marker, null, 2)}\n`);
      for (const folder of folders) {
        await client.files.put(`${folder}/${TEST_MARKER_FILE}`, Readable.from([text]), text.length);
      }
      return { deleted, marker };
    },
  };
}
