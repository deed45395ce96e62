/**
 * Integration: every client operation against the lab, on the vCenter and on a standalone ESXi.
 * The mutating tests work on a scratch VM registered from a copy of a lab VM's files, so the lab's
 * own VMs stay as they were.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInfo } from '../../src/lab/lab';
import type { MoRef, TaskProgress, VmFacts, VSphereClient } from '../../src/vsphere';
import {
  AlreadyExistsError,
  AuthenticationError,
  FileAlreadyExistsError,
  FileNotFoundError,
  InsufficientResourcesError,
  InvalidArgumentError,
  InvalidPowerStateError,
  InvalidStateError,
  MethodNotFoundError,
  NotFoundError,
  parseDatastorePath,
  SessionExpiredError,
  TaskInProgressError,
  ThumbprintMismatchError,
  VSphereFaultError,
} from '../../src/vsphere';
import { controlOf, endpoint, passwordOf, startLab } from '../support/lab';
import { connect, copyFile, readAll, scratchName } from './helpers';

let info: LabInfo;

beforeAll(async () => {
  info = await startLab();
});

describe.each([
  { name: 'vcenter', sourceVm: 'web01', apiType: 'VirtualCenter' },
  { name: 'esx-a', sourceVm: 'off01', apiType: 'HostAgent' },
])('$name', ({ name, sourceVm, apiType }) => {
  let client: VSphereClient;
  let source: VmFacts;

  beforeAll(async () => {
    client = await connect(info, name);
    source = await client.facts.vm((await client.inventory.findVm({ name: sourceVm })).ref);
  });

  afterAll(async () => {
    await client?.close();
  });

  it('says what the endpoint is and speaks its newest API version', async () => {
    expect(client.about.apiType).toBe(apiType);
    expect(client.isVCenter).toBe(apiType === 'VirtualCenter');
    expect(client.apiVersion).toBe(client.about.apiVersion);
    const facts = await client.facts.endpoint();
    expect(facts.isVCenter).toBe(client.isVCenter);
    if (client.isVCenter)
      expect(facts.licenseFeatures).toEqual(expect.arrayContaining(['vmotion', 'storagevmotion']));
  });

  it('lists hosts, clusters, datastores, pools, folders and datacenters', async () => {
    const [hosts, clusters, datastores, pools, folders, dcs] = await Promise.all([
      client.inventory.listHosts(),
      client.inventory.listClusters(),
      client.inventory.listDatastores(),
      client.inventory.listResourcePools(),
      client.inventory.listFolders(),
      client.inventory.listDatacenters(),
    ]);
    expect(hosts.length).toBeGreaterThan(0);
    expect(datastores.map((d) => d.name)).toContain(parseDatastorePath(source.vmxPath ?? '').datastore);
    expect(pools.length).toBeGreaterThan(0);
    expect(folders.some((f) => f.childTypes.includes('VirtualMachine'))).toBe(true);
    expect(dcs.length).toBe(1);
    if (client.isVCenter) {
      expect(clusters.map((c) => c.name)).toEqual(['Prod']);
      expect(clusters[0]?.hosts.length).toBe(2);
      expect(dcs[0]?.path).toBe('DC1');
    } else {
      expect(clusters).toEqual([]);
      expect(dcs[0]?.path).toBe('ha-datacenter');
    }
    const host = await client.inventory.findHost(hosts[0]?.name ?? '');
    expect(host.ref).toEqual(hosts[0]?.ref);
  });

  it('pages through RetrievePropertiesEx results with ContinueRetrievePropertiesEx', async () => {
    const paged = await connect(info, name, { pageSize: 1 });
    try {
      const [one, all] = await Promise.all([paged.inventory.listVms(), client.inventory.listVms()]);
      expect(all.length).toBeGreaterThan(1);
      expect(one.map((v) => v.ref.value).sort()).toEqual(all.map((v) => v.ref.value).sort());
    } finally {
      await paged.close();
    }
  });

  it('finds a VM by name, inventory path, moref and instance UUID', async () => {
    const byName = await client.inventory.findVm({ name: sourceVm });
    const [dc] = await client.inventory.listDatacenters();
    const byPath = await client.inventory.findVm({ inventoryPath: `${dc?.path}/vm/${sourceVm}` });
    const byRef = await client.inventory.findVm({ ref: byName.ref });
    expect(byPath.ref).toEqual(byName.ref);
    expect(byRef.name).toBe(sourceVm);
    if (source.instanceUuid !== undefined) {
      expect((await client.inventory.findVm({ instanceUuid: source.instanceUuid })).ref).toEqual(byName.ref);
    }
  });

  it('throws NotFoundError naming the VM for an unknown name, path, moref or UUID', async () => {
    await expect(client.inventory.findVm({ name: 'no-such-vm' })).rejects.toThrow(NotFoundError);
    await expect(client.inventory.findVm({ name: 'no-such-vm' })).rejects.toThrow(
      /findVm on name "no-such-vm".*no VirtualMachine/,
    );
    await expect(client.inventory.findVm({ inventoryPath: 'nowhere/vm/x' })).rejects.toThrow(NotFoundError);
    const err = await client.inventory
      .findVm({ ref: { type: 'VirtualMachine', value: 'vm-999999' } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toContain('VirtualMachine:vm-999999');
    expect(err.message).toContain(client.endpoint);
    await expect(
      client.inventory.findVm({ instanceUuid: '00000000-0000-0000-0000-000000000000' }),
    ).rejects.toThrow(NotFoundError);
  });

  it('reads the planner facts of a VM, its host and datastore', async () => {
    expect(source.name).toBe(sourceVm);
    expect(source.memoryMB).toBeGreaterThan(0);
    expect(source.numCpu).toBeGreaterThan(0);
    expect(source.vmxPath).toMatch(/^\[[^\]]+\] .+\.vmx$/);
    expect(source.files.some((f) => f.type === 'config')).toBe(true);
    expect(source.disks.length).toBeGreaterThan(0);
    const disk = source.disks[0];
    expect(disk?.capacityBytes).toBeGreaterThan(0);
    expect(disk?.chain[0]?.fileName).toMatch(/\.vmdk$/);
    expect(source.files.map((f) => f.name)).toContain(disk?.chain[0]?.fileName);
    expect(source.guestHeartbeat).toBeDefined();
    expect(source.host).toBeDefined();
    const host = await client.facts.host(source.host as MoRef);
    expect(host.cpuVendor).toBe('intel');
    expect(host.cpuFeatures.map((f) => f.key)).toContain('cpuid.SSE42');
    expect(host.datastoreSystem?.type).toBe('HostDatastoreSystem');
    if (client.isVCenter) expect(host.vmotionSupported && host.storageVMotionSupported).toBe(true);
    const ds = await client.facts.datastore(source.datastores[0] as MoRef);
    expect(ds.accessible).toBe(true);
    expect(ds.freeBytes).toBeGreaterThan(0);
    expect(ds.capacityBytes).toBeGreaterThanOrEqual(ds.freeBytes);
    expect(ds.browser?.type).toBe('HostDatastoreBrowser');
    expect(ds.datacenter?.path).toBeTruthy();
    expect(ds.hosts.some((m) => m.accessible && m.mounted)).toBe(true);
  });

  it('reads the CPU features a running VM requires', async () => {
    const running = (await client.inventory.listVms()).find((v) => v.powerState === 'poweredOn');
    expect(running).toBeDefined();
    const facts = await client.facts.vm(running?.ref as MoRef);
    expect(facts.cpuRequirements.length).toBeGreaterThan(0);
  });

  describe('files', () => {
    let base: string;
    let dsName: string;

    beforeAll(() => {
      dsName = parseDatastorePath(source.vmxPath ?? '').datastore;
      base = `[${dsName}] ${scratchName('qm files (ü) [x]')}`;
    });

    afterAll(async () => {
      await client.files.delete(base).catch(() => undefined);
    });

    it('creates folders, writes, lists, stats, reads ranges and deletes names with odd characters', async () => {
      await client.files.mkdir(`${base}/sub dir (2)/日本`);
      const [dc] = await client.inventory.listDatacenters();
      await expect(
        client.datastores.makeDirectory(`${base}/sub dir (2)`, { datacenter: dc?.ref, createParents: false }),
      ).rejects.toThrow(FileAlreadyExistsError);
      const file = `${base}/sub dir (2)/日本/a [b] (c) ñ.txt`;
      const body = Buffer.from('0123456789abcdefghij'.repeat(1000));
      await client.files.put(file, Readable.from([body.subarray(0, 7000), body.subarray(7000)]), body.length);
      const listed = await client.files.list(`${base}/sub dir (2)/日本`);
      expect(listed.map((f) => [f.name, f.kind, f.size])).toEqual([['a [b] (c) ñ.txt', 'file', body.length]]);
      const folders = await client.files.list(`${base}/sub dir (2)`);
      expect(folders.map((f) => [f.name, f.kind])).toEqual([['日本', 'folder']]);
      expect((await client.files.stat(file)).path).toBe(file);
      expect(await client.files.exists(`${base}/nothing.txt`)).toBe(false);
      const whole = await client.files.get(file);
      expect(whole.status).toBe(200);
      expect((await readAll(whole.stream)).equals(body)).toBe(true);
      const part = await client.files.get(file, { range: { start: 10, end: 19 } });
      expect(part.status).toBe(206);
      expect(part.totalSize).toBe(body.length);
      expect((await readAll(part.stream)).toString()).toBe('abcdefghij');
      await client.files.delete(`${base}/sub dir (2)`);
      await expect(client.files.stat(file)).rejects.toThrow(FileNotFoundError);
    });

    it('refuses a stream shorter than the announced length', async () => {
      await client.files.mkdir(base).catch(() => undefined);
      await expect(
        client.files.put(`${base}/short.bin`, Readable.from([Buffer.alloc(10)]), 20),
      ).rejects.toThrow(/ended after 10 of the announced 20 bytes/);
    });

    it('throws FileNotFoundError naming the path for a missing file or folder', async () => {
      const missing = `[${dsName}] no-such-folder/file.vmdk`;
      const err = await client.files.get(missing).catch((e) => e);
      expect(err).toBeInstanceOf(FileNotFoundError);
      expect(err.message).toContain(missing);
      await expect(client.files.stat(missing)).rejects.toThrow(FileNotFoundError);
      await expect(client.files.list(`[${dsName}] no-such-folder`)).rejects.toThrow(FileNotFoundError);
      await expect(client.files.delete(missing)).rejects.toThrow(FileNotFoundError);
    });

    it('refreshes a datastore and refuses to unmount one that a VM uses', async () => {
      await client.datastores.refresh(source.datastores[0] as MoRef);
      const host = await client.facts.host(source.host as MoRef);
      const err = await client.datastores
        .remove(host.datastoreSystem as MoRef, source.datastores[0] as MoRef)
        .catch((e) => e);
      expect(err).toBeInstanceOf(VSphereFaultError);
      expect(err.fault.type).toBe('ResourceInUse');
      expect(err.message).toContain('RemoveDatastore on HostDatastoreSystem:');
    });
  });

  describe('a scratch VM', () => {
    let vmName: string;
    let folderPath: string;
    let vm: MoRef;

    beforeAll(async () => {
      vmName = scratchName('qm-vsphere');
      const vmx = parseDatastorePath(source.vmxPath ?? '');
      folderPath = `[${vmx.datastore}] ${vmName}`;
      await client.files.mkdir(folderPath);
      const srcDir = `[${vmx.datastore}] ${vmx.path.slice(0, vmx.path.lastIndexOf('/'))}`;
      for (const f of await client.files.list(srcDir)) {
        if (f.kind === 'file' && !/\.(vmss|vmsn|vmem)$/.test(f.name)) {
          await copyFile(client, f.path, client, `${folderPath}/${f.name}`);
        }
      }
    });

    afterAll(async () => {
      if (vm !== undefined) {
        const facts = await client.facts.vm(vm).catch(() => undefined);
        if (facts?.powerState === 'poweredOn') await client.vms.powerOff(vm).catch(() => undefined);
        if (facts !== undefined) await client.vms.destroy(vm).catch(() => undefined);
      }
      await client.files.delete(folderPath).catch(() => undefined);
    });

    it('registers the copy under a new name', async () => {
      const [dc] = await client.inventory.listDatacenters();
      vm = await client.vms.register({
        folder: dc?.vmFolder as MoRef,
        vmxPath: `${folderPath}/${parseDatastorePath(source.vmxPath ?? '')
          .path.split('/')
          .pop()}`,
        name: vmName,
        pool: source.resourcePool,
        host: client.isVCenter ? source.host : undefined,
      });
      const facts = await client.facts.vm(vm);
      expect(facts.name).toBe(vmName);
      expect(facts.powerState).toBe('poweredOff');
      expect(facts.vmxPath?.startsWith(folderPath)).toBe(true);
    });

    it('powers on with progress, and refuses a second power-on with InvalidPowerStateError', async () => {
      const seen: TaskProgress[] = [];
      await client.vms.powerOn(vm, {}, { onProgress: (p) => seen.push(p) });
      expect(seen.at(-1)?.state).toBe('success');
      expect((await client.facts.vm(vm)).powerState).toBe('poweredOn');
      const err = await client.vms.powerOn(vm).catch((e) => e);
      expect(err).toBeInstanceOf(InvalidPowerStateError);
      expect(err.existingState).toBe('poweredOn');
      expect(err.message).toContain('PowerOnVM_Task');
      expect(err.message).toContain(`VirtualMachine:${vm.value}`);
      expect(err.message).toContain('InvalidPowerState');
    });

    it('waits by polling too', async () => {
      await client.vms.suspend(vm, { strategy: 'poll' });
      expect((await client.facts.vm(vm)).powerState).toBe('suspended');
      await client.vms.powerOn(vm, {}, { strategy: 'poll' });
      expect((await client.facts.vm(vm)).powerState).toBe('poweredOn');
    });

    it('stops waiting when aborted', async () => {
      const control = controlOf(info, name);
      // A wait far longer than any test's timeout: only the abort can end it.
      await control.addFault({ kind: 'latency', method: 'WaitForUpdatesEx', ms: 600_000, count: 1 });
      try {
        const snapshot = client.vms.createSnapshot(
          vm,
          { name: 'aborted-wait' },
          { signal: AbortSignal.timeout(300) },
        );
        await expect(snapshot).rejects.toMatchObject({ name: 'TimeoutError' });
      } finally {
        await control.clearFaults();
      }
      // The task itself ran on: remove what it made.
      await client.vms.removeAllSnapshots(vm);
    });

    it('snapshots, removes snapshots, consolidates', async () => {
      const s1 = await client.vms.createSnapshot(vm, { name: 'qm-1', description: 'first' });
      const s2 = await client.vms.createSnapshot(vm, { name: 'qm-2' });
      let facts = await client.facts.vm(vm);
      expect(facts.snapshots[0]?.name).toBe('qm-1');
      expect(facts.snapshots[0]?.children[0]?.ref).toEqual(s2);
      expect(facts.currentSnapshot).toEqual(s2);
      expect(facts.disks[0]?.chain.length).toBe(3);
      await client.vms.removeSnapshot(s2);
      facts = await client.facts.vm(vm);
      expect(facts.snapshots.map((s) => s.ref)).toEqual([s1]);
      await client.vms.removeAllSnapshots(vm);
      facts = await client.facts.vm(vm);
      expect(facts.snapshots).toEqual([]);
      expect(facts.disks[0]?.chain.length).toBe(1);
      await client.vms.consolidateDisks(vm);
      expect((await client.facts.vm(vm)).consolidationNeeded).toBe(false);
    });

    it.each([
      ['TaskInProgress', TaskInProgressError],
      ['NoDiskSpace', InsufficientResourcesError],
      ['InsufficientResourcesFault', InsufficientResourcesError],
      ['InvalidState', InvalidStateError],
      ['MethodNotFound', MethodNotFoundError],
      ['InvalidArgument', InvalidArgumentError],
      ['AlreadyExists', AlreadyExistsError],
      ['FileAlreadyExists', FileAlreadyExistsError],
      ['NotAuthenticated', SessionExpiredError],
      ['HostConfigFault', VSphereFaultError],
    ] as const)('turns a %s fault from the server into its error class', async (fault, Class) => {
      const control = controlOf(info, name);
      // NotAuthenticated makes the client log in again and retry once: inject it twice.
      await control.addFault({ kind: 'soap', method: 'CreateSnapshot_Task', fault, count: 2 });
      try {
        const err = await client.vms.createSnapshot(vm, { name: 'x' }).catch((e) => e);
        expect(err).toBeInstanceOf(Class);
        expect(err.name).toBe(Class.name);
        expect(err.fault.type).toBe(fault);
        expect(err.message).toContain(`CreateSnapshot_Task on VirtualMachine:${vm.value}`);
        expect(err.message).toContain(fault);
      } finally {
        await control.clearFaults();
      }
    });

    it('renames through ReconfigVM_Task and Rename_Task', async () => {
      await client.vms.reconfigureName(vm, `${vmName}-r1`);
      expect((await client.facts.vm(vm)).name).toBe(`${vmName}-r1`);
      await client.vms.rename(vm, `${vmName} (r2)`);
      expect((await client.inventory.findVm({ name: `${vmName} (r2)` })).ref).toEqual(vm);
      await client.vms.rename(vm, vmName);
    });

    it('relocates to the other host and datastore', async () => {
      if (!client.isVCenter) {
        // A standalone host cannot move a VM to another host; the lab has one host per ESXi.
        return;
      }
      const cluster = (await client.inventory.listClusters())[0];
      const target = cluster?.hosts.find((h) => h.value !== source.host?.value) as MoRef;
      const targetDs = (await client.facts.host(target)).datastores.find(
        (d) => !source.datastores.some((s) => s.value === d.value) && d.value !== undefined,
      );
      await client.vms.relocate(vm, { host: target, datastore: targetDs, pool: cluster?.resourcePool });
      const facts = await client.facts.vm(vm);
      expect(facts.host).toEqual(target);
      expect(facts.datastores.map((d) => d.value)).toContain(targetDs?.value);
      folderPath = facts.vmxPath?.slice(0, facts.vmxPath.lastIndexOf('/')) ?? folderPath;
    });

    it('powers off hard, and shuts the guest down', async () => {
      await client.vms.powerOff(vm);
      expect((await client.facts.vm(vm)).powerState).toBe('poweredOff');
      await expect(client.vms.powerOff(vm)).rejects.toThrow(InvalidPowerStateError);
      await client.vms.powerOn(vm);
      await client.vms.shutdownGuest(vm);
      for (let i = 0; i < 100 && (await client.facts.vm(vm)).powerState !== 'poweredOff'; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await client.facts.vm(vm)).powerState).toBe('poweredOff');
    });

    it('unregisters, registers again, and destroys with the files', async () => {
      const vmx = (await client.facts.vm(vm)).vmxPath as string;
      const pool = (await client.facts.vm(vm)).resourcePool;
      await client.vms.unregister(vm);
      await expect(client.inventory.findVm({ name: vmName })).rejects.toThrow(NotFoundError);
      expect(await client.files.exists(vmx)).toBe(true);
      const [dc] = await client.inventory.listDatacenters();
      vm = await client.vms.register({ folder: dc?.vmFolder as MoRef, vmxPath: vmx, name: vmName, pool });
      expect((await client.inventory.findVm({ name: vmName })).ref).toEqual(vm);
      await client.vms.destroy(vm);
      expect((await client.inventory.listVms()).map((v) => v.ref.value)).not.toContain(vm.value);
      await expect(client.inventory.findVm({ name: vmName })).rejects.toThrow(NotFoundError);
      expect(await client.files.exists(vmx)).toBe(false);
    });
  });
});

describe('connecting', () => {
  it('logs out on close, after which calls fail', async () => {
    const c = await connect(info, 'esx-a');
    await c.close();
    await expect(c.inventory.listHosts()).rejects.toThrow(/client is closed/);
    await c.close();
  });

  it('refuses a wrong password with AuthenticationError', async () => {
    const err = await connect(info, 'esx-a', { password: 'wrong password' }).catch((e) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err.fault.type).toBe('InvalidLogin');
    expect(err.message).toContain('Login on user root');
    expect(err.message).toContain(endpoint(info, 'esx-a').url);
  });

  it('refuses a wrong thumbprint before sending anything, naming both thumbprints', async () => {
    const a = endpoint(info, 'esx-a');
    const b = endpoint(info, 'esx-b');
    const control = controlOf(info, 'esx-a');
    await control.clearCalls();
    const err = await connect(info, 'esx-a', { tls: { thumbprint: b.thumbprint } }).catch((e) => e);
    expect(err).toBeInstanceOf(ThumbprintMismatchError);
    expect(err.expected).toBe(b.thumbprint.toUpperCase());
    expect(err.actual).toBe(a.thumbprint.toUpperCase());
    expect(err.message).toContain(b.thumbprint.toUpperCase());
    expect(err.message).toContain(a.thumbprint.toUpperCase());
  });

  it('verifies against a CA file, and rejects an unknown certificate by default', async () => {
    const ep = endpoint(info, 'esx-b');
    const withCa = await connect(info, 'esx-b', { tls: { caFile: ep.certFile } });
    expect(withCa.about.apiType).toBe('HostAgent');
    await withCa.close();
    await expect(connect(info, 'esx-b', { tls: {} })).rejects.toMatchObject({ name: 'ConnectionError' });
  });

  it('accepts any certificate only when asked, with a warning', async () => {
    const warnings: string[] = [];
    const ep = endpoint(info, 'esx-b');
    const c = await connect(info, 'esx-b', {
      password: passwordOf(ep),
      tls: { insecure: true },
      logger: { warn: (m) => warnings.push(m) },
    });
    await c.close();
    expect(warnings.join('\n')).toMatch(/TLS verification is OFF/);
  });
});
