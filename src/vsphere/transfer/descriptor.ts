/** @internal A disk descriptor read from a datastore: its content ID, which a child disk names as its parentCID. */
import type { VSphereClient } from '../client';
import type { DatastorePath } from '../datastore-path';
import { VSphereError } from '../errors';
import { toConnectionError } from '../http-io';
import { context } from './errors';

/** The CID of a disk descriptor on a datastore (`CID=` line). */
export async function descriptorCid(client: VSphereClient, file: DatastorePath): Promise<string> {
  const download = await client.files.get(file);
  const chunks: Buffer[] = [];
  try {
    for await (const piece of download.stream) chunks.push(piece as Buffer);
  } catch (err) {
    throw toConnectionError(context(client, 'GET /folder', file), err);
  }
  const cid = /^CID=([0-9a-fA-F]{8})\s*$/m.exec(Buffer.concat(chunks).toString('utf8'))?.[1];
  if (cid === undefined)
    throw new VSphereError(context(client, 'GET /folder', file), 'the descriptor names no CID');
  return cid.toLowerCase();
}
