/**
 * Integration: the session survives the endpoint restarting (sessions lost, as on a host reboot);
 * concurrent callers share one re-login.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import { restartEndpoint } from '../../src/lab/lab';
import type { VSphereClient } from '../../src/vsphere';
import { startLab } from '../support/lab';
import { connect, readAll, scratchName } from './helpers';

let info: LabInfo;
let client: VSphereClient;
const logins: number[] = [];

beforeAll(async () => {
  info = await startLab();
  client = await connect(info, 'esx-b', {
    logger: {
      warn: () => {},
      debug: (message, fields) => {
        if (message === 'logged in') logins.push(Number(fields?.generation));
      },
    },
  });
});

afterAll(async () => {
  await client?.close();
});

describe('an endpoint restarted mid-session', () => {
  it('logs in again once for all concurrent callers and carries on', async () => {
    const folder = `[datastore1] ${scratchName('qm-restart')}`;
    await client.files.mkdir(folder);
    const body = Buffer.from('survives a restart\n'.repeat(100));
    await client.files.put(`${folder}/f.txt`, Readable.from([body]), body.length);
    const before = await client.inventory.listVms();
    expect(logins).toEqual([1]);

    await restartEndpoint('esx-b', info.dir);

    // Five callers hit the dead session at once: every one succeeds, with a single new Login.
    const results = await Promise.all([
      client.inventory.listVms(),
      client.inventory.listHosts(),
      client.facts.endpoint(),
      client.inventory.findVm({ name: 'util01' }),
      client.inventory.listDatastores(),
    ]);
    expect(results[0].map((v) => v.name).sort()).toEqual(before.map((v) => v.name).sort());
    expect(logins).toEqual([1, 2]);

    // The file API and tasks work on the new session too.
    const download = await client.files.get(`${folder}/f.txt`);
    expect(
      createHash('sha256')
        .update(await readAll(download.stream))
        .digest('hex'),
    ).toBe(createHash('sha256').update(body).digest('hex'));
    await client.files.delete(folder);
    expect(await client.files.exists(folder)).toBe(false);
  });
});
