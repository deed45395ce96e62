/**
 * What the switchover changes in the target's .vmx besides its paths: identity kept, and removable
 * media that would tie the target to the source's or the Instant Recovery datastore. Pure text edits
 * (the copy applies them on the fly), so they are tested without a host.
 *
 * `.vmx` lines are `key = "value"`; keys are case-insensitive for ESXi, so matching ignores case.
 */

/** The .vmx edits of a target, as data (they travel in an activity's input). */
export interface VmxEdit {
  /** Keys set to these values (the existing line replaced, else a line appended). */
  readonly set: readonly (readonly [string, string])[];
  /**
   * Datastores (names, or `/vmfs/volumes/<uuid>` URL paths) whose ISO images must not stay attached:
   * each CD/DVD drive backed by an ISO there becomes a disconnected client device.
   */
  readonly disconnectIsoOn: readonly string[];
  /**
   * A test migration's copy (options.test): every present network adapter gets
   * `ethernetN.startConnected = "FALSE"`, so it boots with no connected adapter
   * (VirtualDeviceConnectInfo.startConnected). Absent: adapters as on the source.
   */
  readonly disconnectNics?: boolean;
}

/** Identity: the target is the same VM moved, not a copy, so it keeps its BIOS UUID and MAC addresses. */
export const KEEP_IDENTITY: readonly (readonly [string, string])[] = [['uuid.action', 'keep']];

const LINE = /^\s*([A-Za-z0-9_.:-]+)\s*=\s*"(.*)"\s*$/;

/** A CD/DVD drive that the edit disconnected: its device (e.g. `ide1:0`) and the ISO it held. */
export interface DisconnectedMedia {
  device: string;
  iso: string;
}

/** Applies `edit` to the text of a .vmx; returns the new text and the drives it disconnected. */
export function editVmx(text: string, edit: VmxEdit): { text: string; disconnected: DisconnectedMedia[] } {
  const newline = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const values = new Map<string, string>();
  for (const line of lines) {
    const m = LINE.exec(line);
    if (m) values.set((m[1] as string).toLowerCase(), m[2] as string);
  }
  const changes = new Map<string, [string, string]>();
  for (const [key, value] of edit.set) changes.set(key.toLowerCase(), [key, value]);

  const disconnected: DisconnectedMedia[] = [];
  for (const [key, value] of values) {
    const device = /^((?:ide|sata|scsi)\d+:\d+)\.devicetype$/.exec(key)?.[1];
    if (!device || value.toLowerCase() !== 'cdrom-image') continue;
    const iso = values.get(`${device}.filename`) ?? '';
    if (!onDatastore(iso, edit.disconnectIsoOn)) continue;
    disconnected.push({ device, iso });
    // What vSphere writes for a "Client Device" CD/DVD drive that is not connected.
    for (const [k, v] of [
      [`${device}.deviceType`, 'atapi-cdrom'],
      [`${device}.fileName`, ''],
      [`${device}.clientDevice`, 'TRUE'],
      [`${device}.startConnected`, 'FALSE'],
    ] as const)
      changes.set(k.toLowerCase(), [k, v]);
  }

  if (edit.disconnectNics)
    for (const [key, value] of values) {
      const nic = /^(ethernet\d+)\.present$/.exec(key)?.[1];
      if (nic && value.toUpperCase() === 'TRUE') {
        const k = `${nic}.startConnected`;
        changes.set(k.toLowerCase(), [k, 'FALSE']);
      }
    }

  const out: string[] = [];
  const done = new Set<string>();
  for (const line of lines) {
    const m = LINE.exec(line);
    const change = m && changes.get((m[1] as string).toLowerCase());
    if (m && change) {
      out.push(`${m[1]} = "${change[1]}"`);
      done.add((m[1] as string).toLowerCase());
    } else out.push(line);
  }
  for (const [lower, [key, value]] of changes) if (!done.has(lower)) out.push(`${key} = "${value}"`);
  return { text: out.join(newline) + newline, disconnected };
}

/** Whether an ISO path (`/vmfs/volumes/<ds or uuid>/...` or `[ds] ...`) lies on one of `datastores`. */
function onDatastore(iso: string, datastores: readonly string[]): boolean {
  const bracket = /^\[([^\]]+)\]/.exec(iso)?.[1];
  const volume = /^\/vmfs\/volumes\/([^/]+)\//.exec(iso)?.[1];
  return datastores.some((ds) => {
    const name = ds.replace(/^\/vmfs\/volumes\//, '').replace(/\/$/, '');
    return name === bracket || name === volume;
  });
}
