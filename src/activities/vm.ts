/**
 * VM steps of a migration. Each is idempotent: run again after a crash between its effect and its
 * completion, it sees the effect and succeeds without doing it twice.
 */
import { Context } from '@temporalio/activity';
import type { DiskChain, VmFileRef } from '../planner/files';
import type { MoRef, PowerState, TestNetwork, VmFacts, VmNic, VSphereClient } from '../vsphere';
import { AlreadyExistsError, InvalidPowerStateError, NotFoundError } from '../vsphere';
import type { EndpointPool } from './endpoints';
import { HeartbeatTimeoutError } from './errors';

/** A VM on an endpoint. */
export interface VmOnEndpoint {
  endpoint: string;
  vm: MoRef;
}

/** A VM's state as the result reports it. */
export interface VmDescription {
  moref: string;
  name: string;
  powerState: PowerState;
  host: string;
  vmxPath: string;
  datastores: string[];
  snapshots: number;
  disks: { key: number; chain: string[] }[];
  guestHeartbeat: string;
}

/** Aborts the vSphere wait when Temporal cancels the activity (only inside an activity). */
function cancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** Runs `op` on a VM: true when it ran, false when the VM is gone already (an undo step run twice). */
async function unlessGone(op: () => Promise<unknown>): Promise<boolean> {
  try {
    await op();
    return true;
  } catch (error) {
    if (error instanceof NotFoundError) return false;
    throw error;
  }
}

function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // outside an activity (library use): nothing to report to
  }
}

async function findByVmx(client: VSphereClient, vmxPath: string): Promise<VmFacts | undefined> {
  const vms = await client.inventory.listVms();
  const facts = await client.facts.vms(vms.map((v) => v.ref));
  return facts.find((f) => f.vmxPath === vmxPath);
}

/** A VM's files and disk chains in the planner's terms. */
export function filesOf(vm: VmFacts): { files: VmFileRef[]; disks: DiskChain[] } {
  return {
    files: vm.files.map((f) => ({ name: f.name, type: f.type, size: f.size })),
    disks: vm.disks.map((d) => ({
      key: d.key,
      chain: d.chain.map((b) => b.fileName),
      layoutFiles: d.layoutFiles.map((level) => [...level]),
    })),
  };
}

/** The snapshot named `name` anywhere in a VM's snapshot tree. */
export function findSnapshot(tree: VmFacts['snapshots'], name: string): MoRef | undefined {
  for (const s of tree) {
    if (s.name === name) return s.ref;
    const child = findSnapshot(s.children, name);
    if (child) return child;
  }
  return undefined;
}

/** Builds the VM activities over the endpoint pool. */
export function createVmActivities(pool: EndpointPool) {
  const clientFor = (endpoint: string) => pool.clientFor(endpoint);
  const options = () => ({ signal: cancellation() });

  return {
    /** Takes the migration's snapshot, or finds the one an earlier attempt took. */
    async snapshotVm(input: VmOnEndpoint & { name: string; trackChanges?: boolean }): Promise<MoRef> {
      const client = await clientFor(input.endpoint);
      const facts = await client.facts.vm(input.vm);
      const existing = findSnapshot(facts.snapshots, input.name);
      if (existing) return existing;
      // Change tracking, switched on now, is in effect from this snapshot on: the copy can then ask for
      // the frozen disks' allocated areas and move only those (ARCHITECTURE.md, data path). vSphere
      // lets it start only on a VM without snapshots; with snapshots the disks are copied whole.
      // trackChanges false: a snapshot nothing is copied from (a test VM's), so no tracking is switched on.
      if (input.trackChanges !== false && !facts.changeTracking && facts.snapshots.length === 0) {
        await client.disks.enableChangeTracking(input.vm, options());
      }
      return client.vms.createSnapshot(
        input.vm,
        {
          name: input.name,
          description: 'quickmig: freezes the disks for the bulk copy; removed by the migration',
        },
        options(),
      );
    },

    /** Removes the named snapshot, merging its changes into the base; nothing to do when it is gone. */
    async removeSnapshot(input: VmOnEndpoint & { name: string }): Promise<boolean> {
      const client = await clientFor(input.endpoint);
      let snapshot: MoRef | undefined;
      try {
        snapshot = findSnapshot((await client.facts.vm(input.vm)).snapshots, input.name);
      } catch (error) {
        if (error instanceof NotFoundError) return false;
        throw error;
      }
      if (!snapshot) return false;
      await client.vms.removeSnapshot(snapshot, { consolidate: true }, options());
      return true;
    },

    /**
     * Brings the VM to a power state (poweredOn resumes a suspended VM) and returns when that happened,
     * as epoch milliseconds of this worker's clock: the switchover measures downtime between two of them.
     */
    async setPowerState(
      input: VmOnEndpoint & { state: PowerState },
    ): Promise<{ at: number; changed: boolean }> {
      const client = await clientFor(input.endpoint);
      // The task first, the state only when the host refuses it: this step is on the downtime path
      // (the stop and the start of every switchover), and reading the VM first costs a round trip.
      try {
        if (input.state === 'poweredOn') await client.vms.powerOn(input.vm, {}, options());
        else if (input.state === 'poweredOff') await client.vms.powerOff(input.vm, options());
        else await client.vms.suspend(input.vm, options());
      } catch (error) {
        // Already there (an earlier attempt got that far before its worker died): done, not changed.
        if (error instanceof InvalidPowerStateError) {
          const current = (await client.facts.vm(input.vm)).powerState;
          if (current === input.state) return { at: Date.now(), changed: false };
        }
        throw error;
      }
      return { at: Date.now(), changed: true };
    },

    /**
     * Moves every network adapter of a VM onto a port group (standard or distributed), to connect at
     * power-on (a test VM onto options.test.network). An adapter already there is left as it is, so a retry does nothing
     * twice. Returns every adapter now on the network.
     */
    async moveAdapters(
      input: VmOnEndpoint & { network: TestNetwork },
    ): Promise<{ label: string; macAddress: string }[]> {
      const client = await clientFor(input.endpoint);
      const { nics } = await client.facts.vm(input.vm);
      const key = input.network.distributed?.portgroupKey;
      const there = (n: VmNic) => (key ? n.portgroupKey === key : n.network === input.network.name);
      const move = nics.filter((n) => !there(n) || n.startConnected !== true);
      await client.vms.moveAdapters(input.vm, move, input.network, options());
      return nics.map((n) => ({ label: n.label ?? `adapter ${n.key}`, macAddress: n.macAddress }));
    },

    /** Registers a .vmx, or returns the VM an earlier attempt registered from it. */
    async registerVm(input: {
      endpoint: string;
      vmxPath: string;
      name: string;
      folder: MoRef;
      pool: MoRef;
      host: MoRef;
    }): Promise<MoRef> {
      const client = await clientFor(input.endpoint);
      // Registering first, looking only when the host refuses: on the downtime path, a look through
      // every VM of a busy host costs more than the registration itself.
      try {
        return await client.vms.register(
          {
            folder: input.folder,
            vmxPath: input.vmxPath,
            name: input.name,
            pool: input.pool,
            host: input.host,
          },
          options(),
        );
      } catch (error) {
        if (error instanceof AlreadyExistsError) {
          const existing = await findByVmx(client, input.vmxPath);
          if (existing) return existing.ref;
        }
        throw error;
      }
    },

    /** Unregisters the VM registered from a .vmx, keeping its files; nothing to do when none is. */
    async unregisterVmx(input: { endpoint: string; vmxPath: string }): Promise<boolean> {
      const client = await clientFor(input.endpoint);
      const existing = await findByVmx(client, input.vmxPath);
      if (!existing) return false;
      if (existing.powerState !== 'poweredOff') await client.vms.powerOff(existing.ref, options());
      await client.vms.unregister(existing.ref);
      return true;
    },

    /** Removes the VM from the inventory, keeping its files; nothing to do when it is gone. */
    async unregisterVm(input: VmOnEndpoint): Promise<boolean> {
      const client = await clientFor(input.endpoint);
      return unlessGone(() => client.vms.unregister(input.vm));
    },

    /** Deletes the VM and its files; nothing to do when it is gone. */
    async destroyVm(input: VmOnEndpoint): Promise<boolean> {
      const client = await clientFor(input.endpoint);
      return unlessGone(() => client.vms.destroy(input.vm, options()));
    },

    /** Merges every snapshot and leftover delta into the base disks, so no snapshot outlives the migration. */
    async consolidateVm(input: VmOnEndpoint): Promise<void> {
      const client = await clientFor(input.endpoint);
      const before = await client.facts.vm(input.vm);
      if (before.snapshots.length > 0)
        await client.vms.removeAllSnapshots(input.vm, { consolidate: true }, options());
      const after = await client.facts.vm(input.vm);
      if (after.consolidationNeeded || after.disks.some((d) => d.chain.length > 1)) {
        await client.vms.consolidateDisks(input.vm, options());
      }
    },

    /** Renames the VM in the inventory; nothing to do when it has the name already. */
    async renameVm(input: VmOnEndpoint & { name: string }): Promise<void> {
      const client = await clientFor(input.endpoint);
      if ((await client.facts.vm(input.vm)).name === input.name) return;
      await client.vms.rename(input.vm, input.name, options());
    },

    /** Waits until VMware Tools report a green guest heartbeat; heartbeats to Temporal meanwhile. */
    async waitForGuestHeartbeat(input: VmOnEndpoint & { timeoutMs: number }): Promise<void> {
      const client = await clientFor(input.endpoint);
      const deadline = Date.now() + input.timeoutMs;
      let status: string | undefined;
      while (Date.now() < deadline) {
        status = (await client.facts.vm(input.vm)).guestHeartbeat;
        if (status === 'green') return;
        heartbeat({ guestHeartbeat: status });
        await new Promise((resolve) => setTimeout(resolve, 1000));
        cancellation()?.throwIfAborted();
      }
      throw new HeartbeatTimeoutError(
        `the target VM reported no green guest heartbeat within ${input.timeoutMs} ms (last: ${status ?? 'none'})`,
      );
    },

    /** vMotion, Storage vMotion or both in one RelocateVM_Task, reporting the task's progress. */
    async relocateVm(
      input: VmOnEndpoint & {
        host?: MoRef;
        pool?: MoRef;
        datastore?: MoRef;
        disks?: { diskKey: number; datastore: MoRef }[];
        /** Provisioning of the moved disks. Default 'same'. */
        diskType?: 'same' | 'thin' | 'thick' | 'thick-eager';
      },
    ): Promise<void> {
      const client = await clientFor(input.endpoint);
      const vm = await client.facts.vm(input.vm);
      const diskType = input.diskType ?? 'same';
      // Another provisioning needs a locator with a backing for every disk, not only the relocated ones.
      const disks =
        diskType === 'same' || input.datastore === undefined
          ? input.disks
          : vm.disks.map((d) => ({
              diskKey: d.key,
              datastore:
                input.disks?.find((p) => p.diskKey === d.key)?.datastore ?? (input.datastore as MoRef),
              thinProvisioned: diskType === 'thin',
              eagerlyScrub: diskType === 'thick-eager',
            }));
      const onHost = !input.host || vm.host?.value === input.host.value;
      const onDatastores =
        !input.datastore ||
        (vm.datastores.length === 1 &&
          vm.datastores[0]?.value === input.datastore.value &&
          !input.disks?.length);
      if (onHost && onDatastores) return;
      await client.vms.relocate(
        input.vm,
        { host: input.host, pool: input.pool, datastore: input.datastore, disks },
        { ...options(), onProgress: (p) => heartbeat({ progress: p.progress ?? 0 }) },
      );
    },

    /** The VM as the result reports it. */
    async describeVm(input: VmOnEndpoint): Promise<VmDescription> {
      const client = await clientFor(input.endpoint);
      const vm = await client.facts.vm(input.vm);
      const host = vm.host ? await client.facts.host(vm.host) : undefined;
      const datastores = await client.facts.datastores(vm.datastores);
      return {
        moref: vm.ref.value,
        name: vm.name,
        powerState: vm.powerState,
        host: host?.name ?? '',
        vmxPath: vm.vmxPath ?? '',
        datastores: datastores.map((d) => d.name),
        snapshots: vm.snapshots.length,
        disks: vm.disks.map((d) => ({ key: d.key, chain: d.chain.map((b) => b.fileName) })),
        guestHeartbeat: vm.guestHeartbeat ?? 'gray',
      };
    },

    /** The VM's current files and disk chains (they change with snapshots and suspend). */
    async vmFiles(input: VmOnEndpoint): Promise<{ files: VmFileRef[]; disks: DiskChain[] }> {
      const client = await clientFor(input.endpoint);
      return filesOf(await client.facts.vm(input.vm));
    },
  };
}
