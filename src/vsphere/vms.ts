/**
 * VM mutations used by the migration workflow. Every task-backed method starts the task and waits
 * for it (see ./tasks), so it resolves when the change is done and rejects with the typed fault.
 */
import { ref, refLabel, str, toSoapRef } from './convert';
import { InvalidStateError, ProtocolError, VSphereFaultError } from './errors';
import { retrieveObjects } from './property-collector';
import type { Session } from './session';
import type { Tasks, TaskWaitOptions } from './tasks';
import type { MoRef, TestNetwork, VmNic } from './types';

/** Options of every task-backed mutation: progress, cancellation of the wait, wait strategy. */
export type MutationOptions = Omit<TaskWaitOptions, 'method'>;

/** Arguments of `register`. */
export interface RegisterVmSpec {
  /** VM folder to register into. */
  readonly folder: MoRef;
  /** Datastore path of the .vmx, `[ds] folder/vm.vmx`. */
  readonly vmxPath: string;
  /** Inventory name. Default: the name in the .vmx. */
  readonly name?: string | undefined;
  /** Resource pool; required by a real vCenter for VMs (not templates). */
  readonly pool?: MoRef | undefined;
  /** Host to register on. Default: chosen by vSphere from the pool. */
  readonly host?: MoRef | undefined;
  /** Register as a template. Default: false. */
  readonly asTemplate?: boolean | undefined;
}

/** Arguments of `createSnapshot`. */
export interface SnapshotSpec {
  readonly name: string;
  /** Default: none. */
  readonly description?: string | undefined;
  /** Include the VM's memory (a running VM's RAM goes to a .vmem). Default: false. */
  readonly memory?: boolean | undefined;
  /** Quiesce the guest file system through VMware Tools. Default: false. */
  readonly quiesce?: boolean | undefined;
}

/** Arguments of `relocate` (vMotion / Storage vMotion / both). */
export interface RelocateSpec {
  readonly folder?: MoRef | undefined;
  /** Target datastore for the VM's files (and disks without an own locator). */
  readonly datastore?: MoRef | undefined;
  readonly pool?: MoRef | undefined;
  readonly host?: MoRef | undefined;
  /**
   * Per-disk targets; `thinProvisioned` (and `eagerlyScrub`) set the provisioning the disk gets as it
   * moves (a locator's `diskBackingInfo`). Default: each disk keeps its provisioning.
   */
  readonly disks?:
    | readonly {
        readonly diskKey: number;
        readonly datastore: MoRef;
        readonly thinProvisioned?: boolean | undefined;
        readonly eagerlyScrub?: boolean | undefined;
      }[]
    | undefined;
  /** `defaultPriority` | `highPriority` | `lowPriority`. Default: defaultPriority. */
  readonly priority?: string | undefined;
}

/** VM operations. */
export class Vms {
  readonly #session: Session;
  readonly #tasks: Tasks;

  /** @internal */
  constructor(session: Session, tasks: Tasks) {
    this.#session = session;
    this.#tasks = tasks;
  }

  /** Registers an existing .vmx (RegisterVM_Task) and returns the new VM's moref. */
  async register(spec: RegisterVmSpec, options: MutationOptions = {}): Promise<MoRef> {
    const args: Record<string, unknown> = { path: spec.vmxPath };
    if (spec.name !== undefined) args.name = spec.name;
    args.asTemplate = spec.asTemplate ?? false;
    if (spec.pool !== undefined) args.pool = toSoapRef(spec.pool);
    if (spec.host !== undefined) args.host = toSoapRef(spec.host);
    const result = await this.#run('RegisterVM_Task', spec.folder, args, options, spec.vmxPath);
    const vm = ref(result);
    if (vm === undefined) {
      throw new ProtocolError(
        { endpoint: this.#session.endpoint, method: 'RegisterVM_Task', object: spec.vmxPath },
        'task succeeded without a VM reference',
      );
    }
    return vm;
  }

  /** Removes the VM from the inventory, keeping its files (UnregisterVM). */
  async unregister(vm: MoRef): Promise<void> {
    await this.#session.call('UnregisterVM', vm);
  }

  /** Deletes a managed entity; for a VM, its files too (Destroy_Task). */
  async destroy(entity: MoRef, options: MutationOptions = {}): Promise<void> {
    await this.#run('Destroy_Task', entity, {}, options);
  }

  /** Takes a snapshot (CreateSnapshot_Task) and returns its moref. */
  async createSnapshot(vm: MoRef, spec: SnapshotSpec, options: MutationOptions = {}): Promise<MoRef> {
    const args: Record<string, unknown> = { name: spec.name };
    if (spec.description !== undefined) args.description = spec.description;
    args.memory = spec.memory ?? false;
    args.quiesce = spec.quiesce ?? false;
    const snapshot = ref(await this.#run('CreateSnapshot_Task', vm, args, options));
    if (snapshot === undefined) {
      throw new ProtocolError(
        { endpoint: this.#session.endpoint, method: 'CreateSnapshot_Task', object: refLabel(vm) },
        'task succeeded without a snapshot reference',
      );
    }
    return snapshot;
  }

  /** Deletes one snapshot, merging its data into the parent (RemoveSnapshot_Task). `removeChildren` default false, `consolidate` default true. */
  async removeSnapshot(
    snapshot: MoRef,
    opts: { readonly removeChildren?: boolean; readonly consolidate?: boolean } = {},
    options: MutationOptions = {},
  ): Promise<void> {
    await this.#run(
      'RemoveSnapshot_Task',
      snapshot,
      { removeChildren: opts.removeChildren ?? false, consolidate: opts.consolidate ?? true },
      options,
    );
  }

  /** Deletes every snapshot of the VM (RemoveAllSnapshots_Task). `consolidate` default true. */
  async removeAllSnapshots(
    vm: MoRef,
    opts: { readonly consolidate?: boolean } = {},
    options: MutationOptions = {},
  ): Promise<void> {
    await this.#run('RemoveAllSnapshots_Task', vm, { consolidate: opts.consolidate ?? true }, options);
  }

  /** Merges leftover delta disks into their parents (ConsolidateVMDisks_Task). */
  async consolidateDisks(vm: MoRef, options: MutationOptions = {}): Promise<void> {
    await this.#run('ConsolidateVMDisks_Task', vm, {}, options);
  }

  /** Powers on, or resumes a suspended VM (PowerOnVM_Task). `host` only on a vCenter; default: the VM's host. */
  async powerOn(
    vm: MoRef,
    opts: { readonly host?: MoRef } = {},
    options: MutationOptions = {},
  ): Promise<void> {
    await this.#run(
      'PowerOnVM_Task',
      vm,
      opts.host === undefined ? {} : { host: toSoapRef(opts.host) },
      options,
    );
  }

  /** Hard power-off (PowerOffVM_Task). */
  async powerOff(vm: MoRef, options: MutationOptions = {}): Promise<void> {
    await this.#run('PowerOffVM_Task', vm, {}, options);
  }

  /** Suspends, writing memory to the VM's folder (SuspendVM_Task). */
  async suspend(vm: MoRef, options: MutationOptions = {}): Promise<void> {
    await this.#run('SuspendVM_Task', vm, {}, options);
  }

  /** Asks VMware Tools to shut the guest down; returns at once (ShutdownGuest has no task): watch the power state. */
  async shutdownGuest(vm: MoRef): Promise<void> {
    await this.#session.call('ShutdownGuest', vm);
  }

  /**
   * Upgrades the VM's virtual hardware to the newest version its host supports (UpgradeVM_Task); the
   * VM must be powered off. Says whether anything changed, with the versions before and after.
   */
  async upgradeHardware(
    vm: MoRef,
    options: MutationOptions = {},
  ): Promise<{ upgraded: boolean; detail: string }> {
    const version = async () => {
      const [o] = await retrieveObjects(this.#session, 'VirtualMachine', [vm], ['config.version']);
      return str(o?.props.get('config.version')) ?? 'unknown';
    };
    const before = await version();
    try {
      await this.#run('UpgradeVM_Task', vm, {}, options);
    } catch (error) {
      if (error instanceof VSphereFaultError && error.fault.type === 'AlreadyUpgraded')
        return { upgraded: false, detail: `already ${before}, the newest its host supports` };
      // An optional upgrade the host refuses for the VM's state (some hosts say "is latest version" so)
      // leaves the VM as it was: reported, not fatal, and not worth a retry.
      if (error instanceof InvalidStateError)
        return {
          upgraded: false,
          detail: `kept ${before}: the host refused the upgrade (${error.fault.message || error.fault.type})`,
        };
      throw error;
    }
    const after = await version();
    return after === before
      ? { upgraded: false, detail: `already ${before}, the newest its host supports` }
      : { upgraded: true, detail: `upgraded from ${before} to ${after}` };
  }

  /** Moves a VM to another host, pool, folder and/or datastore (RelocateVM_Task). */
  async relocate(vm: MoRef, spec: RelocateSpec, options: MutationOptions = {}): Promise<void> {
    // Field order is vim25's VirtualMachineRelocateSpec order; a real endpoint rejects any other.
    const s: Record<string, unknown> = {};
    if (spec.folder !== undefined) s.folder = toSoapRef(spec.folder);
    if (spec.datastore !== undefined) s.datastore = toSoapRef(spec.datastore);
    if (spec.pool !== undefined) s.pool = toSoapRef(spec.pool);
    if (spec.host !== undefined) s.host = toSoapRef(spec.host);
    if (spec.disks !== undefined && spec.disks.length > 0) {
      s.disk = spec.disks.map((d) => ({
        diskId: d.diskKey,
        datastore: toSoapRef(d.datastore),
        // A backing with only the provisioning set: the host converts the disk while it moves it.
        ...(d.thinProvisioned !== undefined
          ? {
              diskBackingInfo: {
                attributes: { xsi_type: { type: 'VirtualDiskFlatVer2BackingInfo', xmlns: 'urn:vim25' } },
                fileName: '',
                diskMode: 'persistent',
                thinProvisioned: d.thinProvisioned,
                ...(d.eagerlyScrub !== undefined ? { eagerlyScrub: d.eagerlyScrub } : {}),
              },
            }
          : {}),
      }));
    }
    const args: Record<string, unknown> = { spec: s };
    if (spec.priority !== undefined) args.priority = spec.priority;
    await this.#run('RelocateVM_Task', vm, args, options);
  }

  /** Renames a VM through its configuration (ReconfigVM_Task with spec.name). */
  async reconfigureName(vm: MoRef, newName: string, options: MutationOptions = {}): Promise<void> {
    await this.#run('ReconfigVM_Task', vm, { spec: { name: newName } }, options);
  }

  /**
   * Moves every network adapter of `nics` onto `network`, to connect when the VM powers on
   * (ReconfigVM_Task, one edit per adapter: its type, key, controller, unit and MAC address kept, the
   * backing a VirtualEthernetCardNetworkBackingInfo by name for a standard port group or a
   * VirtualEthernetCardDistributedVirtualPortBackingInfo by switch UUID and port group key for a
   * distributed one, connectable startConnected). Needs VirtualMachine.Config.EditDevice on the VM and
   * Network.Assign on the network.
   */
  async moveAdapters(
    vm: MoRef,
    nics: readonly VmNic[],
    network: TestNetwork,
    options: MutationOptions = {},
  ): Promise<void> {
    if (nics.length === 0) return;
    const { distributed } = network;
    const backing = distributed
      ? {
          attributes: {
            xsi_type: { type: 'VirtualEthernetCardDistributedVirtualPortBackingInfo', xmlns: 'urn:vim25' },
          },
          port: { switchUuid: distributed.switchUuid, portgroupKey: distributed.portgroupKey },
        }
      : {
          attributes: { xsi_type: { type: 'VirtualEthernetCardNetworkBackingInfo', xmlns: 'urn:vim25' } },
          deviceName: network.name,
          network: toSoapRef(network.ref),
        };
    const deviceChange = nics.map((nic) => ({
      operation: 'edit',
      device: {
        attributes: { xsi_type: { type: nic.type, xmlns: 'urn:vim25' } },
        key: nic.key,
        backing,
        connectable: { startConnected: true, allowGuestControl: true, connected: false },
        ...(nic.controllerKey !== undefined ? { controllerKey: nic.controllerKey } : {}),
        ...(nic.unitNumber !== undefined ? { unitNumber: nic.unitNumber } : {}),
        ...(nic.addressType !== undefined ? { addressType: nic.addressType } : {}),
        macAddress: nic.macAddress,
      },
    }));
    await this.#run('ReconfigVM_Task', vm, { spec: { deviceChange } }, options);
  }

  /** Renames any managed entity (Rename_Task). */
  async rename(entity: MoRef, newName: string, options: MutationOptions = {}): Promise<void> {
    await this.#run('Rename_Task', entity, { newName }, options);
  }

  async #run(
    method: string,
    target: MoRef,
    args: Record<string, unknown>,
    options: MutationOptions,
    object?: string,
  ): Promise<unknown> {
    const task = ref(await this.#session.call(method, target, args, { signal: options.signal, object }));
    if (task === undefined) {
      throw new ProtocolError(
        { endpoint: this.#session.endpoint, method, object: object ?? refLabel(target) },
        'no task returned',
      );
    }
    return this.#tasks.wait(task, { ...options, method });
  }
}
