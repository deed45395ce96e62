/** Datastore steps of a migration: target folders, their removal on rollback, unmounting instant-recovery storage. */
import { Readable } from 'node:stream';
import { Context } from '@temporalio/activity';
import type { TestCopyMarker } from '../planner/test-copy';
import { parseTestMarker, TEST_MARKER_FILE } from '../planner/test-copy';
import type { MoRef, VSphereClient } from '../vsphere';
import { FileNotFoundError, NotFoundError, parseDatastorePath } from '../vsphere';
import type { EndpointPool } from './endpoints';
import { TargetFolderExistsError } from './errors';

function cancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** Marks a target folder as made by one migration, so rollback removes only what it made. */
export const OWNER_FILE = '.quickmig-migration';

/** The migration id in a folder's marker; undefined when the folder has none. */
export async function ownerOf(client: VSphereClient, folder: string): Promise<string | undefined> {
  return (await readText(client, `${folder}/${OWNER_FILE}`))?.trim();
}

/** A small file's text; undefined when it does not exist. */
export async function readText(client: VSphereClient, file: string): Promise<string | undefined> {
  try {
    return await client.files.text(file);
  } catch (error) {
    if (error instanceof FileNotFoundError || error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** Builds the datastore activities over the endpoint pool. */
export function createDatastoreActivities(pool: EndpointPool) {
  return {
    /**
     * Creates the target folders (`[ds] folder`) and marks each as this migration's. A folder this
     * migration made before (a retry) is fine, an empty unmarked one is adopted; anyone else's is never
     * touched: TargetFolderExistsError.
     */
    async makeFolders(input: {
      endpoint: string;
      folders: string[];
      migrationId: string;
      /**
       * A test migration whose kept copy this migration builds on (planner/test-copy.ts): its folders
       * become this migration's, its marker `quickmig-test.json` goes (the workflow holds its content).
       */
      adopt?: string | undefined;
    }): Promise<void> {
      const client = await pool.clientFor(input.endpoint);
      for (const folder of input.folders) {
        const owner = await ownerOf(client, folder);
        if (owner === input.migrationId) continue;
        if (owner !== undefined && owner === input.adopt) {
          const marker = Buffer.from(input.migrationId);
          await client.files.put(`${folder}/${OWNER_FILE}`, Readable.from([marker]), marker.length);
          await client.files.delete(`${folder}/${TEST_MARKER_FILE}`).catch((error: unknown) => {
            if (!(error instanceof FileNotFoundError || error instanceof NotFoundError)) throw error;
          });
          continue;
        }
        if (owner !== undefined) throw new TargetFolderExistsError(folder);
        if (await client.files.exists(folder)) {
          // No owner: a crash between the mkdir and the marker leaves exactly an empty folder, which is
          // adopted (nothing in it can be lost). A folder holding anything belongs to someone else.
          if ((await client.files.list(folder)).length > 0) throw new TargetFolderExistsError(folder);
        } else {
          await client.files.mkdir(folder);
        }
        const marker = Buffer.from(input.migrationId);
        await client.files.put(`${folder}/${OWNER_FILE}`, Readable.from([marker]), marker.length);
      }
    },

    /**
     * Deletes the folders this migration made, with everything in them (rollback of a target). A
     * missing folder, or one the migration did not make, is left alone.
     */
    async deleteFolders(input: {
      endpoint: string;
      folders: string[];
      migrationId: string;
    }): Promise<string[]> {
      const client = await pool.clientFor(input.endpoint);
      const deleted: string[] = [];
      for (const folder of input.folders) {
        if ((await ownerOf(client, folder)) !== input.migrationId) continue;
        try {
          // FileManager needs the datacenter on a vCenter; a standalone host ignores it.
          const ds = await client.inventory.findDatastore(parseDatastorePath(folder).datastore);
          const datacenter = (await client.inventory.datacenterOf(ds.ref)).ref;
          await client.datastores.deleteFile(folder, { datacenter }, { signal: cancellation() });
          deleted.push(folder);
        } catch (error) {
          if (!(error instanceof FileNotFoundError || error instanceof NotFoundError)) throw error;
        }
      }
      return deleted;
    },

    /**
     * Unmounts the instant-recovery datastore from every host that mounts it, once no registered VM
     * uses it any more; otherwise leaves it and says which VMs still do. Idempotent: a host that no
     * longer mounts it is skipped.
     */
    async unmountIfUnused(input: {
      endpoint: string;
      datastore: MoRef;
      datastoreSystems: MoRef[];
    }): Promise<{ unmounted: boolean; usedBy: string[] }> {
      const client = await pool.clientFor(input.endpoint);
      let facts: Awaited<ReturnType<typeof client.facts.datastore>>;
      try {
        facts = await client.facts.datastore(input.datastore);
      } catch (error) {
        if (error instanceof NotFoundError) return { unmounted: true, usedBy: [] };
        throw error;
      }
      if (facts.vms.length > 0) {
        const vms = await client.facts.vms(facts.vms);
        return { unmounted: false, usedBy: vms.map((v) => v.name) };
      }
      const mountedOn = await client.facts.hosts(facts.hosts.filter((m) => m.mounted).map((m) => m.host));
      const systems = new Set(mountedOn.map((h) => h.datastoreSystem?.value));
      for (const system of input.datastoreSystems) {
        if (systems.has(system.value)) await client.datastores.remove(system, input.datastore);
      }
      return { unmounted: true, usedBy: [] };
    },
  };
}

/**
 * What preflight needs to know of a folder a migration would make: whether it exists, how many entries
 * it holds besides the marker, and the migration that made it (the marker), if any.
 */
export async function folderState(
  client: VSphereClient,
  folder: string,
): Promise<{ path: string; exists: boolean; entries: number; owner: string | null; test?: TestCopyMarker }> {
  let names: string[];
  try {
    names = (await client.files.list(folder)).map((f) => f.name);
  } catch (error) {
    if (error instanceof FileNotFoundError || error instanceof NotFoundError)
      return { path: folder, exists: false, entries: 0, owner: null };
    throw error;
  }
  const owner = names.includes(OWNER_FILE) ? ((await ownerOf(client, folder)) ?? null) : null;
  const test = names.includes(TEST_MARKER_FILE)
    ? await readText(client, `${folder}/${TEST_MARKER_FILE}`)
    : undefined;
  const marker = test === undefined ? undefined : parseTestMarker(test);
  return {
    path: folder,
    exists: true,
    entries: names.filter((n) => n !== OWNER_FILE).length,
    owner,
    ...(marker ? { test: marker } : {}),
  };
}
