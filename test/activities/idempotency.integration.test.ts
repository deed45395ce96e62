/**
 * Every control activity may run twice: a worker can die after the vSphere effect and before Temporal
 * records the completion, and the retry must see the effect and succeed without repeating it. Each
 * step here runs twice in a row against a private lab and the inventory shows it happened once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlActivities } from '../../src/activities';
import type { EndpointPool } from '../../src/activities/endpoints';
import { createEndpointPool } from '../../src/activities/endpoints';
import { loadWorkerConfig } from '../../src/config/config';
import type { LabInfo } from '../../src/lab/lab';
import type { MoRef } from '../../src/vsphere';
import { InvalidPowerStateError } from '../../src/vsphere';
import { startPrivateLab, stopPrivateLab } from '../support/lab';

let lab: LabInfo;
let pool: EndpointPool;
let activities: ReturnType<typeof createControlActivities>;

beforeAll(async () => {
  lab = await startPrivateLab('idempotency');
  pool = createEndpointPool(loadWorkerConfig(lab.workerConfig, {}).endpoints);
  activities = createControlActivities(pool);
});

afterAll(async () => {
  await pool?.close();
  if (lab) await stopPrivateLab(lab.dir);
});

async function vm(endpoint: string, name: string): Promise<MoRef> {
  const found = (await (await pool.clientFor(endpoint)).inventory.listVms()).find((v) => v.name === name);
  if (!found) throw new Error(`no VM ${name} on ${endpoint}`);
  return found.ref;
}

const facts = async (endpoint: string, ref: MoRef) => (await pool.clientFor(endpoint)).facts.vm(ref);

describe('control activities run twice (integration)', () => {
  it('snapshot, power changes and snapshot removal happen once', async () => {
    const util = { endpoint: 'esx-b', vm: await vm('esx-b', 'util01') };
    const first = await activities.snapshotVm({ ...util, name: 'quickmig-twice' });
    const second = await activities.snapshotVm({ ...util, name: 'quickmig-twice' });
    expect(second).toEqual(first);
    expect((await facts('esx-b', util.vm)).snapshots.map((s) => s.name)).toEqual(['quickmig-twice']);

    expect((await activities.setPowerState({ ...util, state: 'suspended' })).changed).toBe(true);
    expect((await activities.setPowerState({ ...util, state: 'suspended' })).changed).toBe(false);
    expect((await facts('esx-b', util.vm)).powerState).toBe('suspended');
    expect((await activities.setPowerState({ ...util, state: 'poweredOn' })).changed).toBe(true);
    expect((await activities.setPowerState({ ...util, state: 'poweredOn' })).changed).toBe(false);
    // A refusal that is not "already there" stays a failure: a powered-off VM cannot be suspended.
    expect((await activities.setPowerState({ ...util, state: 'poweredOff' })).changed).toBe(true);
    await expect(activities.setPowerState({ ...util, state: 'suspended' })).rejects.toThrow(
      InvalidPowerStateError,
    );
    expect((await facts('esx-b', util.vm)).powerState).toBe('poweredOff');
    expect((await activities.setPowerState({ ...util, state: 'poweredOn' })).changed).toBe(true);

    expect(await activities.removeSnapshot({ ...util, name: 'quickmig-twice' })).toBe(true);
    expect(await activities.removeSnapshot({ ...util, name: 'quickmig-twice' })).toBe(false);
    const after = await facts('esx-b', util.vm);
    expect(after.snapshots).toEqual([]);
    expect(after.disks.map((d) => d.chain.length)).toEqual([1]);
  });

  it('unregister, register, rename and destroy happen once', async () => {
    const off = { endpoint: 'esx-a', vm: await vm('esx-a', 'off01') };
    const vmxPath = (await facts('esx-a', off.vm)).vmxPath as string;
    expect(await activities.unregisterVm(off)).toBe(true);
    expect(await activities.unregisterVm(off)).toBe(false);

    const client = await pool.clientFor('esx-a');
    const [host] = await client.inventory.listHosts();
    const [folder] = (await client.inventory.listFolders()).filter((f) =>
      f.childTypes.includes('VirtualMachine'),
    );
    const [resourcePool] = await client.inventory.listResourcePools();
    const spec = {
      endpoint: 'esx-a',
      vmxPath,
      name: 'off01',
      folder: folder?.ref as MoRef,
      pool: resourcePool?.ref as MoRef,
      host: host?.ref as MoRef,
    };
    const registered = await activities.registerVm(spec);
    expect(await activities.registerVm(spec)).toEqual(registered);
    expect((await client.inventory.listVms()).filter((v) => v.name === 'off01')).toHaveLength(1);

    const again = { endpoint: 'esx-a', vm: registered };
    await activities.renameVm({ ...again, name: 'off01-renamed' });
    await activities.renameVm({ ...again, name: 'off01-renamed' });
    expect((await facts('esx-a', registered)).name).toBe('off01-renamed');

    expect(await activities.destroyVm(again)).toBe(true);
    expect(await activities.destroyVm(again)).toBe(false);
    expect((await client.inventory.listVms()).map((v) => v.name)).not.toContain('off01-renamed');
  });

  it('target folders are made and removed once, and only by the migration that made them', async () => {
    const folders = ['[datastore1] twice'];
    await activities.makeFolders({ endpoint: 'esx-b', folders, migrationId: 'm-1' });
    await activities.makeFolders({ endpoint: 'esx-b', folders, migrationId: 'm-1' });
    await expect(activities.makeFolders({ endpoint: 'esx-b', folders, migrationId: 'm-2' })).rejects.toThrow(
      /already exists on the target and belongs to another VM or migration/,
    );
    expect(await activities.deleteFolders({ endpoint: 'esx-b', folders, migrationId: 'm-2' })).toEqual([]);
    expect(await activities.deleteFolders({ endpoint: 'esx-b', folders, migrationId: 'm-1' })).toEqual(
      folders,
    );
    expect(await activities.deleteFolders({ endpoint: 'esx-b', folders, migrationId: 'm-1' })).toEqual([]);
    expect(await (await pool.clientFor('esx-b')).files.exists(folders[0] as string)).toBe(false);
  });

  it('a folder left empty by a crash between mkdir and marker is adopted; one with files is not', async () => {
    const client = await pool.clientFor('esx-b');
    await client.files.mkdir('[datastore1] half-made');
    await activities.makeFolders({
      endpoint: 'esx-b',
      folders: ['[datastore1] half-made'],
      migrationId: 'm-3',
    });
    expect(
      await activities.deleteFolders({
        endpoint: 'esx-b',
        folders: ['[datastore1] half-made'],
        migrationId: 'm-3',
      }),
    ).toEqual(['[datastore1] half-made']);
    // util01's own folder holds its files and no marker: never adopted, never deleted
    await expect(
      activities.makeFolders({ endpoint: 'esx-b', folders: ['[datastore1] util01'], migrationId: 'm-3' }),
    ).rejects.toThrow(/belongs to another VM/);
    expect(
      await activities.deleteFolders({
        endpoint: 'esx-b',
        folders: ['[datastore1] util01'],
        migrationId: 'm-3',
      }),
    ).toEqual([]);
    expect(await client.files.exists('[datastore1] util01/util01.vmx')).toBe(true);
  });
});
