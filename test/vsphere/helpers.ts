/** Shared helpers of the vSphere integration tests (lab endpoints from test/support/lab.ts). */
import { randomBytes } from 'node:crypto';
import type { LabEndpoint, LabInfo } from '../../src/lab/lab';
import type { VSphereClientOptions } from '../../src/vsphere';
import { VSphereClient } from '../../src/vsphere';
import { endpoint, passwordOf } from '../support/lab';

/** A client of a lab endpoint, pinned to its thumbprint. */
export function connect(
  info: LabInfo,
  name: string,
  overrides: Partial<VSphereClientOptions> = {},
): Promise<VSphereClient> {
  const ep: LabEndpoint = endpoint(info, name);
  return VSphereClient.connect({
    url: ep.url,
    username: ep.username,
    password: passwordOf(ep),
    tls: { thumbprint: ep.thumbprint },
    ...overrides,
  });
}

/** A name no other test uses. */
export function scratchName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Copies one datastore file by streaming GET → PUT (same or different endpoints). */
export async function copyFile(
  from: VSphereClient,
  src: string,
  to: VSphereClient,
  dst: string,
): Promise<void> {
  const download = await from.files.get(src);
  if (download.length === undefined) throw new Error(`no Content-Length for ${src}`);
  await to.files.put(dst, download.stream, download.length);
}

/** Collects everything a readable stream yields. */
export async function readAll(stream: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}
