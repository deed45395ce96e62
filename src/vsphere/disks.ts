/**
 * Virtual disks over SOAP: the allocated areas of a snapshotted disk (changed block tracking) and
 * server-side disk conversion (VirtualDiskManager). The thin-disk copy (./transfer/thin.ts) uses them.
 */
import { at, boxed, list, num, ref, str, toSoapRef, xsiType } from './convert';
import type { DatastorePath } from './datastore-path';
import { formatDatastorePath } from './datastore-path';
import { VSphereError } from './errors';
import { retrieveObjects } from './property-collector';
import type { Session } from './session';
import type { Tasks, TaskWaitOptions } from './tasks';
import type { MoRef } from './types';

/** A byte range of a disk. */
export interface DiskArea {
  /** Offset in bytes. */
  readonly start: number;
  /** Length in bytes. */
  readonly length: number;
}

/** Provisioning of a disk as VirtualDiskManager names it. */
export type VirtualDiskType = 'thin' | 'preallocated' | 'eagerZeroedThick';

/** Options of `copyVirtualDisk`. */
export interface CopyVirtualDiskOptions extends Omit<TaskWaitOptions, 'method'> {
  /** Provisioning of the copy. */
  readonly diskType: VirtualDiskType;
  /** Adapter type recorded in the copy's descriptor. Default 'lsiLogic'. */
  readonly adapterType?: string | undefined;
  /** The datacenter of both paths: required by a vCenter, ignored by a standalone host. Default: none. */
  readonly datacenter?: MoRef | undefined;
}

/** Disk operations of one endpoint. */
export class VirtualDisks {
  readonly #session: Session;
  readonly #tasks: Tasks;

  /** @internal */
  constructor(session: Session, tasks: Tasks) {
    this.#session = session;
    this.#tasks = tasks;
  }

  /**
   * The allocated areas of a VM's disk as frozen by `snapshot` (QueryChangedDiskAreas with change
   * id `*`), in order, for the whole capacity. Needs change tracking to have been on when the
   * snapshot was taken; the endpoint's fault (a FileFault) says so otherwise.
   */
  async allocatedAreas(
    vm: MoRef,
    snapshot: MoRef,
    deviceKey: number,
    capacityBytes: number,
  ): Promise<DiskArea[]> {
    return this.changedAreas(vm, snapshot, deviceKey, capacityBytes, '*');
  }

  /**
   * The areas of a VM's disk written between the point `changeId` names (a changeId of an earlier
   * snapshot's disk, `snapshotChangeIds`) and `snapshot` (QueryChangedDiskAreas), in order, for the whole
   * capacity; `*` gives the allocated areas. A changeId from before change tracking was last switched
   * on answers a FileFault (VDDK Programming Guide, "Changed Block Tracking on Virtual Disks").
   */
  async changedAreas(
    vm: MoRef,
    snapshot: MoRef,
    deviceKey: number,
    capacityBytes: number,
    changeId: string,
  ): Promise<DiskArea[]> {
    const areas: DiskArea[] = [];
    // A host answers for a part of the disk at a time: ask again from where its answer ended.
    for (let offset = 0; offset < capacityBytes; ) {
      const info = await this.#session.call(
        'QueryChangedDiskAreas',
        vm,
        { snapshot: toSoapRef(snapshot), deviceKey, startOffset: offset, changeId },
        { object: `${vm.value} disk ${deviceKey}` },
      );
      const start = num(at(info, 'startOffset')) ?? offset;
      const length = num(at(info, 'length')) ?? 0;
      for (const a of list(at(info, 'changedArea'))) {
        const s = num(at(a, 'start'));
        const n = num(at(a, 'length'));
        if (s !== undefined && n !== undefined && n > 0) areas.push({ start: s, length: n });
      }
      if (length <= 0) {
        throw new VSphereError(
          { endpoint: this.#session.endpoint, method: 'QueryChangedDiskAreas', object: vm.value },
          `the answer for offset ${offset} covers no bytes`,
        );
      }
      offset = start + length;
    }
    return areas;
  }

  /**
   * The changeId and capacity of each disk a snapshot holds (the snapshot's
   * `config.hardware.device[].backing.changeId`, set when change tracking was on at the snapshot):
   * the point a later QueryChangedDiskAreas can count changes from. Disks without one are left out.
   */
  async snapshotChangeIds(
    snapshot: MoRef,
  ): Promise<{ key: number; changeId: string; capacityBytes: number }[]> {
    const [o] = await retrieveObjects(
      this.#session,
      'VirtualMachineSnapshot',
      [snapshot],
      ['config.hardware.device'],
    );
    return boxed(o?.props.get('config.hardware.device')).flatMap((d) => {
      const key = num(at(d, 'key'));
      const changeId = str(at(d, 'backing.changeId'));
      const capacityBytes = num(at(d, 'capacityInBytes')) ?? (num(at(d, 'capacityInKB')) ?? 0) * 1024;
      return xsiType(d) === 'VirtualDisk' && key !== undefined && changeId
        ? [{ key, changeId, capacityBytes }]
        : [];
    });
  }

  /**
   * Copies a disk on one endpoint, converting it to `diskType` (VirtualDiskManager.CopyVirtualDisk_Task):
   * `dest` is the new descriptor, its extent `<dest>-flat.vmdk`. Also imports a hosted (sparse) disk
   * uploaded to a datastore into a disk a host can run. Throws FileAlreadyExistsError when `dest` exists.
   */
  async copyVirtualDisk(
    source: DatastorePath | string,
    dest: DatastorePath | string,
    options: CopyVirtualDiskOptions,
  ): Promise<void> {
    const vdm = this.#session.refs.virtualDiskManager;
    if (vdm === undefined) throw new TypeError('endpoint has no VirtualDiskManager');
    const sourceName = typeof source === 'string' ? source : formatDatastorePath(source);
    const destName = typeof dest === 'string' ? dest : formatDatastorePath(dest);
    const dc = options.datacenter === undefined ? undefined : toSoapRef(options.datacenter);
    // Field order is vim25's CopyVirtualDiskRequestType order.
    const args: Record<string, unknown> = { sourceName };
    if (dc !== undefined) args.sourceDatacenter = dc;
    args.destName = destName;
    if (dc !== undefined) args.destDatacenter = dc;
    args.destSpec = { diskType: options.diskType, adapterType: options.adapterType ?? 'lsiLogic' };
    const task = ref(
      await this.#session.call('CopyVirtualDisk_Task', vdm, args, {
        object: destName,
        signal: options.signal,
      }),
    );
    if (task !== undefined) await this.#tasks.wait(task, { ...options, method: 'CopyVirtualDisk_Task' });
  }

  /**
   * Turns changed block tracking on (ReconfigVM_Task changeTrackingEnabled). It takes effect at the
   * VM's next snapshot; vSphere does not let it start on a VM that already has snapshots.
   */
  async enableChangeTracking(vm: MoRef, options: Omit<TaskWaitOptions, 'method'> = {}): Promise<void> {
    await this.setChangeTracking(vm, true, options);
  }

  /**
   * Turns changed block tracking on or off. Off discards what it tracked: a changeId from before then
   * answers a FileFault (VDDK Programming Guide, "Changed Block Tracking on Virtual Disks").
   */
  async setChangeTracking(
    vm: MoRef,
    enabled: boolean,
    options: Omit<TaskWaitOptions, 'method'> = {},
  ): Promise<void> {
    const task = ref(
      await this.#session.call(
        'ReconfigVM_Task',
        vm,
        { spec: { changeTrackingEnabled: enabled } },
        { signal: options.signal },
      ),
    );
    if (task !== undefined) await this.#tasks.wait(task, { ...options, method: 'ReconfigVM_Task' });
  }
}
