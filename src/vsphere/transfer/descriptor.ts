/** @internal A disk descriptor read from a datastore: its content ID, which a child disk names as its parentCID. */
import type { VSphereClient } from '../client';
import type { DatastorePath } from '../datastore-path';
import { VSphereError } from '../errors';
import { context } from './errors';

/** The CID of a disk descriptor on a datastore (`CID=` line). */
export async function descriptorCid(client: VSphereClient, file: DatastorePath): Promise<string> {
  const cid = /^CID=([0-9a-fA-F]{8})\s*$/m.exec(await client.files.text(file))?.[1];
  if (cid === undefined)
    throw new VSphereError(context(client, 'GET /folder', file), 'the descriptor names no CID');
  return cid.toLowerCase();
}
